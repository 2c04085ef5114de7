"""`ltsp dnsmasq`: the generated config passes `dnsmasq --test`, says what the settings ask,
and everything lands under --root (the host's /etc is never written)."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

import pytest

from ltsp_client import cli
from ltsp_client.server import dnsmasq

# /proc/net/route as the kernel writes it: default route, two LANs, LTSP's own subnet, a host route
PROC_NET_ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
eth1\t0043A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth2\t0000100A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth2\t0000FEA9\t00000000\t0001\t0\t0\t1000\t0000FFFF\t0\t0\t0
eth0\t0202000A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0
eth3\t00000B0A\t0100A8C0\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0
"""


def nets(*cidrs: str) -> list[ipaddress.IPv4Network]:
    return [ipaddress.IPv4Network(c) for c in cidrs]


def generate(tmp_path: Path, conf: str = "", *opts: str) -> str:
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "ltsp.conf").write_text(conf)
    root = tmp_path / "root"
    argv = ["-t", str(tmp_path / "tftp"), "dnsmasq", "--etc", str(etc), "--root", str(root)]
    assert cli.main([*argv, *opts]) == 0
    return (root / dnsmasq.CONF_PATH).read_text()


def dnsmasq_test(path: Path) -> None:
    result = subprocess.run(
        ["dnsmasq", "--test", f"--conf-file={path}"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax check OK" in result.stderr


def active(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_connected_subnets_skip_gateways_hosts_and_link_local() -> None:
    assert dnsmasq.connected_subnets(PROC_NET_ROUTE) == nets(
        "192.168.0.0/24", "192.168.67.0/24", "10.16.0.0/16"
    )
    subnets = dnsmasq.connected_subnets(PROC_NET_ROUTE)
    assert dnsmasq.proxy_subnets(subnets, real_dhcp=True) == nets("192.168.0.0/24", "10.16.0.0/16")
    assert dnsmasq.proxy_subnets(subnets, real_dhcp=False) == subnets


def test_connected_subnets_of_a_real_network_namespace() -> None:
    script = (
        "ip link add name la type veth peer name lb && ip link set la up && ip link set lb up && "
        "ip addr add 10.77.3.1/24 dev la && ip addr add 192.168.67.1/24 dev lb && "
        "ip route add 10.99.0.0/16 via 10.77.3.254 && cat /proc/net/route"
    )
    out = subprocess.run(
        ["unshare", "-n", "sh", "-ec", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert dnsmasq.connected_subnets(out.stdout) == nets("10.77.3.0/24", "192.168.67.0/24")


def test_default_config_passes_dnsmasq_test(tmp_path: Path) -> None:
    text = generate(tmp_path, "", "--dns-server=192.0.2.53")
    dnsmasq_test(tmp_path / "root" / dnsmasq.CONF_PATH)
    lines = active(text)
    assert "port=0" in lines and "enable-tftp" in lines
    assert f"tftp-root={tmp_path / 'tftp'}" in lines
    assert "dhcp-range=set:ltsp-dhcp,192.168.67.20,192.168.67.250,12h" in lines
    assert "dhcp-option=tag:ltsp-dhcp,encap:175,176,1" in lines  # iPXE: no proxy DHCP wait
    assert "dhcp-option=option:dns-server,192.0.2.53" in lines
    # per-arch boot files: BIOS and UEFI loaders for plain PXE, the menu for iPXE
    assert "dhcp-boot=tag:!ipxe,tag:X86PC,ltsp/undionly.kpxe" in lines
    assert "dhcp-boot=tag:!ipxe,tag:X86-64_EFI,ltsp/snponly.efi" in lines
    assert "dhcp-boot=tag:!ipxe,tag:ARM64_EFI,ltsp/snponly-arm64.efi" in lines
    assert lines[-1] == "dhcp-boot=tag:ipxe,ltsp/ltsp.ipxe"  # the last matching line wins
    assert "dhcp-match=set:ARM64_EFI,option:client-arch,11" in lines
    assert 'pxe-service=tag:rpi,X86PC,"Raspberry Pi Boot   ",unused' in lines
    for oui in ("b8:27:eb", "dc:a6:32", "e4:5f:01", "d8:3a:dd", "2c:cf:67"):
        assert f"dhcp-mac=set:rpi,{oui}:*:*:*" in lines
    assert (tmp_path / "tftp").is_dir()


def test_settings_switch_services(tmp_path: Path) -> None:
    conf = "[server]\nDNS=1\nREAL_DHCP=0\nTFTP=0\nDNS_SERVER='192.0.2.1 192.0.2.2'\n"
    text = generate(tmp_path, conf)
    dnsmasq_test(tmp_path / "root" / dnsmasq.CONF_PATH)
    lines = active(text)
    assert "port=0" not in lines and "#port=0" in text
    assert "enable-tftp" not in lines
    assert not [line for line in lines if "192.168.67.20" in line or "ltsp-dhcp" in line]
    assert "dhcp-option=option:dns-server,0.0.0.0,192.0.2.1,192.0.2.2" in lines
    # the applet's options win over ltsp.conf
    text = generate(tmp_path, conf, "-d0", "--tftp=1", "-p", "0")
    lines = active(text)
    assert "port=0" in lines and "enable-tftp" in lines
    assert not [line for line in lines if line.startswith("dhcp-range=set:proxy")]
    dnsmasq_test(tmp_path / "root" / dnsmasq.CONF_PATH)


def test_proxy_ranges_pass_dnsmasq_test(tmp_path: Path) -> None:
    settings = dnsmasq.DnsmasqSettings(
        tftp_dir=tmp_path, proxy_subnets=tuple(nets("192.168.0.0/24", "10.16.0.0/16"))
    )
    path = tmp_path / "proxy.conf"
    path.write_text(dnsmasq.render(settings))
    dnsmasq_test(path)
    assert "dhcp-range=set:proxy,10.16.0.0,proxy,255.255.0.0" in active(path.read_text())


def test_dns_servers_from_the_root_or_fallback(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    assert dnsmasq.detect_dns_servers(root) == ["8.8.8.8", "208.67.222.222"]
    (root / "etc" / "resolv.conf").write_text(
        "# stub\nnameserver 127.0.0.53\nnameserver 192.0.2.7\nnameserver fe80::1\n"
    )
    assert dnsmasq.detect_dns_servers(root) == ["192.0.2.7"]
    (root / "run/systemd/resolve").mkdir(parents=True)
    (root / "run/systemd/resolve/resolv.conf").write_text("nameserver 198.51.100.1\n")
    assert dnsmasq.detect_dns_servers(root) == ["198.51.100.1"]
    text = generate(tmp_path)
    assert "dhcp-option=option:dns-server,198.51.100.1" in active(text)


def test_bad_dns_server_and_ltsp5_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    base = ["-t", str(tmp_path / "tftp"), "dnsmasq", "--etc", str(etc), "--root"]
    # (every test passes -t and --root: the host's /srv and /etc are never written)
    assert cli.main([*base, str(tmp_path / "root"), "-s", "server.lan"]) == 1
    assert "DNS_SERVER: 'server.lan' is not an IP address" in capsys.readouterr().err
    (tmp_path / "root" / "etc/dnsmasq.d").mkdir(parents=True)
    (tmp_path / "root" / dnsmasq.LTSP5_CONF).write_text("")
    assert cli.main([*base, str(tmp_path / "root")]) == 1
    assert "LTSP5" in capsys.readouterr().err
    assert not (tmp_path / "root" / dnsmasq.CONF_PATH).exists()


def test_overwrite_0_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate(tmp_path)
    etc, root = tmp_path / "etc", tmp_path / "root"
    argv = ["-t", str(tmp_path / "t2"), "--overwrite=0", "dnsmasq", "--etc", str(etc)]
    argv += ["--root", str(root)]
    assert cli.main(argv) == 1
    assert "OVERWRITE=0" in capsys.readouterr().err
    assert not (tmp_path / "t2").exists()


def test_resolved_stub_is_turned_off_and_back_on(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    resolv = root / "etc" / "resolv.conf"
    resolv.symlink_to("../run/systemd/resolve/stub-resolv.conf")
    tcp = "  sl  local_address rem_address\n   0: 3500007F:0035 00000000:0000 0A\n"
    assert dnsmasq.resolved_stub_listening(tcp)
    assert dnsmasq.configure_resolved(root, dns=True, stub_listening=True)
    dropin = root / dnsmasq.RESOLVED_DROPIN
    assert "DNSStubListener=no" in dropin.read_text()
    assert os.readlink(resolv) == "../run/systemd/resolve/resolv.conf"
    assert dnsmasq.configure_resolved(root, dns=False, stub_listening=False)
    assert not dropin.exists()
    assert os.readlink(resolv) == "../run/systemd/resolve/stub-resolv.conf"
    assert not dnsmasq.configure_resolved(root, dns=False, stub_listening=False)
