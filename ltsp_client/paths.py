"""Well-known paths, and `under(root, path)`: the one way to address a file in a target root."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

ETC_LTSP = PurePosixPath("/etc/ltsp")
LTSP_CONF = ETC_LTSP / "ltsp.conf"
RUN_LTSP = PurePosixPath("/run/ltsp")
CLIENT_MARKER = RUN_LTSP / "client"
EVENTS_FILE = RUN_LTSP / "events.jsonl"
LOG_FILE = RUN_LTSP / "ltsp.log"
ADMIN_PLUGINS_DIR = ETC_LTSP / "plugins"


def under(root: Path, path: str | PurePosixPath) -> Path:
    """Return `path` (absolute, as seen inside the target) located under `root`.

    Refuses paths that would climb out of the root with `..`, so a plugin
    that builds a path from configuration can never write outside its root.
    """
    rel = PurePosixPath(path)
    if not rel.is_absolute():
        raise ValueError(f"not an absolute path: {path}")
    parts = [p for p in rel.parts[1:] if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"path climbs out of the root: {path}")
    return Path(root, *parts)
