"""The networking plugins together, as the stage runner runs them, on a school-like image.

Interactions: DHCP's domain and DNS reach hosts and the resolver; the detected
SERVER reaches /etc/hosts and DNS=1; a MAC section setting HOSTNAME selects a
hostname section (and its HOSTS_x); on a minimal root every plugin that has
nothing to configure says "not needed".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FACTS, FakeRoot, FakeRunner, client_config
from test_hosts import IPV6

from ltsp_client.config.model import Config
from ltsp_client.pluginkit import PluginContext
from ltsp_client.pluginkit.base import Registry
from ltsp_client.pluginkit.runner import Summary, run_plugins
from ltsp_client.plugins.dns import Dns
from ltsp_client.plugins.hostname import Hostname
from ltsp_client.plugins.hosts import GENERATED, Hosts
from ltsp_client.plugins.ifupdown import Ifupdown
from ltsp_client.plugins.netplan import Netplan
from ltsp_client.plugins.network_dhcp import NetworkDhcp
from ltsp_client.plugins.network_server import NetworkServer
from ltsp_client.plugins.networkmanager import NetworkManager
from ltsp_client.plugins.validlft import ValidLifetime
from ltsp_client.run import Result

DATA = Path(__file__).parent / "data"
NETWORKING = (NetworkDhcp, NetworkServer, Hostname, Hosts, Dns, Ifupdown, NetworkManager, Netplan)
SHOW = ("ip", "-4", "-oneline", "address", "show", "dev", "ens3")
STATIC = "2: ens3    inet 192.168.67.20/24 brd 192.168.67.255 scope global ens3\\ valid_lft forever"
TCP = (
    "  sl  local_address rem_address   st\n"
    "   0: 1443A8C0:03FD 0143A8C0:2A39 01 00000000:00000000 00:00000000 00000000     0 0 2\n"
)
SCHOOL_CONF = """\
[clients]
HOSTNAME=pc%{IP}

[52:54:00:ab:cd:0e]
HOSTNAME=teacher

[teacher]
HOSTS_1="192.168.67.250 projector"

[pc*]
HOSTS_1="192.168.67.251 student-printer"
"""


def run(root: FakeRoot, config: Config) -> tuple[Summary, FakeRunner]:
    registry = Registry({cls.name: cls for cls in (*NETWORKING, ValidLifetime)})
    runner = FakeRunner({SHOW: Result(SHOW, 0, STATIC, "")})
    summary = run_plugins(registry, PluginContext(root.path, config, FACTS, runner))
    return summary, runner


def school_image(debroot: Callable[..., Path]) -> FakeRoot:
    """A Debian desktop-like image booted over NBD with initramfs-tools' DHCP."""
    root = FakeRoot(
        debroot("systemd", "systemd-resolved", "network-manager", "ifupdown", "netplan.io")
    )
    root.copy("/etc/hosts", DATA / "hosts.debian-installer")
    root.write("/etc/hostname", "debian\n")
    root.copy("/run/net-ens3.conf", DATA / "net-ens3.conf")
    root.write("/proc/cmdline", "root=/dev/nbd0 nbdroot=192.168.67.1,x86_64,nbd0 quiet\n")
    root.write("/proc/net/tcp", TCP)
    return root


def test_teacher_by_mac_gets_the_teacher_section(
    debroot: Callable[..., Path], tmp_path: Path
) -> None:
    root = school_image(debroot)
    before = root.tree()
    summary, runner = run(root, client_config(tmp_path, SCHOOL_CONF))
    assert summary.failed == []
    assert {k: v for k, v in summary.exports.items() if not k.startswith("IPCONFIG_")} == {
        "DNS_SERVER": "192.168.67.1",
        "SEARCH_DOMAIN": "lab.lan",
        "SERVER": "192.168.67.1",
        "HOSTNAME": "teacher",
    }
    assert runner.calls == []  # not a live boot: validlft leaves this machine's addresses
    assert root.changes_since(before) == {
        "etc/hostname": "teacher\n",
        "etc/hosts": GENERATED
        + "127.0.0.1\tlocalhost\n127.0.1.1\tteacher.lab.lan teacher\n192.168.67.1\tserver\n"
        + IPV6
        + "192.168.67.250 projector\n",
        "etc/systemd/resolved.conf.d/ltsp.conf": GENERATED
        + "[Resolve]\nDNS=192.168.67.1\nDomains=lab.lan\n",
        "etc/network/interfaces": GENERATED
        + "# interfaces(5) file used by ifup(8) and ifdown(8)\n"
        + "auto lo\niface lo inet loopback\n\nauto ens3\niface ens3 inet manual\n",
        "usr/sbin/ifdown": "-> ../bin/true",
        "etc/NetworkManager/conf.d/ltsp.conf": "[keyfile]\nunmanaged-devices=interface-name:ens3\n",
        "usr/lib/systemd/system-generators/netplan": None,
    }


def test_other_client_gets_the_pattern_section(
    debroot: Callable[..., Path], tmp_path: Path
) -> None:
    root = school_image(debroot)
    conf = SCHOOL_CONF.replace("[52:54:00:ab:cd:0e]", "[52:54:00:00:00:99]")
    summary, _ = run(root, client_config(tmp_path, conf))
    assert summary.exports["HOSTNAME"] == "pc20"
    hosts = root.tree()["etc/hosts"]
    assert "127.0.1.1\tpc20.lab.lan pc20\n" in hosts
    assert hosts.endswith("192.168.67.251 student-printer\n")


def test_hostname_with_ip_and_mac_and_dns_1(debroot: Callable[..., Path], tmp_path: Path) -> None:
    """Upstream fills only the first of %{IP} and %{MAC} (and hangs the boot); both work here."""
    root = school_image(debroot)
    conf = "[common]\nDNS=1\n[clients]\nHOSTNAME=pc%{IP}-%{MAC}\nSEARCH_DOMAIN=school.lan\n"
    summary, _ = run(root, client_config(tmp_path, conf))
    assert summary.exports["HOSTNAME"] == "pc20-525400abcd0e"
    tree = root.tree()
    assert tree["etc/hostname"] == "pc20-525400abcd0e\n"
    assert "127.0.1.1\tpc20-525400abcd0e.school.lan pc20-525400abcd0e\n" in tree["etc/hosts"]
    dropin = tree["etc/systemd/resolved.conf.d/ltsp.conf"]
    assert dropin == GENERATED + "[Resolve]\nDNS=192.168.67.1\nDomains=school.lan\n"


def test_minimal_root_most_plugins_not_needed(debroot: Callable[..., Path], tmp_path: Path) -> None:
    """base-files only, a local-disk boot without DHCP files: only names are written."""
    root = FakeRoot(debroot())
    root.write("/proc/cmdline", "root=/dev/sda1 ltsp.image=ltsp/x86_64.img\n")
    before = root.tree()
    summary, _ = run(root, client_config(tmp_path, "[clients]\n"))
    assert summary.names("not needed") == [
        "network-dhcp",
        "server",
        "dns",
        "ifupdown",
        "netplan",
        "networkmanager",
    ]
    assert summary.names("ok") == ["hostname", "hosts", "validlft"]
    assert sorted(root.changes_since(before)) == ["etc/hostname", "etc/hosts"]
