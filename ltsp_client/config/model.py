"""The result of evaluating ltsp.conf for one process: variables, where each came from,
and the shell bodies of sections (callable later from hooks, never run at parse time)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from ltsp_client.config.params import Param, find_param
from ltsp_client.errors import ConfigError

# The one boolean rule (docs/config.md): these words, any case, surrounding
# blanks ignored, are true; everything else (0, no, empty, typos) is false.
# Upstream tests `= 1`; we also take the usual spellings, and `ltsp config
# check` asks for 0/1.
TRUE_WORDS = frozenset({"1", "y", "yes", "true", "on"})
FALSE_WORDS = frozenset({"0", "n", "no", "false", "off", ""})

Setting = bool | int | str | list[str]
T = TypeVar("T")


def is_true(value: str | None) -> bool:
    """The boolean rule for ltsp.conf, kernel and environment values."""
    return value is not None and value.strip().lower() in TRUE_WORDS


def debug_enabled(applet: str, value: str | None) -> bool:
    """LTSP_DEBUG: a true value turns debug output on for every applet, a comma list
    for the applets it names (`LTSP_DEBUG=initrd,info`)."""
    return is_true(value) or applet in (value or "").replace(" ", "").split(",")


def log_to_file(value: str | None) -> bool:
    """DEBUG_LOG: unset or empty is on (its default, 1); otherwise the boolean rule."""
    return not (value or "").strip() or is_true(value)


@dataclass(frozen=True)
class Identity:
    """The values that sections are matched against (empty strings are still matched)."""

    mac: str = ""
    ip: str = ""
    hostname: str = ""


@dataclass(frozen=True)
class Origin:
    """Where a value was assigned: file, 1-based line, and the section's normalised name."""

    file: str
    line: int
    section: str


@dataclass(frozen=True)
class Config(Mapping[str, str]):
    """Variables assigned by the evaluation, in assignment order (latest wins)."""

    assigned: Mapping[str, str] = field(default_factory=dict)
    origins: Mapping[str, Origin] = field(default_factory=dict)
    section_bodies: Mapping[str, str] = field(default_factory=dict)
    sections_run: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> str:
        return self.assigned[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.assigned)

    def __len__(self) -> int:
        return len(self.assigned)

    def get_str(self, key: str, default: str = "") -> str:
        return self.assigned.get(key, default)

    def get_bool(self, key: str, default: bool = False) -> bool:
        """`is_true` of the value; `default` when unset or empty."""
        value = self.assigned.get(key)
        if value is None or value == "":
            return default
        return is_true(value)

    def param(self, name: str) -> Param:
        """The declaration of NAME; an undeclared name is a programming error."""
        param = find_param(name)
        if param is None or (param.is_list and param.name != name):
            raise KeyError(f"parameter {name} is not declared (ltsp_client/config/params.py)")
        return param

    def raw(self, name: str) -> str:
        """The value of NAME, or its declared default when unset or empty."""
        value = self.assigned.get(name, "")
        return value if value != "" else self.param(name).default

    def setting(self, name: str) -> Setting:
        """NAME typed by its Param, default applied: bool, int, list of words, or str.

        A `NAME_` list gives its values sorted by variable name (`list_values`).
        """
        param = self.param(name)
        if param.is_list:
            return self.list_values(name)
        text = self.raw(name)
        if param.kind == "bool":
            return is_true(text)
        if param.kind == "int":
            return self._int(param, text)
        if param.kind == "words":
            return text.split()
        return text

    def flag(self, name: str) -> bool:
        """A `bool` parameter, by the one boolean rule (`is_true`)."""
        return self._typed(name, bool)

    def number(self, name: str) -> int:
        """An `int` parameter; a value that is not a number is a ConfigError (file:line)."""
        return self._typed(name, int)

    def text(self, name: str) -> str:
        """A `str`/`path`/`enum` parameter, as written."""
        return self._typed(name, str)

    def words_of(self, name: str) -> list[str]:
        """A `words` parameter split on blanks (default applied; `words()` has none)."""
        return self._typed(name, list)

    def list_of(self, prefix: str) -> list[str]:
        """A declared `NAME_x` list (PREFIX ends in `_`): non-empty values, sorted by name."""
        if not self.param(prefix).is_list:
            raise TypeError(f"{prefix} is not a NAME_x list parameter")
        return self.list_values(prefix)

    def _typed(self, name: str, kind: type[T]) -> T:
        value = self.setting(name)
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            declared = self.param(name).kind
            raise TypeError(f"parameter {name} is declared as {declared!r}, not {kind.__name__}")
        return value

    def _int(self, param: Param, text: str) -> int:
        try:
            return int(text.strip())
        except ValueError:
            origin = self.origins.get(param.name)
            raise ConfigError(
                f"{param.name}={text!r} is not a whole number",
                file=origin.file if origin else None,
                line=origin.line if origin else None,
                param=param.name,
                hint=param.help,
            ) from None

    def words(self, key: str) -> list[str]:
        return self.assigned.get(key, "").split()

    def list_values(self, prefix: str) -> list[str]:
        """`*_x` lists: non-empty values of PREFIX* variables, sorted by name (C locale)."""
        names = sorted(k for k in self.assigned if k.startswith(prefix) and self.assigned[k] != "")
        return [self.assigned[k] for k in names]

    def with_values(self, extra: Mapping[str, str]) -> Config:
        """A copy with `extra` assigned last (e.g. kernel command-line overrides)."""
        merged = {**self.assigned, **extra}
        return Config(merged, self.origins, self.section_bodies, self.sections_run)
