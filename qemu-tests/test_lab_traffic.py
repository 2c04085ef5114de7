"""lab/traffic.py: nftables byte counters per protocol, real nft inside a lab namespace (root)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from lab.netns import LabNetwork
from lab.traffic import TrafficCounter


# An upstream NFS boot as the probe recorded it (host time, then the console text).
@pytest.mark.root
def test_traffic_counter_counts_per_protocol(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root (network namespaces, nftables); CI runs as root")
    if shutil.which("nft") is None:
        pytest.fail("nft is missing: apt-get install nftables (scripts/deps/apt-yardstick.txt)")
    server = (
        "import socket,sys\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', 2049)); s.listen(1); print('up', flush=True)\n"
        "c,_=s.accept(); c.sendall(b'x'*300000); c.close()\n"
    )
    client = (
        "import socket,time\n"
        "for i in range(50):\n"
        "    try:\n"
        "        c=socket.create_connection(('127.0.0.1', 2049)); break\n"
        "    except OSError: time.sleep(0.1)\n"
        "n=0\n"
        "while (d:=c.recv(65536)): n+=len(d)\n"
        "u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 40000))\n"
        "u.sendto(b'y'*1000, ('127.0.0.1', 9)); print(n)\n"
    )
    with LabNetwork(prefix="yrd", clients=1) as net, TrafficCounter(net) as traffic:
        log = net.run_in([sys.executable, "-c", "print(1)"])
        assert log.strip() == "1"
        proc = net.spawn([sys.executable, "-c", server], log_path=tmp_path / "s.log")
        traffic.reset()
        got = net.run_in([sys.executable, "-c", client], timeout=30)
        proc.wait(timeout=10)
        served = traffic.read()
        assert got.strip() == "300000"
        # the loopback carries both directions through the output hook: the data went
        # out from port 2049, the client's acks from an ephemeral TCP port ("other")
        assert 300_000 <= served["nfs"] < 400_000, json.dumps(served)
        assert 1000 <= served["tftp"] < 1100, json.dumps(served)
        assert served["nbd"] == 0
        traffic.reset()
        assert traffic.read()["nfs"] == 0
