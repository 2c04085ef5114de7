"""The plugin contract: a plugin is a subclass of `Plugin`, registered by subclassing.

    class Motd(Plugin, name="motd", order=55):
        params = (Param("MOTD", help="text of /etc/motd"),)

        def applies(self, ctx: PluginContext) -> bool:
            return bool(ctx.text("MOTD"))

        def apply(self, ctx: PluginContext) -> None:
            ctx.write_file("/etc/motd", ctx.text("MOTD") + "\\n")

Plugins write only under `ctx.root` (through the context's helpers or
`ctx.path()`), and run commands only through `ctx.runner`, so a test passes a
temp dir and a scripted runner.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar

from ltsp_client.config.params import Param, register_params

if TYPE_CHECKING:
    from ltsp_client.pluginkit.context import PluginContext

# Order bands, as (first, last, meaning): see docs/plugins.md.
ORDER_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 9, "early"),
    (10, 49, "system"),
    (50, 59, "admin"),
    (60, 89, "users and sessions"),
    (90, 99, "final"),
)
# When a plugin can run: pid 1 before the real init (the only one run today),
# then (later) as a systemd service, at login, in the user's session.
STAGES = ("init", "service", "login", "session")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")


def order_band(order: int) -> str:
    for first, last, meaning in ORDER_BANDS:
        if first <= order <= last:
            return meaning
    raise ValueError(f"plugin order {order} is outside 0-99")


class Plugin:
    """Base class. Subclass with `name=` and `order=` to register a plugin.

    Class attributes:
      params   the ltsp.conf parameters the plugin reads, declared here once
               (the owner is filled in with the plugin's name)
      stages   the stages it runs in (default: only "init")
      aliases  upstream function names that also omit it through OMIT_FUNCTIONS
               or LTSP_SKIP_SCRIPTS (e.g. "networking_main", "config_hostname")
      applies_when  what applies() checks, in words; `ltsp init --dry-run` shows it
               for a plugin that is not needed (a string, not a docstring: the
               frozen binary is built with optimize=2 and has none)
    """

    name: ClassVar[str]
    order: ClassVar[int]
    params: ClassVar[tuple[Param, ...]] = ()
    stages: ClassVar[tuple[str, ...]] = ("init",)
    aliases: ClassVar[tuple[str, ...]] = ()
    applies_when: ClassVar[str] = ""
    source: ClassVar[str] = "built-in"

    def __init_subclass__(cls, *, name: str, order: int, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if not NAME_RE.match(name):
            raise ValueError(f"plugin name {name!r}: use lowercase letters, digits and '-'")
        order_band(order)
        unknown = [s for s in cls.stages if s not in STAGES]
        if unknown or not cls.stages:
            raise ValueError(f"plugin {name}: stages {cls.stages} must be some of {STAGES}")
        cls.name = name
        cls.order = order
        cls.params = register_params(cls.params, owner=name)
        _SINKS[-1](cls)

    def applies(self, ctx: PluginContext) -> bool:
        """Whether there is work to do here (default: always).

        Return False when the config asks for nothing or the root lacks what
        the plugin configures (no display manager installed): "not needed".
        """
        return True

    def apply(self, ctx: PluginContext) -> None:
        raise NotImplementedError(f"plugin {self.name} has no apply()")


class Registry:
    """Plugins by name; iteration is in run order, (order, name)."""

    def __init__(self, plugins: Mapping[str, type[Plugin]] | None = None) -> None:
        self._plugins: dict[str, type[Plugin]] = dict(plugins or {})

    def add(self, cls: type[Plugin]) -> None:
        self._plugins[cls.name] = cls

    def remove(self, name: str) -> None:
        self._plugins.pop(name, None)

    def get(self, name: str) -> type[Plugin] | None:
        return self._plugins.get(name)

    def names(self) -> list[str]:
        return [cls.name for cls in self]

    def copy(self) -> Registry:
        return Registry(self._plugins)

    def __contains__(self, name: object) -> bool:
        return name in self._plugins

    def __iter__(self) -> Iterator[type[Plugin]]:
        return iter(sorted(self._plugins.values(), key=lambda c: (c.order, c.name)))

    def __len__(self) -> int:
        return len(self._plugins)


BUILTINS = Registry()
# Where a newly defined subclass goes: the built-ins, or a drop-in being imported.
_SINKS: list[Callable[[type[Plugin]], None]] = [BUILTINS.add]


class collecting:  # noqa: N801 (used like a function: `with collecting() as found:`)
    """Send plugins defined inside the block to a list instead of the built-in registry."""

    def __init__(self) -> None:
        self.found: list[type[Plugin]] = []

    def __enter__(self) -> list[type[Plugin]]:
        _SINKS.append(self.found.append)
        return self.found

    def __exit__(self, *exc: object) -> None:
        _SINKS.pop()
