"""What a booted client ended up with: every entry under /etc and every unit's state.

Collected through the client's root shell (lab.guestshell) and compared between
two clients (upstream's and ours booted from the same image with the same
ltsp.conf), entry by entry.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field

from lab.guestshell import GuestShell

# /etc entry -> ("file", mode, text) | ("link", target) | ("dir", mode)
Entries = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class ClientState:
    etc: Entries
    units: dict[str, str]  # unit file -> `systemctl list-unit-files` state (enabled, masked, ...)
    user_units: dict[str, str]  # the same for `systemctl --global` (session services)
    failed: tuple[str, ...]
    system_state: str  # `systemctl is-system-running`
    extra: dict[str, str] = field(default_factory=dict)


def collect(shell: GuestShell, *, extra: Iterable[str] = ()) -> ClientState:
    """/etc as a tar (through base64), unit states, failed units; `extra` commands' output."""
    data = shell.run("tar -C / --numeric-owner -czf - etc", timeout=240)
    return ClientState(
        etc=read_tar(data),
        units=_unit_states(shell.text("systemctl list-unit-files --no-legend --no-pager")),
        user_units=_unit_states(
            shell.text("systemctl --global list-unit-files --no-legend --no-pager")
        ),
        failed=tuple(
            line.split()[0]
            for line in shell.text("systemctl --failed --no-legend --plain --no-pager").splitlines()
            if line.strip()
        ),
        system_state=shell.text("systemctl is-system-running").strip(),
        extra={command: shell.text(command) for command in extra},
    )


def read_tar(data: bytes) -> Entries:
    entries: Entries = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            if member.issym():
                entries[member.name] = ("link", member.linkname)
            elif member.isdir():
                entries[member.name] = ("dir", oct(member.mode))
            elif member.isfile():
                stream = tar.extractfile(member)
                content = stream.read() if stream is not None else b""
                entries[member.name] = (
                    "file",
                    oct(member.mode),
                    content.decode("utf-8", "backslashreplace"),
                )
            elif member.islnk():
                entries[member.name] = ("hardlink", member.linkname)
    return entries


def _unit_states(text: str) -> dict[str, str]:
    states = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and "." in words[0]:
            states[words[0]] = words[1]
    return states


def entry_differences(a: Entries, b: Entries, *, ignore: Iterable[str] = ()) -> dict[str, str]:
    """path -> a short description, for every entry that is not the same in a and b."""
    skip = tuple(ignore)
    found = {}
    for path in sorted(set(a) | set(b)):
        if path.startswith(skip):
            continue
        left, right = a.get(path), b.get(path)
        if left == right:
            continue
        if left is None or right is None:
            found[path] = "only upstream" if right is None else "only ours"
        elif left[0] != right[0]:
            found[path] = f"{left[0]} vs {right[0]}"
        elif left[0] == "file" and left[1] != right[1] and left[2:] == right[2:]:
            found[path] = f"mode {left[1]} vs {right[1]}"
        elif left[0] == "file" and _uncommented(left[2]) == _uncommented(right[2]):
            found[path] = "comments"
        else:
            found[path] = "content"
    return found


def _uncommented(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]


def unit_differences(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    return {
        unit: f"{a.get(unit, '-')} vs {b.get(unit, '-')}"
        for unit in sorted(set(a) | set(b))
        if a.get(unit) != b.get(unit)
    }
