"""The plugin contract: a plugin is a subclass of `Plugin`, registered by subclassing.

    class Hostname(Plugin, name="hostname", order=10):
        params = (Param("HOSTNAME", default="ltsp%{IP}", help="..."),)

        def apply(self, ctx: PluginContext) -> None:
            ctx.path("/etc/hostname").write_text(...)

Plugins write only under `ctx.root` (through `ctx.path()`), and run commands
only through `ctx.runner`, so a test passes a temp dir and a scripted runner.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar, Protocol

from ltsp_client.config.model import Config
from ltsp_client.config.params import Param, register_params
from ltsp_client.paths import inside
from ltsp_client.run import Runner

# Order bands, as (first, last, meaning): see docs/plugins.md.
ORDER_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 9, "early"),
    (10, 49, "system"),
    (50, 59, "admin"),
    (60, 89, "users and sessions"),
    (90, 99, "final"),
)
NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
DEFAULT_HOOK_TIMEOUT = 300

# Parameters of the framework itself (OMIT_*, PRE_/POST_ are in the upstream table).
FRAMEWORK_PARAMS = (
    Param(
        "LTSP_STRICT",
        kind="bool",
        default="0",
        help="1: a failing plugin or hook is fatal (like ltsp.strict on the kernel command line)",
    ),
    Param(
        "HOOK_TIMEOUT",
        kind="int",
        default=str(DEFAULT_HOOK_TIMEOUT),
        help="seconds a PRE_/POST_ hook script may run before it is killed",
    ),
)
register_params(FRAMEWORK_PARAMS)


def order_band(order: int) -> str:
    for first, last, meaning in ORDER_BANDS:
        if first <= order <= last:
            return meaning
    raise ValueError(f"plugin order {order} is outside 0-99")


class Facts(Protocol):
    """Network facts of the boot NIC (the boot helper's NetworkFacts has these fields)."""

    @property
    def device(self) -> str: ...
    @property
    def ip_address(self) -> str: ...
    @property
    def prefixlen(self) -> int: ...
    @property
    def mac_address(self) -> str: ...
    @property
    def gateway(self) -> str: ...
    @property
    def hostname(self) -> str: ...


@dataclass(frozen=True)
class StaticFacts:
    """Facts given as values: for `--root` runs without a network, and for tests."""

    device: str = ""
    ip_address: str = ""
    prefixlen: int = 0
    mac_address: str = ""
    gateway: str = ""
    hostname: str = ""


@dataclass(frozen=True)
class PluginContext:
    """What a plugin gets: the target root, the evaluated config, network facts, a runner.

    `exports` collects values a plugin computes for the plugins and hooks after
    it (the hostname plugin exports HOSTNAME); use `export()` to add one.
    """

    root: Path
    config: Config
    facts: Facts
    runner: Runner
    stage: str = "init"
    exports: dict[str, str] = field(default_factory=dict)

    def path(self, path: str | PurePosixPath) -> Path:
        """`path` (absolute, as the client sees it) under the target root.

        Symlinks are followed inside the root, so writing to the result
        changes what the client will see, and never a file outside the root.
        """
        return inside(self.root, path)

    def export(self, key: str, value: str) -> None:
        self.exports[key] = value


class Plugin:
    """Base class. Subclass with `name=` and `order=` to register a plugin.

    Class attributes:
      params   the ltsp.conf parameters the plugin reads (validation and docs)
      aliases  upstream function names that also omit it through OMIT_FUNCTIONS
               or LTSP_SKIP_SCRIPTS (e.g. "networking_main", "config_hostname")
    """

    name: ClassVar[str]
    order: ClassVar[int]
    params: ClassVar[tuple[Param, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()
    source: ClassVar[str] = "built-in"

    def __init_subclass__(cls, *, name: str, order: int, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if not NAME_RE.match(name):
            raise ValueError(f"plugin name {name!r}: use lowercase letters, digits and '-'")
        order_band(order)
        cls.name = name
        cls.order = order
        register_params(cls.params)
        _SINKS[-1](cls)

    def applies(self, config: Config) -> bool:
        """Whether there is work to do for this config (default: always)."""
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
