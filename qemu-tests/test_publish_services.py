"""What `ltsp dnsmasq` and `ltsp nfs` generate, served for real in a lab namespace (no QEMU,
a few seconds, needs root): dnsmasq runs our config and serves the iPXE menu over TFTP,
nfs-ganesha runs our EXPORT blocks, and the HTTP root is TFTP_DIR."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lab import SERVER_IP
from lab.netns import LabNetwork
from lab.services import Dnsmasq, HttpServer, NfsServer

from ltsp_client.run import run

pytestmark = pytest.mark.root
ROOT = Path(__file__).resolve().parents[1]


def ltsp(*args: str, net: LabNetwork | None = None) -> str:
    argv = [sys.executable, "-m", "ltsp_client", *args]
    return run(net.exec_argv(argv) if net else argv, env={"PYTHONPATH": str(ROOT)}).stdout


def test_generated_dnsmasq_nfs_and_menu_are_served(needs_root: None, run_dir: Path) -> None:
    base, tftp, etc, root = (run_dir / d for d in ("base", "tftp", "etc", "root"))
    (base / "images").mkdir(parents=True)
    (base / "images" / "x86_64.img").write_bytes(b"squashfs stand-in\n")
    (tftp / "ltsp" / "x86_64").mkdir(parents=True)
    (tftp / "ltsp" / "x86_64" / "vmlinuz").write_bytes(b"kernel stand-in\n")
    etc.mkdir()
    (etc / "ltsp.conf").write_text("[server]\nHTTP_URL='http://${srv}:8080'\n")
    dirs = ["-b", str(base), "-t", str(tftp)]
    ltsp(*dirs, "ipxe", "--etc", str(etc))
    ltsp(*dirs, "nfs", "--etc", str(etc), "--root", str(root), "--server=ganesha")
    with LabNetwork(prefix="ltl", clients=1) as net:
        # run inside the namespace: proxy DHCP for the subnets *it* routes
        ltsp(*dirs, "dnsmasq", "--etc", str(etc), "--root", str(root), "-r0", net=net)
        conf = (root / "etc/dnsmasq.d/ltsp-dnsmasq.conf").read_text()
        assert "dhcp-range=set:proxy,192.168.67.0,proxy,255.255.255.0" in conf
        Dnsmasq(net, run_dir, conf_text=conf).start()
        NfsServer(net, run_dir, include=root / "etc/ganesha/ltsp-nfs.conf").start()
        HttpServer(net, run_dir, tftp).start()

        menu = run_dir / "fetched.ipxe"
        net.run_in(["busybox", "tftp", "-g", "-r", "ltsp/ltsp.ipxe", "-l", str(menu), SERVER_IP])
        assert menu.read_text() == (tftp / "ltsp" / "ltsp.ipxe").read_text()
        assert "item --key 1 x86_64" in menu.read_text()
        loader = run_dir / "undionly.kpxe"
        net.run_in(
            ["busybox", "tftp", "-g", "-r", "ltsp/undionly.kpxe", "-l", str(loader), SERVER_IP]
        )
        assert loader.read_bytes() == Path("/usr/lib/ipxe/undionly.kpxe").read_bytes()

        url = f"http://{SERVER_IP}:8080/ltsp/x86_64/vmlinuz"
        fetch = f"import urllib.request as u; print(u.urlopen({url!r}).read().decode())"
        assert net.run_in(["python3", "-c", fetch]).strip() == "kernel stand-in"

        exports = net.run_in(["showmount", "-e", SERVER_IP])
        assert str(base) in exports and str(tftp / "ltsp") in exports
        # the host kernel has no NFS client: libnfs's userspace one reads through the export
        url = f"nfs://{SERVER_IP}{base}/images/x86_64.img?version=3"
        assert net.run_in(["nfs-cat", url]).strip() == "squashfs stand-in"
