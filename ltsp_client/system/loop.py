"""Loop devices through ioctls: no dependency on which losetup (busybox or util-linux) exists.

A partition of a disk image is attached with an offset and size limit rather
than with a partition scan, so there is no wait for /dev/loopNpM to appear.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

LOOP_SET_FD = 0x4C00
LOOP_CLR_FD = 0x4C01
LOOP_SET_STATUS64 = 0x4C04
LOOP_CONFIGURE = 0x4C0A
LOOP_CTL_GET_FREE = 0x4C82
LO_FLAGS_READ_ONLY = 1
LO_FLAGS_AUTOCLEAR = 4

# struct loop_info64: 5 x u64, 4 x u32, name[64], crypt_name[64], key[32], 2 x u64
_INFO64 = struct.Struct("=QQQQQIIII64s64s32sQQ")
# struct loop_config: u32 fd, u32 block_size, loop_info64, u64 reserved[8]
_CONFIG = struct.Struct(f"=II{_INFO64.size}s64x")


@dataclass
class LoopDevice:
    """An attached loop device; keep it open until the filesystem on it is mounted.

    With AUTOCLEAR the kernel detaches it when the last user (open fd or mount) is gone.
    """

    path: str
    fd: int

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def detach(self) -> None:
        if self.fd >= 0:
            try:
                fcntl.ioctl(self.fd, LOOP_CLR_FD)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
        self.close()


def _info(backing: Path, *, offset: int, size: int, flags: int) -> bytes:
    name = str(backing).encode()[:63]
    return _INFO64.pack(0, 0, 0, offset, size, 0, 0, 0, flags, name, b"", b"", 0, 0)


def attach(
    backing: Path,
    *,
    offset: int = 0,
    size: int = 0,
    read_only: bool = True,
    dev: Path = Path("/dev"),
    attempts: int = 5,
) -> LoopDevice:
    """Attach `backing` to the first free loop device (read-only by default)."""
    flags = LO_FLAGS_AUTOCLEAR | (LO_FLAGS_READ_ONLY if read_only else 0)
    backing_fd = os.open(backing, os.O_RDONLY if read_only else os.O_RDWR)
    try:
        control = os.open(dev / "loop-control", os.O_RDWR)
        try:
            for attempt in range(attempts):
                number = fcntl.ioctl(control, LOOP_CTL_GET_FREE)
                path = dev / f"loop{number}"
                for _ in range(50):  # devtmpfs creates the node right after GET_FREE
                    if path.exists():
                        break
                    time.sleep(0.02)
                loop_fd = os.open(path, os.O_RDONLY if read_only else os.O_RDWR)
                info = _info(backing, offset=offset, size=size, flags=flags)
                try:
                    _configure(loop_fd, backing_fd, info)
                except OSError as exc:
                    os.close(loop_fd)
                    if exc.errno == errno.EBUSY and attempt + 1 < attempts:
                        continue  # another process took it between GET_FREE and now
                    raise OSError(exc.errno, f"attach {backing} to {path}: {exc.strerror}") from exc
                return LoopDevice(str(path), loop_fd)
        finally:
            os.close(control)
    finally:
        os.close(backing_fd)
    raise OSError(errno.EBUSY, f"no free loop device for {backing}")


def _configure(loop_fd: int, backing_fd: int, info: bytes) -> None:
    try:
        fcntl.ioctl(loop_fd, LOOP_CONFIGURE, _CONFIG.pack(backing_fd, 0, info))
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
        # kernels before 5.8: two steps
        fcntl.ioctl(loop_fd, LOOP_SET_FD, backing_fd)
        try:
            fcntl.ioctl(loop_fd, LOOP_SET_STATUS64, info)
        except OSError:
            fcntl.ioctl(loop_fd, LOOP_CLR_FD)
            raise
