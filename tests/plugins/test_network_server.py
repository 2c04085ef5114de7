"""server: SERVER detection for network roots, from /proc/net/tcp, the command line, ipconfig."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FACTS, FakeRoot, apply_plugin, client_config

from ltsp_client.pluginkit import StaticFacts
from ltsp_client.plugins.network_server import NetworkServer, detect, network_root, tcp_peers

DATA = Path(__file__).parent / "data"
NBD_CMDLINE = "BOOT_IMAGE=/vmlinuz root=/dev/nbd0 nbdroot=192.168.67.1,x86_64,nbd0 ro quiet"
NFS_CMDLINE = "root=/dev/nfs nfsroot=10.0.0.2:/srv/ltsp ltsp.image=images/x86_64.img"
HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
    "   uid  timeout inode\n"
)
TAIL = " 00000000:00000000 00:00000000 00000000     0 0 1\n"  # queues, timers, uid, inode
LISTEN_SSH = "   0: 00000000:0016 00000000:0000 0A" + TAIL
# 192.168.67.20:1021 -> 192.168.67.1:10809 (NBD), established
NBD_CONN = "   1: 1443A8C0:03FD 0143A8C0:2A39 01" + TAIL
# 192.168.67.20:40000 -> 10.0.0.9:443, established
HTTPS_CONN = "   2: 1443A8C0:9C40 0900000A:01BB 01" + TAIL
TCP6_HEADER = (
    "  sl  local_address                         remote_address                        st"
    " tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
)
# ::ffff:192.168.67.20:888 -> ::ffff:10.0.0.2:2049 (NFS over a v4-mapped socket)
NFS6_CONN = (
    "   0: 0000000000000000FFFF00001443A8C0:0378 0000000000000000FFFF00000200000A:0801 01"
    " 00000000:00000000 00:00000000 00000000     0 0 4\n"
)


def network_root_fs(
    debroot: Callable[..., Path], cmdline: str, tcp: str = HEADER, name: str = "root"
) -> FakeRoot:
    root = FakeRoot(debroot(name=name))
    root.write("/proc/cmdline", cmdline + "\n")
    root.write("/proc/net/tcp", tcp)
    root.write("/proc/net/tcp6", TCP6_HEADER)
    return root


def test_tcp_peer_of_the_nbd_root(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = network_root_fs(debroot, NBD_CMDLINE, HEADER + LISTEN_SSH + HTTPS_CONN + NBD_CONN)
    before = root.tree()
    ctx = apply_plugin(NetworkServer, root, client_config(tmp_path, "[clients]\n"))
    assert ctx is not None
    assert ctx.exports == {"SERVER": "192.168.67.1"}
    assert root.changes_since(before) == {}


def test_v4_mapped_nfs_connection() -> None:
    peers = tcp_peers([HEADER + HTTPS_CONN, TCP6_HEADER + NFS6_CONN])
    assert peers == [("10.0.0.9", 443), ("10.0.0.2", 2049)]
    assert detect(NFS_CMDLINE, [HEADER + HTTPS_CONN, TCP6_HEADER + NFS6_CONN], {}, "") == "10.0.0.2"


@pytest.mark.parametrize(
    ("cmdline", "ipconfig", "gateway", "expected"),
    [
        (NFS_CMDLINE, {"ROOTSERVER": "10.0.0.7"}, "10.0.0.1", "10.0.0.2"),  # nfsroot= address
        ("root=/dev/nbd0 nbdroot=server,x", {"ROOTSERVER": "10.0.0.7"}, "", "10.0.0.7"),
        ("root=/dev/nfs", {"ROOTSERVER": "0.0.0.0"}, "10.0.0.1", "10.0.0.1"),
        ("root=/dev/nfs", {}, "", "192.168.67.1"),
        ("root=/dev/sda1 ltsp.image=ltsp/x.img", {"ROOTSERVER": "10.0.0.7"}, "10.0.0.1", ""),
    ],
)
def test_fallbacks(cmdline: str, ipconfig: dict[str, str], gateway: str, expected: str) -> None:
    assert detect(cmdline, [HEADER], ipconfig, gateway) == expected


def test_network_root_forms() -> None:
    assert network_root("root=/dev/nbd0")
    assert network_root('quiet root=/dev/nfs nfsroot="10.0.0.2:/srv/x"')
    assert not network_root("root=/dev/nfsx")
    assert not network_root("root=UUID=1234 nbdroot=10.0.0.2,x")


def test_ipconfig_rootserver_from_the_real_file_format(
    debroot: Callable[..., Path], tmp_path: Path
) -> None:
    root = network_root_fs(debroot, "root=/dev/nbd0")
    root.copy("/run/net-ens3.conf", DATA / "net-ens3.conf")
    facts = StaticFacts(device="ens3", ip_address=FACTS.ip_address, prefixlen=24, gateway="")
    ctx = apply_plugin(NetworkServer, root, client_config(tmp_path, "[clients]\n"), facts)
    assert ctx is not None and ctx.exports == {"SERVER": "192.168.67.1"}


def test_not_needed_when_set_or_local_boot(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = network_root_fs(debroot, NBD_CMDLINE, HEADER + NBD_CONN)
    conf = client_config(tmp_path, "[clients]\nSERVER=10.9.9.9\n")
    assert apply_plugin(NetworkServer, root, conf) is None
    local = network_root_fs(debroot, "root=/dev/sda1", HEADER + NBD_CONN, name="local")
    assert apply_plugin(NetworkServer, local, client_config(tmp_path, "")) is None
