"""Well-known paths, and `inside(root, path)`: the one way to address a file in a target root.

The target root is `/` at boot, and an unpacked image for `ltsp init --root
DIR` and the tests. Either way a path is resolved the way the client will see
it: an absolute symlink such as /sbin/init -> /lib/systemd/systemd in DIR
leads to DIR/lib/systemd/systemd, never to the host's file, and no symlink or
`..` in a link target climbs out of the root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from ltsp_client.errors import LtspError

ETC_LTSP = PurePosixPath("/etc/ltsp")
LTSP_CONF = ETC_LTSP / "ltsp.conf"
RUN_LTSP = PurePosixPath("/run/ltsp")
CLIENT_MARKER = RUN_LTSP / "client"
EVENTS_FILE = RUN_LTSP / "events.jsonl"
LOG_FILE = RUN_LTSP / "ltsp.log"
ADMIN_PLUGINS_DIR = ETC_LTSP / "plugins"
LTSP_BINARY = "/usr/lib/ltsp/ltsp"  # the frozen client (fixed path: its ELF interpreter is there)
MAX_LINKS = 40


def live_run_dir(environ: Mapping[str, str] | None = None) -> Path:
    """This machine's /run/ltsp, or $LTSP_RUN_DIR (the test suite points it at a temp dir)."""
    return Path((os.environ if environ is None else environ).get("LTSP_RUN_DIR") or RUN_LTSP)


def live_etc_dir(environ: Mapping[str, str] | None = None) -> Path:
    """This machine's /etc/ltsp, or $LTSP_ETC_DIR (the test suite points it at a temp dir)."""
    return Path((os.environ if environ is None else environ).get("LTSP_ETC_DIR") or ETC_LTSP)


class RootPathError(LtspError, ValueError):
    """A path that cannot be addressed inside a root: relative, or climbing out with `..`."""


def inside(root: Path, path: str | PurePosixPath, *, follow_last: bool = True) -> Path:
    """`path` (absolute, as the client sees it) under `root`, symlinks followed as if root were `/`.

    `..` in `path` itself is refused (a path built from configuration must not
    climb out); `..` in a link target stops at the root, as it does at `/`.
    A path that does not exist yet resolves as far as it exists. With
    `follow_last=False` the last component is not followed, so a symlink
    itself can be replaced or removed (/sbin/init while installing LTSP).
    """
    given = PurePosixPath(path)
    if not given.is_absolute():
        raise RootPathError(f"not an absolute path: {path}")
    parts = [p for p in given.parts[1:] if p not in ("", ".")]
    if ".." in parts:
        raise RootPathError(f"path climbs out of the root: {path}")
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":  # only from a link target
            if resolved:
                resolved.pop()
            continue
        candidate = Path(root, *resolved, part)
        if (parts or follow_last) and candidate.is_symlink():
            hops += 1
            if hops > MAX_LINKS:
                raise LtspError(f"too many symlinks resolving {path} in {root}")
            target = PurePosixPath(os.readlink(candidate))
            if target.is_absolute():
                resolved = []
            parts = [p for p in target.parts if p not in ("/", "", ".")] + parts
            continue
        resolved.append(part)
    return Path(root, *resolved)
