"""The result of evaluating ltsp.conf for one process: variables, where each came from,
and the shell bodies of sections (callable later from hooks, never run at parse time)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


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
        """Upstream tests most booleans as "equals 1"; we also accept true/yes/on."""
        value = self.assigned.get(key)
        if value is None or value == "":
            return default
        return value.strip().lower() in TRUE_WORDS

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
