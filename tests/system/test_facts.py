"""network_facts() in a network namespace of our own (veth, no traffic leaves it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ltsp_client.system.facts import NetworkFacts, network_facts, read_ipconfig

# one name per test process: a fixed name let two concurrent runs delete each other's namespace
NS = f"boot-facts-{os.getpid()}"
PROBE = """
import json, sys
from pathlib import Path
from ltsp_client.system.facts import network_facts
f = network_facts({}, run_dir=Path(sys.argv[1]))
print(json.dumps(f.__dict__))
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.fail("needs root; CI runs as root")
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)
    ip("netns", "add", NS)
    try:
        ip("-n", NS, "link", "add", "eth0", "type", "veth", "peer", "name", "veth1")
        ip("-n", NS, "link", "set", "eth0", "address", "52:54:00:AB:CD:EF")
        for dev in ("lo", "eth0", "veth1"):
            ip("-n", NS, "link", "set", dev, "up")
        yield NS
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)


def facts_in(ns: str, run_dir: Path) -> dict[str, object]:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", PROBE, str(run_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.root
def test_ltsp_subnet_server_is_on_link(netns: str, tmp_path: Path) -> None:
    ip("-n", netns, "addr", "add", "192.168.67.20/24", "dev", "eth0")
    (tmp_path / "net-eth0.conf").write_text(
        "DEVICE='eth0'\nIPV4ADDR='192.168.67.20'\nHOSTNAME='pc20'\nIPV4DNS0='192.168.67.1'\n"
    )
    facts = facts_in(netns, tmp_path)
    assert facts["device"] == "eth0"
    assert facts["ip_address"] == "192.168.67.20" and facts["prefixlen"] == 24
    assert facts["mac_address"] == "52:54:00:ab:cd:ef"
    assert facts["gateway"] == "192.168.67.1"  # upstream's GATEWAY: the on-link next hop
    assert facts["ipconfig"] == {
        "DEVICE": "eth0",
        "IPV4ADDR": "192.168.67.20",
        "HOSTNAME": "pc20",
        "IPV4DNS0": "192.168.67.1",
    }


@pytest.mark.root
def test_other_subnet_goes_through_the_gateway(netns: str, tmp_path: Path) -> None:
    ip("-n", netns, "addr", "add", "10.161.254.38/16", "dev", "eth0")
    ip("-n", netns, "route", "add", "default", "via", "10.161.0.1")
    facts = facts_in(netns, tmp_path)
    assert (facts["device"], facts["ip_address"], facts["prefixlen"], facts["gateway"]) == (
        "eth0",
        "10.161.254.38",
        16,
        "10.161.0.1",
    )


@pytest.mark.root
def test_no_route_falls_back_to_a_device_interface(netns: str, tmp_path: Path) -> None:
    # veth has no /sys/class/net/*/device link, so there is no MAC to find: a clear error
    out = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0 and "cannot find the MAC address" in out.stderr


def test_preset_environment_is_used(tmp_path: Path) -> None:
    env = {"DEVICE": "nope0", "IP_ADDRESS": "10.0.0.9", "MAC_ADDRESS": "52:54:00:00:00:09"}
    facts = network_facts({**env, "HOSTNAME": "pc9"}, run_dir=tmp_path)
    assert facts == NetworkFacts("nope0", "10.0.0.9", 0, "52:54:00:00:00:09", "", "pc9", {})
    assert facts.as_vars()["HOSTNAME"] == "pc9"


def test_read_ipconfig_quoting(tmp_path: Path) -> None:
    (tmp_path / "net-eth0.conf").write_text(
        "DOMAINSEARCH='a.example b.example'\nbroken line\nROOTPATH=''\nfilename='/x'\n"
    )
    assert read_ipconfig("eth0", tmp_path) == {
        "DOMAINSEARCH": "a.example b.example",
        "ROOTPATH": "",
        "filename": "/x",
    }
    assert read_ipconfig("eth1", tmp_path) == {}
