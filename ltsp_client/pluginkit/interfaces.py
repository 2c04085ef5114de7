"""What ifupdown would do at boot, read from an image's /etc/network/interfaces (interfaces(5)).

The services plugin skips ifupdown's boot units when, on a netbooted client,
they have nothing to do: `ifup -a` (networking.service) raising only lo and
the boot NIC as `inet manual`, and `udevadm settle` (ifupdown-pre) waiting for
no other NIC. Files are followed as ifupdown follows them: `source` (shell
wildcards) and `source-directory` lines. /etc/network/interfaces.d/* is read
even when nothing sources it: reading more can only keep more units. Whatever
cannot be judged (a `mapping` stanza, a wildcard in a directory, an unreadable
file, an unknown keyword) is noted in `unknown`, and the caller keeps the units.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ltsp_client.paths import inside

INTERFACES = "/etc/network/interfaces"
INTERFACES_D = "/etc/network/interfaces.d"
# source-directory reads only the names run-parts would run
DIRECTORY_NAME = re.compile(r"[a-zA-Z0-9_-]+\Z")
MAX_FILES = 100
HARMLESS = ("no-auto-down", "no-scripts")  # top-level lines that raise nothing
UNJUDGED = ("iface", "mapping", "rename")  # top-level lines that may raise anything


@dataclass
class Stanza:
    """An `iface NAME FAMILY METHOD` stanza and its option lines (commands included)."""

    name: str
    family: str
    method: str
    options: list[str] = field(default_factory=list)


@dataclass
class Interfaces:
    auto: set[str] = field(default_factory=set)  # `auto`, `allow-auto`: what `ifup -a` raises
    hotplug: set[str] = field(default_factory=set)  # `allow-CLASS`: raised by udev's ifup@ units
    stanzas: list[Stanza] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # what could not be judged, and where

    def plain(self, name: str, family: str, method: str) -> bool:
        """Whether every stanza for `name` is `family method` with no option or command."""
        mine = [s for s in self.stanzas if s.name == name]
        return all((s.family, s.method, s.options) == (family, method, []) for s in mine)

    def ifup_all_is_idle(self, device: str) -> bool:
        """`ifup -a` raises nothing but lo (loopback) and the boot NIC (`inet manual`)."""
        return (
            not self.unknown
            and self.auto <= {"lo", device}
            and self.plain("lo", "inet", "loopback")
            and (device not in self.auto or self.plain(device, "inet", "manual"))
        )

    def others(self, device: str) -> set[str]:
        """Interfaces raised at boot (`auto`, `allow-*`) other than lo and the boot NIC."""
        return (self.auto | self.hotplug) - {"lo", device}


def read_interfaces(root: Path) -> Interfaces:
    """ifupdown's configuration in the image at `root`."""
    out = Interfaces()
    queue = [PurePosixPath(INTERFACES)]
    extra = inside(root, INTERFACES_D)
    if extra.is_dir():
        queue += [PurePosixPath(INTERFACES_D, p.name) for p in sorted(extra.iterdir())]
    seen: set[PurePosixPath] = set()
    while queue and len(seen) < MAX_FILES:
        path = queue.pop(0)
        if path not in seen:
            seen.add(path)
            queue += _read_file(root, path, out)
    if queue:
        out.unknown.append(f"more than {MAX_FILES} files sourced")
    return out


def _read_file(root: Path, path: PurePosixPath, out: Interfaces) -> list[PurePosixPath]:
    """Add the stanzas of one file to `out`; return the files it sources."""
    real = inside(root, path)
    if real.is_dir():
        return []
    try:
        text = real.read_text(errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        out.unknown.append(f"{path}: {exc}")
        return []
    sourced: list[PurePosixPath] = []
    stanza: Stanza | None = None
    for number, words in _logical_lines(text):
        where = f"{path}:{number}"
        keyword = words[0]
        if keyword == "iface" and len(words) >= 4:
            stanza = Stanza(
                words[1], words[2], words[3], [" ".join(words[4:])] if words[4:] else []
            )
            out.stanzas.append(stanza)
        elif keyword in ("auto", "allow-auto"):
            stanza = None
            out.auto.update(words[1:])
        elif keyword.startswith("allow-"):
            stanza = None
            out.hotplug.update(words[1:])
        elif keyword in ("source", "source-directory") and len(words) == 2:
            stanza = None
            sourced += _sources(root, path.parent, words, out, where)
        elif keyword in HARMLESS:
            stanza = None
        elif stanza is not None and keyword not in UNJUDGED:
            stanza.options.append(" ".join(words))
        else:
            stanza = None
            out.unknown.append(f"{where}: {' '.join(words)}")
    return sourced


def _logical_lines(text: str) -> list[tuple[int, list[str]]]:
    """(line number, words) of each line that is not blank or a comment, `\\` joined."""
    lines: list[tuple[int, list[str]]] = []
    pending = ""
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
            if line.lstrip().startswith("#"):
                continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        words = (pending + line).split()
        pending = ""
        if words:
            lines.append((start, words))
    if pending.split():
        lines.append((start, pending.split()))
    return lines


def _sources(
    root: Path, here: PurePosixPath, words: list[str], out: Interfaces, where: str
) -> list[PurePosixPath]:
    """The files a `source PATTERN` or `source-directory DIR` line reads, sorted."""
    keyword, pattern = words
    given = here / pattern  # a relative path is relative to the sourcing file's directory
    directory = given if keyword == "source-directory" else given.parent
    if any(c in str(directory) for c in "*?[") or ".." in given.parts:
        out.unknown.append(f"{where}: a wildcard or `..` in a directory ({pattern})")
        return []
    real = inside(root, directory)
    if not real.is_dir():
        return []
    return [
        directory / n for n in sorted(p.name for p in real.iterdir()) if _read_by(keyword, given, n)
    ]


def _read_by(keyword: str, given: PurePosixPath, name: str) -> bool:
    """Whether `source`'s shell wildcard (no dot files) or `source-directory` reads `name`."""
    if keyword == "source-directory":
        return bool(DIRECTORY_NAME.match(name))
    hidden = name.startswith(".") and not given.name.startswith(".")
    return not hidden and fnmatch.fnmatchcase(name, given.name)
