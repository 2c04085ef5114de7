"""The initramfs stage's facts are reused by pid 1 while the NIC is the same."""

from __future__ import annotations

from pathlib import Path

from ltsp_client.init.facts import NetworkFacts, cached_facts, save_facts

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
