"""systemd's configuration files as systemd reads them: which files count, and a key's value.

A directory earlier in a search path overrides a file of the same name in a
later one; a link to /dev/null masks a name; the files in effect are read in
the order of their names (systemd.syntax(7), the "*.conf.d" drop-ins).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ltsp_client.paths import inside
from ltsp_client.pluginkit import files
from ltsp_client.pluginkit.units import is_masked_link

# Where systemd's own daemons look for FILE and FILE.d/ drop-ins, most important first.
CONF_DIRS = ("/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd")


def effective_files(root: Path, dirs: tuple[str, ...], suffix: str = ".conf") -> list[Path]:
    """The files ending in `suffix` in `dirs` (most important first) in effect, by name."""
    chosen: dict[str, Path] = {}
    for directory in dirs:
        folder = inside(root, directory)
        if folder.is_dir():
            for path in folder.iterdir():
                if path.name.endswith(suffix):
                    chosen.setdefault(path.name, path)
    return [chosen[n] for n in sorted(chosen) if not is_masked_link(chosen[n])]


def read(root: Path, path: Path) -> str:
    """A file found by effective_files, links followed inside the root ("" if dangling)."""
    return files.read_text(root, PurePosixPath("/", path.relative_to(root))) or ""


def value(root: Path, name: str, section: str, key: str) -> str | None:
    """KEY in [SECTION] of systemd's NAME (`journald.conf`): the main file, then its
    drop-ins; the last assignment wins. None when nothing sets it."""
    main = next((p for p in (inside(root, f"{d}/{name}") for d in CONF_DIRS) if p.is_file()), None)
    found = None
    for path in [*([main] if main else []), *effective_files(root, _dropin_dirs(name))]:
        current = ""
        for raw in read(root, path).splitlines():
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1]
            elif current == section and "=" in line and line[0] not in "#;":
                left, _, right = line.partition("=")
                if left.strip() == key:
                    found = right.strip()
    return found


def _dropin_dirs(name: str) -> tuple[str, ...]:
    return tuple(f"{d}/{name}.d" for d in (*CONF_DIRS, "/lib/systemd"))
