"""Which server the kernel's NFS root came from (mount table, nfsroot=, ip=)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.system.nfsroot import NfsSource, parse_source, root_source

NFS_ROOT_LINE = (
    "20 1 0:19 / / ro,relatime shared:1 - nfs 192.168.67.1:/srv/ltsp/raspios "
    "ro,vers=3,rsize=131072,wsize=131072,namlen=255,hard,nolock,proto=tcp,addr=192.168.67.1\n"
)
TMPFS_ROOT_LINE = "1 0 0:2 / / rw - rootfs rootfs rw\n"


def mountinfo(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mountinfo"
    path.write_text(text)
    return path


def test_the_mount_table_names_the_server(tmp_path: Path) -> None:
    found = root_source("nfsroot=10.0.0.9:/other", mountinfo(tmp_path, NFS_ROOT_LINE))
    assert found == NfsSource("192.168.67.1", "/srv/ltsp/raspios")


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        # what `ltsp kernel` writes into a Pi's cmdline.txt
        (
            "root=/dev/nfs nfsroot=192.168.67.1:/srv/ltsp/raspios,vers=3,tcp,nolock ip=dhcp",
            NfsSource("192.168.67.1", "/srv/ltsp/raspios"),
        ),
        # the kernel's own form: the path alone, the server from ip='s second field
        (
            "nfsroot=/srv/ltsp/x,vers=3 ip=10.0.0.5:10.0.0.1:10.0.0.1:255.0.0.0::eth0:off",
            NfsSource("10.0.0.1", "/srv/ltsp/x"),
        ),
    ],
)
def test_nfsroot_on_the_command_line_when_root_is_not_nfs(
    tmp_path: Path, cmdline: str, expected: NfsSource
) -> None:
    assert root_source(cmdline, mountinfo(tmp_path, TMPFS_ROOT_LINE)) == expected


def test_no_server_anywhere_is_an_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(LtspError, match="cannot tell the NFS server") as info:
        root_source("nfsroot=/srv/ltsp/x ip=dhcp", mountinfo(tmp_path, TMPFS_ROOT_LINE))
    assert "nfsroot=SERVER:" in info.value.hint


@pytest.mark.parametrize("text", ["server:/x", "192.168.67.1:x", "/dev/sda1", "1.2.3.4"])
def test_not_an_nfs_source(text: str) -> None:
    assert parse_source(text) is None
