"""The initramfs stage's facts are reused by pid 1 while the NIC is the same."""

from __future__ import annotations

from pathlib import Path

from ltsp_client.system.facts import (
    NetworkFacts,
    cached_facts,
    facts_from_ipconfig,
    next_hop,
    save_facts,
)

FACTS = NetworkFacts(
    device="ens3",
    ip_address="192.168.67.20",
    prefixlen=24,
    mac_address="52:54:00:00:00:20",
    gateway="192.168.67.1",
    hostname="",
    ipconfig={"DNSDOMAIN": "lab"},
)


def sys_net(tmp_path: Path, mac: str) -> Path:
    nic = tmp_path / "sys/ens3"
    nic.mkdir(parents=True)
    (nic / "address").write_text(mac + "\n")
    return tmp_path / "sys"


def test_round_trip_while_the_mac_matches(tmp_path: Path) -> None:
    save_facts(FACTS, tmp_path / "run/facts.json")
    net = sys_net(tmp_path, "52:54:00:00:00:20")
    assert cached_facts(tmp_path / "run/facts.json", sys_net=net) == FACTS


def test_stale_or_missing_cache_is_ignored(tmp_path: Path) -> None:
    net = sys_net(tmp_path, "52:54:00:00:00:99")
    assert cached_facts(tmp_path / "none.json", sys_net=net) is None
    save_facts(FACTS, tmp_path / "facts.json")
    assert cached_facts(tmp_path / "facts.json", sys_net=net) is None  # another NIC now
    (tmp_path / "facts.json").write_text("{not json")
    assert cached_facts(tmp_path / "facts.json", sys_net=net) is None


def klibc_run_dir(tmp_path: Path, device: str = "ens3") -> Path:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / f"net-{device}.conf").write_text(
        f"DEVICE='{device}'\nPROTO='dhcp'\nIPV4ADDR='192.168.67.20'\n"
        "IPV4NETMASK='255.255.255.0'\nIPV4GATEWAY='0.0.0.0'\nHOSTNAME='pc20'\nDNSDOMAIN='lab'\n"
    )
    return run


def test_facts_from_klibc_ipconfig_without_netlink(tmp_path: Path) -> None:
    net = sys_net(tmp_path, "52:54:00:00:00:20")
    facts = facts_from_ipconfig({}, run_dir=klibc_run_dir(tmp_path), sys_net=net)
    assert facts is not None
    assert (facts.device, facts.ip_address, facts.prefixlen) == ("ens3", "192.168.67.20", 24)
    # upstream's GATEWAY on the LTSP subnet is the server: the next hop towards 192.168.67.1
    assert (facts.mac_address, facts.gateway) == ("52:54:00:00:00:20", "192.168.67.1")
    assert facts.ipconfig["DNSDOMAIN"] == "lab"


def test_next_hop_like_upstreams_gateway() -> None:
    assert next_hop("192.168.67.20", 24, "0.0.0.0") == "192.168.67.1"
    assert next_hop("192.168.67.20", 24, "192.168.67.254") == "192.168.67.1"
    assert next_hop("10.161.254.38", 16, "10.161.0.1") == "10.161.0.1"
    assert next_hop("10.161.254.38", 16, "0.0.0.0") == ""
    assert next_hop("10.161.254.38", 0, "") == ""


def test_ipconfig_path_defers_when_unclear_or_preset(tmp_path: Path) -> None:
    net = sys_net(tmp_path, "52:54:00:00:00:20")
    run = klibc_run_dir(tmp_path)
    preset = {"DEVICE": "ens3", "IP_ADDRESS": "10.0.0.1", "MAC_ADDRESS": "52:54:00:00:00:01"}
    assert facts_from_ipconfig(preset, run_dir=run, sys_net=net) is None
    assert facts_from_ipconfig({"DEVICE": "ens4"}, run_dir=run, sys_net=net) is None
    assert facts_from_ipconfig({"DEVICE": ""}, run_dir=run, sys_net=net) is not None
    klibc_run_dir(tmp_path, "ens4")  # two configured NICs: let the route lookup decide
    assert facts_from_ipconfig({}, run_dir=run, sys_net=net) is None
    assert facts_from_ipconfig({}, run_dir=tmp_path / "empty", sys_net=net) is None
