"""network-dhcp: DNS_SERVER and SEARCH_DOMAIN from klibc ipconfig's /run/net-DEVICE.conf."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FACTS, FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.network_dhcp import NetworkDhcp, dhcp_values

DATA = Path(__file__).parent / "data"


def ipconfig_root(debroot: Callable[..., Path]) -> FakeRoot:
    root = FakeRoot(debroot("netbase"))
    root.copy("/run/net-ens3.conf", DATA / "net-ens3.conf")
    return root


def test_dhcp_dns_and_domain_exported_and_nothing_written(
    debroot: Callable[..., Path], tmp_path: Path
) -> None:
    root = ipconfig_root(debroot)
    before = root.tree()
    ctx = apply_plugin(NetworkDhcp, root, client_config(tmp_path, "[clients]\n"))
    assert ctx is not None
    assert ctx.exports["DNS_SERVER"] == "192.168.67.1"
    assert ctx.exports["SEARCH_DOMAIN"] == "lab.lan"
    # every value also as IPCONFIG_NAME, for hooks (upstream's shell had them)
    assert ctx.exports["IPCONFIG_ROOTSERVER"] == "192.168.67.1"
    assert ctx.exports["IPCONFIG_filename"] == "/ltsp/x86_64/ipxe.efi"
    assert len(ctx.exports) == 2 + 17
    assert root.changes_since(before) == {}


def test_ltsp_conf_wins_over_dhcp(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = ipconfig_root(debroot)
    text = "[clients]\nDNS_SERVER=10.0.0.53\nSEARCH_DOMAIN=school.lan\n"
    ctx = apply_plugin(NetworkDhcp, root, client_config(tmp_path, text))
    assert ctx is not None
    assert "DNS_SERVER" not in ctx.exports and "SEARCH_DOMAIN" not in ctx.exports


def test_not_needed_without_ipconfig(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot())
    assert apply_plugin(NetworkDhcp, root, client_config(tmp_path, "[clients]\n")) is None


def test_zero_addresses_are_skipped_and_both_servers_kept() -> None:
    ipconfig = {"IPV4DNS0": "0.0.0.0", "IPV4DNS1": "10.0.0.2", "DNSDOMAIN": ""}
    assert dhcp_values(ipconfig, {}) == {"DNS_SERVER": "10.0.0.2"}
    ipconfig = {"IPV4DNS0": "10.0.0.1", "IPV4DNS1": "10.0.0.2"}
    assert dhcp_values(ipconfig, {"DNS_SERVER": ""}) == {"DNS_SERVER": "10.0.0.1 10.0.0.2"}


def test_other_device_file_is_ignored(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot())
    root.copy("/run/net-eth1.conf", DATA / "net-ens3.conf")
    assert FACTS.device == "ens3"
    assert apply_plugin(NetworkDhcp, root, client_config(tmp_path, "[clients]\n")) is None
