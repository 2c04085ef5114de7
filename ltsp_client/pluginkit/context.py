"""What a plugin gets: the root, the evaluated config, the facts, a runner, and helpers.

Reads are typed by the parameter table (`setting`, `flag`, `number`, `text`,
`words`, `items`); writes go through the file helpers (pluginkit.files,
.units, .ini), which stay under `root`, are atomic and take an explicit mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from ltsp_client.config.model import Config, Setting
from ltsp_client.paths import inside
from ltsp_client.pluginkit import files, units
from ltsp_client.pluginkit.expand import Facts, expand
from ltsp_client.pluginkit.ini import IniChanges, edit_ini
from ltsp_client.run import Runner


@dataclass(frozen=True)
class StaticFacts:
    """Facts given as values: for `--root` runs without a network, and for tests."""

    device: str = ""
    ip_address: str = ""
    prefixlen: int = 0
    mac_address: str = ""
    gateway: str = ""
    hostname: str = ""


class Kernel(Protocol):
    """What a plugin may change in the running kernel (only when the root is `/`)."""

    def sethostname(self, name: str) -> None: ...


class LiveKernel:
    """The real one: sethostname(2)."""

    def sethostname(self, name: str) -> None:
        import socket  # only on the live client

        socket.sethostname(name)


@dataclass(frozen=True)
class PluginContext:
    """The target root, the evaluated config, network facts, a runner, and the stage.

    `kernel` changes the running system (sethostname); plugins use it only when
    `is_live`. `exports` collects values a plugin computes for the plugins and hooks after
    it (the hostname plugin exports HOSTNAME); use `export()` to add one.
    """

    root: Path
    config: Config
    facts: Facts
    runner: Runner
    stage: str = "init"
    exports: dict[str, str] = field(default_factory=dict)
    kernel: Kernel = field(default_factory=LiveKernel)
    # None: live when the root is /; True: the initramfs applies the stage to the new root
    # of this very client (init/early.py), so the kernel and network are live too
    live: bool | None = None

    @property
    def is_live(self) -> bool:
        """True on the client itself (root `/`, or its new root from the initramfs), not a
        tree given with --root or a test."""
        return self.live if self.live is not None else self.root == Path("/")

    # --- where -----------------------------------------------------------
    def path(self, path: str | PurePosixPath) -> Path:
        """`path` (absolute, as the client sees it) under the target root.

        Symlinks are followed inside the root, so writing to the result
        changes what the client will see, and never a file outside the root.
        """
        return inside(self.root, path)

    def export(self, key: str, value: str) -> None:
        self.exports[key] = value

    # --- reading settings ------------------------------------------------
    def setting(self, name: str) -> Setting:
        """NAME typed by its Param (bool, int, list of words or str), default applied."""
        return self.config.setting(name)

    def flag(self, name: str) -> bool:
        """A `bool` parameter, by the one boolean rule (`config.model.is_true`)."""
        return self.config.flag(name)

    def number(self, name: str) -> int:
        """An `int` parameter; a value that is not a number is a ConfigError (file:line)."""
        return self.config.number(name)

    def text(self, name: str) -> str:
        """A `str`/`path`/`enum` parameter, as written (use `expand` for %{VAR})."""
        return self.config.text(name)

    def words(self, name: str) -> list[str]:
        """A `words` parameter split on blanks."""
        return self.config.words_of(name)

    def items(self, prefix: str) -> list[str]:
        """A `NAME_x` list (PREFIX ending in `_`): non-empty values sorted by variable name."""
        return self.config.list_of(prefix)

    def expand(self, text: str) -> str:
        """`text` with %{IP}, %{MAC}, %{HOSTNAME} and other %{VAR} filled in for this client."""
        return expand(text, {**self.config.assigned, **self.exports}, self.facts)

    # --- writing ---------------------------------------------------------
    def write_file(
        self, path: str | PurePosixPath, content: str | bytes, mode: int = 0o644
    ) -> Path:
        return files.write_file(self.root, path, content, mode)

    def read_text(self, path: str | PurePosixPath) -> str | None:
        return files.read_text(self.root, path)

    def remove_file(self, path: str | PurePosixPath) -> bool:
        return files.remove_file(self.root, path)

    def symlink(self, path: str | PurePosixPath, target: str) -> Path:
        return files.symlink(self.root, path, target)

    def add_fstab_line(self, line: str) -> bool:
        return files.add_fstab_line(self.root, line)

    def write_cron(self, name: str, lines: Iterable[str]) -> Path:
        return files.write_cron(self.root, name, lines)

    def edit_ini(self, path: str | PurePosixPath, changes: IniChanges, mode: int = 0o644) -> Path:
        return edit_ini(self.root, path, changes, mode)

    def add_dropin(self, unit: str, name: str, text: str, *, user: bool = False) -> Path:
        return units.add_dropin(self.root, unit, name, text, user=user)

    def mask_unit(self, unit: str, *, user: bool = False) -> Path:
        return units.mask_unit(self.root, unit, user=user)

    def unmask_unit(self, unit: str, *, user: bool = False) -> bool:
        return units.unmask_unit(self.root, unit, user=user)

    def enable_unit(
        self, unit: str, *, wanted_by: tuple[str, ...] | None = None, user: bool = False
    ) -> list[PurePosixPath]:
        return units.enable_unit(self.root, unit, wanted_by=wanted_by, user=user)

    def disable_unit(self, unit: str, *, user: bool = False) -> list[PurePosixPath]:
        return units.disable_unit(self.root, unit, user=user)

    def unit_installed(self, unit: str, *, user: bool = False) -> bool:
        """Whether the image has a unit file for `unit` (for `applies`)."""
        return units.find_unit(self.root, unit, user=user) is not None
