"""hosts: the whole /etc/hosts, on a root made of real Debian files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FACTS, FakeRoot, FakeRunner, client_config

from ltsp_client.config.model import Config
from ltsp_client.pluginkit import PluginContext
from ltsp_client.plugins.hosts import GENERATED, Hosts

DATA = Path(__file__).parent / "data"
IPV6 = (
    "\n# The following lines are desirable for IPv6 capable hosts\n"
    "::1\tip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def installed_root(debroot: Callable[..., Path]) -> FakeRoot:
    """netbase's files, and /etc/hosts and /etc/hostname as debian-installer leaves them."""
    root = FakeRoot(debroot("netbase"))
    root.copy("/etc/hosts", DATA / "hosts.debian-installer")
    root.write("/etc/hostname", "debian\n")
    return root


def apply(root: FakeRoot, config: Config, exports: dict[str, str]) -> None:
    """As the stage runner does: earlier plugins' exports are in the config and `exports`."""
    config = config.with_values(exports)
    ctx = PluginContext(root.path, config, FACTS, FakeRunner(), exports=dict(exports))
    assert Hosts().applies(ctx)
    Hosts().apply(ctx)


def test_full_hosts_file(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = installed_root(debroot)
    before = root.tree()
    text = (
        "[clients]\nSEARCH_DOMAIN=school.lan\n"
        'HOSTS_2="10.0.0.5 files"\nHOSTS_1="192.168.67.10 printer printer.school.lan"\n'
    )
    apply(root, client_config(tmp_path, text), {"SERVER": "192.168.67.1", "HOSTNAME": "pc20"})
    assert root.changes_since(before) == {
        "etc/hosts": GENERATED
        + "127.0.0.1\tlocalhost\n"
        + "127.0.1.1\tpc20.school.lan pc20\n"
        + "192.168.67.1\tserver\n"
        + IPV6
        + "192.168.67.10 printer printer.school.lan\n"
        + "10.0.0.5 files\n"
    }


def test_without_server_no_empty_server_line(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = installed_root(debroot)
    before = root.tree()
    apply(root, client_config(tmp_path, "[clients]\n"), {})
    assert root.changes_since(before) == {
        "etc/hosts": GENERATED + "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n" + IPV6
    }


def test_a_later_section_removes_a_hosts_line(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = installed_root(debroot)
    text = (
        '[clients]\nHOSTS_1="10.0.0.5 files"\nHOSTS_2="10.0.0.6 backup"\n'
        "[52:54:00:ab:cd:0e]\nHOSTS_1=\n"
    )
    apply(root, client_config(tmp_path, text), {"SERVER": "10.0.0.1"})
    hosts = root.tree()["etc/hosts"]
    assert hosts.endswith("ff02::2\tip6-allrouters\n10.0.0.6 backup\n")
    assert "files" not in hosts
