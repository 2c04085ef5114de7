"""The lab's servers for real, without QEMU (a few seconds, needs root): each one answers inside
the namespace, and teardown leaves no namespace and no process behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from lab import SERVER_IP
from lab.netns import LabNetwork, list_netns, pid_alive
from lab.services import HTTP_PORT, start_servers

from ltsp_client.run import run

pytestmark = pytest.mark.root


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    d = tmp_path / "export"
    d.mkdir()
    (d / "hello.txt").write_text("hello from the lab\n")
    (d / "disk.img").write_bytes(b"\0" * 65536)
    return d


def test_servers_answer_in_the_namespace_and_teardown_is_complete(
    needs_root: None, run_dir: Path, export_dir: Path
) -> None:
    with LabNetwork(prefix="ltl", clients=2, router=True) as net:
        servers = start_servers(
            net,
            run_dir,
            dhcp="proxy",
            nbd_exports={"disk": export_dir / "disk.img"},
            nfs_exports=[export_dir],
            sshd=True,
        )
        assert servers.nfs is not None and servers.nbd is not None and servers.sshd is not None
        assert net.tap(1) == "tap1"
        (servers.http_root / "x.txt").write_text("over http\n")
        url = f"http://{SERVER_IP}:{HTTP_PORT}/x.txt"
        fetch = f"import urllib.request as u; print(u.urlopen({url!r}).read().decode())"
        assert net.run_in(["python3", "-c", fetch]).strip() == "over http"
        tftp = run_dir / "fetched.ipxe"
        net.run_in(["busybox", "tftp", "-g", "-r", "boot.ipxe", "-l", str(tftp), SERVER_IP])
        assert tftp.read_text().startswith("#!ipxe")
        assert "disk" in net.run_in(["nbd-client", "-l", SERVER_IP])
        assert str(export_dir) in net.run_in(["showmount", "-e", SERVER_IP])
        ssh = servers.sshd.ssh_argv("echo ssh-ok")
        assert net.run_in(ssh[4:], timeout=30).strip() == "ssh-ok"
        # the "foreign" DHCP server's namespace is joined to the bridge by the veth pair
        assert "veth-b" in net.run_in(["ip", "-o", "link", "show", "master", "br0"])
        assert "default via 192.168.67.254" in net.run_in(["ip", "route"])
        ns_pids = [int(p) for p in run(["ip", "netns", "pids", net.name]).stdout.split()]
        assert len(ns_pids) >= 5, "dnsmasq, http, nbd-server, rpcbind, ganesha and sshd run inside"
        name = net.name
    assert name not in list_netns() and f"{name}-r" not in list_netns()
    assert not [p for p in ns_pids if pid_alive(p)], "teardown killed every server"


def test_an_exception_inside_the_lab_still_tears_it_down(needs_root: None, run_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), LabNetwork(prefix="ltl") as net:
        start_servers(net, run_dir)
        name = net.name
        raise RuntimeError("boom")
    assert name not in list_netns()


SIGNALLED = """
import sys, time
sys.path.insert(0, {here!r})
from pathlib import Path
from lab.netns import LabNetwork, install_sigterm_handler
from lab.services import start_servers
install_sigterm_handler()
try:
    with LabNetwork(prefix="ltl") as net:
        start_servers(net, Path({run_dir!r}))
        print(net.name, flush=True)
        time.sleep(120)
except KeyboardInterrupt:
    print("torn down", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_tear_the_lab_down(
    needs_root: None, run_dir: Path, sig: signal.Signals
) -> None:
    script = SIGNALLED.format(here=str(Path(__file__).parent), run_dir=str(run_dir))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    name = proc.stdout.readline().strip()
    assert name in list_netns()
    ns_pids = [int(p) for p in run(["ip", "netns", "pids", name]).stdout.split()]
    proc.send_signal(sig)
    assert proc.stdout.readline().strip() == "torn down"
    assert proc.wait(timeout=30) == 0
    assert name not in list_netns()
    assert ns_pids and not [p for p in ns_pids if pid_alive(p)]
