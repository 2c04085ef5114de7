"""Versioned, atomic image publishing (layout in docs/publisher.md).

`images/NAME.img` is a relative symlink to `.versions/NAME/VERSION.img`. A
publish writes a new version file and switches the symlink with rename(2);
the file a running client has open (nbd-server's fd, an NFS file handle) is
never renamed over, truncated or deleted by the switch.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from ltsp_client.errors import LtspError

log = logging.getLogger(__name__)

VERSIONS_DIR = ".versions"
PARTIAL_PREFIX = ".partial-"
DEFAULT_KEEP = 3
_VERSION_RE = re.compile(r"^\d{8}-\d{6}(-\d+)?$")


@dataclass(frozen=True)
class Version:
    name: str  # the image name
    version: str  # YYYYmmdd-HHMMSS[-N]
    path: Path

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")

    def meta(self) -> dict[str, Any]:
        """What `ltsp image` recorded about this version ({} if nothing)."""
        try:
            data = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def _sort_key(version: str) -> tuple[str, int]:
    stamp, _, serial = version.partition("-")[2].partition("-")
    return (version[:8] + stamp, int(serial or 1))


def versions_dir(images_dir: Path, name: str) -> Path:
    return images_dir / VERSIONS_DIR / name


def list_versions(images_dir: Path, name: str) -> list[Version]:
    """The published versions of `name`, oldest first."""
    folder = versions_dir(images_dir, name)
    if not folder.is_dir():
        return []
    found = [
        Version(name, p.stem, p)
        for p in folder.glob("*.img")
        if _VERSION_RE.match(p.stem) and p.is_file()
    ]
    return sorted(found, key=lambda v: _sort_key(v.version))


def serving_version(images_dir: Path, name: str) -> Version | None:
    """The version `images/NAME.img` points at; None for a missing link or a plain file."""
    link = images_dir / f"{name}.img"
    if not link.is_symlink():
        return None
    target = (images_dir / os.readlink(link)).resolve()
    for version in list_versions(images_dir, name):
        if version.path.resolve() == target:
            return version
    return None


def current_version(images_dir: Path, name: str) -> Version | None:
    """The serving version; a plain images/NAME.img is adopted (hard-linked) as one first."""
    link = images_dir / f"{name}.img"
    if link.is_file() and not link.is_symlink():
        return adopt_plain_file(images_dir, name)
    return serving_version(images_dir, name)


def image_names(images_dir: Path) -> list[str]:
    """Every exported image: `images/*.img`, symlinks (ours) or plain files (upstream, direct)."""
    if not images_dir.is_dir():
        return []
    return sorted(p.name[:-4] for p in images_dir.glob("*.img") if p.exists())


def new_version_id(folder: Path, now: float | None = None, *, newest: bool = True) -> str:
    """A free version id for `now`; with `newest`, also later than every existing one
    (ids freed by pruning are never reused, so name order stays publish order)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    taken = [p.stem for p in folder.glob("*.img") if _VERSION_RE.match(p.stem)]
    serial = 1
    if newest and taken:
        latest = max(taken, key=_sort_key)
        base, last = _sort_key(latest)
        if base >= _sort_key(stamp)[0]:
            stamp, serial = latest[:15], last + 1
    candidate = stamp if serial == 1 else f"{stamp}-{serial}"
    while (folder / f"{candidate}.img").exists() or (folder / f"{candidate}.json").exists():
        serial += 1
        candidate = f"{stamp}-{serial}"
    return candidate


def ensure_images_dir(images_dir: Path) -> None:
    """Create BASE_DIR/images with mode 0700 (images hold secrets); an existing one keeps it."""
    if not images_dir.is_dir():
        images_dir.mkdir(parents=True, mode=0o700)
        images_dir.chmod(0o700)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def point_link(images_dir: Path, name: str, target: Path) -> None:
    """Make images/NAME.img a relative symlink to target, replacing the old link atomically.

    A plain file in its place must have been adopted first (`adopt_plain_file`).
    """
    link = images_dir / f"{name}.img"
    relative = os.path.relpath(target, images_dir)
    tmp = images_dir / f".{name}.img.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(relative, tmp)
    os.replace(tmp, link)
    _fsync_dir(images_dir)


def adopt_plain_file(images_dir: Path, name: str, plain: Path | None = None) -> Version:
    """Turn a plain images/NAME.img (or `plain`) into a version: a hard link, same inode."""
    link = plain if plain is not None else images_dir / f"{name}.img"
    folder = versions_dir(images_dir, name)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = new_version_id(folder, link.stat().st_mtime, newest=False)
    target = folder / f"{stamp}.img"
    try:
        os.link(link, target)
        if plain is not None:
            link.unlink()
    except OSError:
        # another file system (a bind-mounted direct image): keep the inode by renaming
        os.rename(link, target)
    _write_meta(target.with_suffix(".json"), {"adopted": str(link)})
    return Version(name, stamp, target)


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def prune(images_dir: Path, name: str, keep: int) -> list[Version]:
    """Delete all but the newest `keep` versions; never the serving one. Returns the deleted."""
    keep = max(keep, 1)
    serving = serving_version(images_dir, name)
    versions = list_versions(images_dir, name)
    others = [v for v in versions if v != serving]
    newest = others[len(others) - (keep - 1) :] if keep > 1 else []
    if serving is None:
        newest = versions[len(versions) - keep :]
    kept = {v.version for v in newest} | ({serving.version} if serving else set())
    deleted = []
    for version in versions:
        if version.version in kept:
            continue
        version.path.unlink(missing_ok=True)
        version.meta_path.unlink(missing_ok=True)
        deleted.append(version)
    return deleted


class SignalReceivedError(LtspError):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl+C, cleaning up on the way."""


@contextmanager
def signals_as_errors() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise like Ctrl+C does, so cleanup code runs."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SignalReceivedError(f"interrupted by signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass(frozen=True)
class Published:
    version: Version
    previous: Version | None
    pruned: tuple[Version, ...]


def publish_version(
    images_dir: Path,
    name: str,
    write: Callable[[Path], dict[str, Any]],
    *,
    keep: int = DEFAULT_KEEP,
) -> Published:
    """Call write(partial_path) to produce the image, then switch images/NAME.img to it.

    `write` returns metadata stored beside the version. Any exception (Ctrl+C,
    SIGTERM, a failing mksquashfs) removes the partial file and leaves the
    serving image and its symlink as they were.
    """
    ensure_images_dir(images_dir)
    folder = versions_dir(images_dir, name)
    folder.mkdir(parents=True, exist_ok=True)
    fd, partial_name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, suffix=".img", dir=folder)
    os.close(fd)
    partial = Path(partial_name)
    try:
        with signals_as_errors():
            meta = write(partial)
            with partial.open("rb") as done:
                os.fsync(done.fileno())
            partial.chmod(0o644)
            previous = current_version(images_dir, name)
            version_id = new_version_id(folder)
            final = folder / f"{version_id}.img"
            _write_meta(final.with_suffix(".json"), {"version": version_id, **meta})
            os.rename(partial, final)
            _fsync_dir(folder)
            point_link(images_dir, name, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    version = Version(name, version_id, final)
    pruned = prune(images_dir, name, keep)
    return Published(version, previous, tuple(pruned))


def revert(images_dir: Path, name: str) -> tuple[Path, str]:
    """Serve the version before the current one; returns (image path, what happened)."""
    link = images_dir / f"{name}.img"
    old = images_dir / f"{name}.img.old"
    serving = serving_version(images_dir, name)
    if serving is None and old.is_file() and not link.is_symlink():
        # upstream's layout: both files become versions (same inodes), then serve the old one
        if link.exists():
            adopt_plain_file(images_dir, name)
        previous = adopt_plain_file(images_dir, name, old)
        point_link(images_dir, name, previous.path)
        return link, f"{name}: now serving {previous.version} (was {old.name})"
    versions = list_versions(images_dir, name)
    if serving is None:
        raise LtspError(
            f"{link} is not a versioned image, and there is no {old.name}",
            hint="publish it with `ltsp image` first",
        )
    older = [v for v in versions if _sort_key(v.version) < _sort_key(serving.version)]
    if not older:
        raise LtspError(
            f"no version of {name} older than {serving.version} to revert to",
            hint=f"versions kept: {', '.join(v.version for v in versions) or 'none'}",
        )
    point_link(images_dir, name, older[-1].path)
    return link, f"{name}: now serving {older[-1].version} (was {serving.version})"
