"""A View for the mount planner backed by a dict: path -> "dir" | Probe (a file)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ltsp_client.system.probe import Probe


@dataclass
class FakeView:
    entries: dict[str, str | Probe] = field(default_factory=dict)
    tmpfs: set[str] = field(default_factory=set)
    # partition contents: (path, offset) -> fstype
    offsets: dict[tuple[str, int], str] = field(default_factory=dict)

    def is_dir(self, path: str) -> bool:
        return self.entries.get(path) == "dir"

    def is_file(self, path: str) -> bool:
        return isinstance(self.entries.get(path), Probe)

    def exists(self, path: str) -> bool:
        return path in self.entries

    def is_tmpfs(self, path: str) -> bool:
        return path in self.tmpfs

    def probe(self, path: str, offset: int = 0) -> Probe:
        if offset:
            return Probe(self.offsets.get((path, offset), ""))
        entry = self.entries[path]
        assert isinstance(entry, Probe), path
        return entry
