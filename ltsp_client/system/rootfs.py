"""Mount the image source chain onto the new root: loop files, tmpfs + overlayfs (§1.6.1-1.6.4).

The work is planned as data (a list of typed actions) and then executed.
Because what a later element is (or whether a live CD hides a squashfs)
depends on what earlier ones mounted, the planner yields one batch at a time
and looks at the file system through a `View`; `Executor` performs a batch
before the planner is asked for the next. Tests read whole plans with a fake
View and no mounts.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from ltsp_client.errors import LtspError
from ltsp_client.system import mounts
from ltsp_client.system.imagesource import Element
from ltsp_client.system.probe import Probe, probe_file

log = logging.getLogger(__name__)

TMPFS_DIR = "/run/initramfs/ltsp"
LIVE_SQUASHFS = ("casper/filesystem.squashfs", "live/filesystem.squashfs")
DEFAULT_READ_AHEAD_KB = 128


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MakeDir:
    path: str


@dataclass(frozen=True)
class MountTmpfs:
    target: str
    options: str = "mode=0755"


@dataclass(frozen=True)
class CopyFile:
    source: str
    target: str


@dataclass(frozen=True)
class Unmount:
    target: str


@dataclass(frozen=True)
class LoadFilesystem:
    fstype: str
    roots: tuple[str, ...] = ()  # trees whose /lib/modules may hold the module


@dataclass(frozen=True)
class LoopMount:
    """Attach `file` (read-only; a partition by offset and size) and mount it on `target`."""

    file: str
    target: str
    fstype: str
    options: str = "ro"
    offset: int = 0
    size: int = 0


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    fstype: str
    options: str = ""


@dataclass(frozen=True)
class Bind:
    source: str
    target: str
    read_only: bool = True


Action = MakeDir | MountTmpfs | CopyFile | Unmount | LoadFilesystem | LoopMount | Mount | Bind


class View(Protocol):
    """What the planner may ask about the file system."""

    def is_dir(self, path: str) -> bool: ...
    def is_file(self, path: str) -> bool: ...
    def exists(self, path: str) -> bool: ...
    def is_tmpfs(self, path: str) -> bool: ...
    def probe(self, path: str, offset: int = 0) -> Probe: ...


class RealView:
    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def is_file(self, path: str) -> bool:
        return os.path.isfile(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def is_tmpfs(self, path: str) -> bool:
        entry = mounts.find_mount(path)
        return entry is not None and entry.fstype == "tmpfs"

    def probe(self, path: str, offset: int = 0) -> Probe:
        return probe_file(Path(path), offset)


# --- planning --------------------------------------------------------------------------------


def _join(base: str, rel: str) -> str:
    return str(PurePosixPath(base) / rel) if rel else base


def default_options(fstype: str) -> str:
    """No journal replay on ext* (the image must stay untouched), read-only otherwise."""
    return "ro,noload" if fstype in ("ext2", "ext3", "ext4") else "ro"


@dataclass
class _State:
    tmpfs_ready: bool = False
    used: set[int] = field(default_factory=set)


def _next_index(view: View, tmpfs: str, state: _State) -> int:
    index = 0
    while index in state.used or view.exists(f"{tmpfs}/{index}"):
        index += 1
    state.used.add(index)
    return index


def _file_mount(element: Element, path: str, target: str, view: View) -> list[Action]:
    """Actions that mount the file `path` (a filesystem, or one partition of a disk) on target."""
    fstype, offset, size = element.fstype, 0, 0
    probe = Probe(fstype) if fstype and element.partition is None else view.probe(path)
    if element.partition is not None or probe.is_disk:
        if not probe.partitions:
            raise LtspError(
                f"{path} has no partition table", hint="remove partition= from the image source"
            )
        for part in probe.partitions:
            if element.partition is not None and part.number != element.partition:
                continue
            if element.partition is None and part.skipped:
                continue
            found = fstype or view.probe(path, part.offset).fstype
            if found and found != "swap":
                fstype, offset, size = found, part.offset, part.size
                break
        else:
            which = f"partition {element.partition}" if element.partition else "a partition"
            raise LtspError(
                f"I don't know how to mount {which} of {path}",
                hint="no partition with a known filesystem (EFI and swap are skipped)",
            )
    elif probe.fstype in ("", "swap"):
        raise LtspError(
            f"I don't know how to mount {path}",
            hint="it is not squashfs, iso9660, ext2/3/4, vfat or a partitioned disk; "
            "add fstype= to the image source if it is something else",
        )
    else:
        fstype = probe.fstype
    options = element.options or default_options(fstype)
    return [
        LoadFilesystem(fstype),
        LoopMount(path, target, fstype, options, offset=offset, size=size),
    ]


def plan_chain(
    elements: Sequence[Element],
    *,
    root: str,
    view: View,
    tmpfs: str = TMPFS_DIR,
    overlay: bool = True,
) -> Iterator[list[Action]]:
    """Yield batches of actions that mount `elements` onto `root`; run each before the next.

    The first element's path must already be absolute; later relative paths
    are relative to `root` (inside what has been mounted so far).
    """
    state = _State(tmpfs_ready=view.is_tmpfs(tmpfs))
    for number, element in enumerate(elements):
        path = element.path
        if not path.startswith("/"):
            if number == 0:
                raise LtspError(f"image path {path} is not absolute")
            path = _join(root, path)
        target = _join(root, element.subdir)
        if not view.exists(path):
            raise LtspError(
                f"Image doesn't exist: {path}",
                hint="check ltsp.image= / IMAGE= and that the server exports it",
            )
        is_dir = view.is_dir(path)
        if not overlay:
            if is_dir:
                yield [Bind(path, target, read_only="rw" not in element.options.split(","))]
            else:
                yield _file_mount(element, path, target, view)
            continue
        batch: list[Action] = []
        if not state.tmpfs_ready:
            batch += [MakeDir(tmpfs), MountTmpfs(tmpfs)]
            state.tmpfs_ready = True
        base = f"{tmpfs}/{_next_index(view, tmpfs, state)}"
        batch += [MakeDir(f"{base}/up"), MakeDir(f"{base}/work")]
        lower = path
        if not is_dir:
            lower = f"{base}/looproot"
            batch += [MakeDir(lower), *_file_mount(element, path, lower, view)]
        yield batch
        batch = []
        if not view.exists(f"{lower}/proc"):
            for candidate in LIVE_SQUASHFS:
                if view.is_file(f"{lower}/{candidate}"):
                    log.warning("live CD detected: mounting %s", candidate)
                    batch += [
                        LoadFilesystem("squashfs"),
                        LoopMount(f"{lower}/{candidate}", lower, "squashfs", "ro"),
                    ]
                    break
        batch += [
            LoadFilesystem("overlay", roots=(lower,)),
            Mount(
                tmpfs,
                target,
                "overlay",
                f"upperdir={base}/up,lowerdir={lower},workdir={base}/work",
            ),
        ]
        yield batch


def plan_image_to_ram(
    elements: Sequence[Element], *, root: str, view: View, tmpfs: str = TMPFS_DIR
) -> tuple[list[Action], tuple[Element, ...]]:
    """Copy the first image file into tmpfs and drop the network root (IMAGE_TO_RAM=1)."""
    first = elements[0]
    copy = f"{tmpfs}/{PurePosixPath(first.path).name}"
    actions: list[Action] = []
    if not view.is_tmpfs(tmpfs):
        actions += [MakeDir(tmpfs), MountTmpfs(tmpfs)]
    actions += [CopyFile(first.path, copy), Unmount(root)]
    renamed = Element(copy, first.fstype, first.partition, first.subdir, first.options)
    return actions, (renamed, *elements[1:])


def flatten(batches: Iterator[list[Action]]) -> list[Action]:
    return [action for batch in batches for action in batch]


# --- execution -------------------------------------------------------------------------------


class Executor:
    """Performs actions and remembers how to undo them (used only when the stage fails)."""

    def __init__(self) -> None:
        self.undo: list[tuple[str, str]] = []  # ("umount", path) newest last

    def run(self, actions: Sequence[Action]) -> None:
        for action in actions:
            log.debug("%s", action)
            self.perform(action)

    def perform(self, action: Action) -> None:
        match action:
            case MakeDir(path):
                os.makedirs(path, exist_ok=True)
            case MountTmpfs(target, options):
                mounts.mount("tmpfs", target, "tmpfs", data=options)
                self.undo.append(("umount", target))
            case CopyFile(source, target):
                shutil.copy2(source, target)
            case Unmount(target):
                # lazy: the network root stays busy while this client runs from the
                # image in it (ltsp-initrd-bottom, ltsp-client package); it goes after
                mounts.umount(target, lazy=True)
            case LoadFilesystem(fstype, roots):
                from ltsp_client.system import kmod

                kmod.ensure_filesystem(fstype, roots=[Path(r) for r in roots])
            case LoopMount():
                self._loop_mount(action)
            case Mount(source, target, fstype, options):
                flags, data = mounts.split_options(options)
                mounts.mount(source, target, fstype, flags=flags, data=data)
                self.undo.append(("umount", target))
            case Bind(source, target, read_only):
                mounts.mount(source, target, "", flags=mounts.MS_BIND)
                self.undo.append(("umount", target))
                if read_only:
                    flags = mounts.MS_BIND | mounts.MS_REMOUNT | mounts.MS_RDONLY
                    mounts.mount("none", target, "", flags=flags)

    def _loop_mount(self, action: LoopMount) -> None:
        from ltsp_client.system import loop

        read_only = "rw" not in action.options.split(",")
        device = loop.attach(
            Path(action.file), offset=action.offset, size=action.size, read_only=read_only
        )
        try:
            flags, data = mounts.split_options(action.options)
            mounts.mount(device.path, action.target, action.fstype, flags=flags, data=data)
        except OSError:
            device.detach()
            raise
        device.close()  # autoclear: detached when unmounted
        self.undo.append(("umount", action.target))

    def rollback(self) -> None:
        """Undo mounts newest first; errors are logged, never raised."""
        while self.undo:
            _, target = self.undo.pop()
            try:
                mounts.umount(target)
            except OSError as exc:
                log.warning("cleanup: %s", exc)


def mount_chain(
    elements: Sequence[Element],
    *,
    root: str,
    executor: Executor,
    view: View | None = None,
    tmpfs: str = TMPFS_DIR,
    overlay: bool = True,
) -> list[Action]:
    """Plan and execute batch by batch; returns every action performed."""
    done: list[Action] = []
    for batch in plan_chain(
        elements, root=root, view=view or RealView(), tmpfs=tmpfs, overlay=overlay
    ):
        executor.run(batch)
        done += batch
    return done


# --- read-ahead (§1.6.4) ---------------------------------------------------------------------


def _bdi_file(device: str, sys_dir: Path) -> Path | None:
    for candidate in (
        sys_dir / "class/bdi" / device / "read_ahead_kb",
        sys_dir / "dev/block" / device / "../bdi/read_ahead_kb",
    ):
        if candidate.exists():
            return candidate
    return None


def nfs_devices(volumes: Path = Path("/proc/fs/nfsfs/volumes")) -> list[str]:
    try:
        lines = volumes.read_text().splitlines()[1:]
    except OSError:
        return []
    return [line.split()[3] for line in lines if len(line.split()) > 3]


def set_read_ahead(
    mountpoint: str | None,
    kb: int,
    *,
    sys_dir: Path = Path("/sys"),
    volumes: Path = Path("/proc/fs/nfsfs/volumes"),
) -> list[str]:
    """Set read_ahead_kb for the device behind `mountpoint` (None: all NFS volumes)."""
    if mountpoint is None:
        devices = nfs_devices(volumes)
    else:
        entry = mounts.find_mount(mountpoint)
        devices = [entry.device] if entry else []
    changed = []
    for device in devices:
        path = _bdi_file(device, sys_dir)
        if path is None:
            continue
        try:
            if path.read_text().strip() != str(kb):
                path.write_text(f"{kb}\n")
                changed.append(device)
        except OSError as exc:
            log.debug("read-ahead of %s: %s", device, exc)
    return changed
