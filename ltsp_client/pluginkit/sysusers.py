"""What systemd-sysusers would still create in an image (sysusers.d(5)), read without running it.

Debian ships no /etc/.updated, so systemd-sysusers.service (`ConditionNeedsUpdate=/etc`)
runs at every boot of a client, on the way to sysinit.target, although the
packages' maintainer scripts created every user and group when the image was
built. The services plugin masks it when nothing is pending. Whatever cannot be
judged (a specifier, an unknown line type, bad quoting) counts as pending.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from ltsp_client.paths import inside
from ltsp_client.pluginkit.sysconf import effective_files, read

# Earlier directories override a file of the same name in later ones.
DIRS = (
    "/etc/sysusers.d",
    "/run/sysusers.d",
    "/usr/local/lib/sysusers.d",
    "/usr/lib/sysusers.d",
    "/lib/sysusers.d",
)


def _entries(root: Path, path: str) -> dict[str, list[str]]:
    """name -> fields of an /etc/passwd or /etc/group style file in the image."""
    real = inside(root, path)
    text = real.read_text(errors="replace") if real.is_file() else ""
    return {f[0]: f for f in (line.split(":") for line in text.splitlines()) if f[0]}


def pending(root: Path) -> list[str]:
    """What systemd-sysusers would create or change in the image at `root` ([]: nothing)."""
    users = _entries(root, "/etc/passwd")
    groups = _entries(root, "/etc/group")
    out: list[str] = []
    for path in effective_files(root, DIRS):
        for number, line in enumerate(read(root, path).splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                out += _line_pending(line, users, groups, f"{path.name}:{number}")
    return out


def _line_pending(
    line: str, users: dict[str, list[str]], groups: dict[str, list[str]], where: str
) -> list[str]:
    try:
        fields = shlex.split(line)
    except ValueError:
        return [f"{where}: cannot parse {line!r}"]
    kind, name, ident = [*fields, "-", "-", "-"][:3]
    if "%" in line or len(fields) < 2:
        return [f"{where}: cannot judge {line!r}"]
    if kind == "r":
        return []
    if kind == "g":
        return [] if name in groups else [f"group {name}"]
    if kind in ("u", "u!"):
        missing = [] if name in users else [f"user {name}"]
        group = ident.split(":", 1)[1] if ":" in ident else name
        if not group.isdigit() and group not in groups:
            missing.append(f"group {group}")
        return missing
    if kind == "m":
        members = groups.get(ident, ["", "", "", ""])[3:4] or [""]
        return [] if name in members[0].split(",") else [f"{name} in group {ident}"]
    return [f"{where}: cannot judge {line!r}"]
