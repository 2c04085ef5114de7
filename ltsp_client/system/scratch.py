"""A writable scratch view of a directory tree whose original never changes (for dry runs).

As root, the view is an overlay: the tree is the read-only lower layer and a
fresh tmpfs holds the upper layer. Nothing is copied, however big the image,
and the upper layer lists exactly what was written, so the changes are found
without walking the image. Without root (no overlay mount), the tree is
copied: slow on a whole image, and files we cannot read are an error, but the
original is just as safe.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ltsp_client.errors import LtspError
from ltsp_client.system import mounts

OPAQUE_XATTR = "trusted.overlay.opaque"


@dataclass(frozen=True)
class ScratchView:
    original: Path
    root: Path  # where to write: the overlay's merged view, or the copy
    upper: Path | None = None  # the overlay's upper layer (None for a copy)

    def touched(self) -> list[PurePosixPath]:
        """Paths (as seen in the root) that may differ from the original, sorted."""
        if self.upper is None:
            return sorted(set(_walk(self.original)) | set(_walk(self.root)))
        found: set[PurePosixPath] = set()
        for path in _walk(self.upper):
            found.add(path)
            if _is_opaque(self.upper, path):  # a directory replaced as a whole
                found.update(p for p in _walk(self.original / path.relative_to("/")))
        return sorted(found)


def _walk(base: Path) -> Iterator[PurePosixPath]:
    """Every entry below `base`, as an absolute path relative to it; links not followed."""
    for directory, dirs, files in os.walk(base):
        rel = PurePosixPath("/", os.path.relpath(directory, base))
        for name in (*dirs, *files):
            yield PurePosixPath(os.path.normpath(rel / name))


def _is_opaque(upper: Path, path: PurePosixPath) -> bool:
    target = upper / path.relative_to("/")
    if target.is_symlink() or not target.is_dir():
        return False
    try:
        return os.getxattr(target, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


@contextlib.contextmanager
def scratch_view(original: Path, *, use_overlay: bool | None = None) -> Iterator[ScratchView]:
    """A scratch view of `original`, gone when the block ends."""
    if not original.is_dir():
        raise LtspError(f"{original} is not a directory", hint="give the unpacked image's root")
    overlay = os.geteuid() == 0 if use_overlay is None else use_overlay
    with tempfile.TemporaryDirectory(prefix="ltsp-dry-run-") as tmp:
        base = Path(tmp)
        if overlay:
            with _overlay(original, base) as view:
                yield view
        else:
            copy = base / "root"
            try:
                shutil.copytree(original, copy, symlinks=True)
            except (shutil.Error, OSError) as exc:
                raise LtspError(
                    f"cannot copy {original} for a dry run: {exc}",
                    hint="run it as root: then nothing is copied (an overlay is used)",
                ) from exc
            yield ScratchView(original, copy)


@contextlib.contextmanager
def _overlay(original: Path, base: Path) -> Iterator[ScratchView]:
    scratch, merged = base / "scratch", base / "merged"
    scratch.mkdir()
    merged.mkdir()
    # overlay options split on `,` and `:`; a link keeps any path usable as lowerdir
    lower = base / "lower"
    lower.symlink_to(original.resolve())
    try:
        mounts.mount("tmpfs", scratch, "tmpfs", data="mode=0755")
    except OSError as exc:
        raise LtspError(f"cannot mount a tmpfs for the dry run: {exc}") from exc
    try:
        upper, work = scratch / "upper", scratch / "work"
        upper.mkdir()
        work.mkdir()
        options = f"lowerdir={lower},upperdir={upper},workdir={work}"
        try:
            mounts.mount("overlay", merged, "overlay", data=options)
        except OSError as exc:
            raise LtspError(
                f"cannot mount an overlay over {original}: {exc}",
                hint="load the overlay module (modprobe overlay)",
            ) from exc
        try:
            yield ScratchView(original, merged, upper)
        finally:
            mounts.umount(merged, lazy=True)
    finally:
        mounts.umount(scratch, lazy=True)
