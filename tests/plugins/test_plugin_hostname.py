"""The hostname plugin on a fake root made of real Debian files, compared as a whole tree."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import FakeRunner
from ltsp_client.config import Identity, evaluate
from ltsp_client.config.model import Config
from ltsp_client.errors import LtspError
from ltsp_client.plugins.base import PluginContext, StaticFacts
from ltsp_client.plugins.hostname import Hostname, host_part, with_loopback_name

DATA = Path(__file__).parent / "data"
FACTS = StaticFacts(
    device="ens3",
    ip_address="192.168.67.20",
    prefixlen=24,
    mac_address="52:54:00:AB:cd:0e",
    gateway="192.168.67.1",
)
IPV6_BLOCK = (
    "\n# The following lines are desirable for IPv6 capable hosts\n"
    "::1     localhost ip6-localhost ip6-loopback\n"
    "ff02::1 ip6-allnodes\n"
    "ff02::2 ip6-allrouters\n"
)


def tree(root: Path) -> dict[str, str]:
    """Every file and symlink under root: relative path -> content or link target."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(Path(dirpath, d))]:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            found[rel] = "-> " + os.readlink(path) if path.is_symlink() else path.read_text()
    return found


def debian_root(tmp_path: Path) -> Path:
    """/etc as debian-installer leaves it (hosts), with debootstrap's copied hostname."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    shutil.copy(DATA / "hosts.debian-installer", root / "etc/hosts")
    (root / "etc/hostname").write_text("debian\n")
    return root


def conf(tmp_path: Path, text: str, facts: StaticFacts = FACTS) -> Config:
    """Evaluate real ltsp.conf text with the real loader, as `ltsp init` does."""
    directory = tmp_path / "etc-ltsp"
    directory.mkdir(exist_ok=True)
    (directory / "ltsp.conf").write_text(text)
    return evaluate(
        applet="init",
        identity=Identity(facts.mac_address.lower(), facts.ip_address, facts.hostname),
        is_client=True,
        config_dir=directory,
        environ={},
    )


def apply(root: Path, config: Config, facts: StaticFacts = FACTS) -> PluginContext:
    runner = FakeRunner()
    ctx = PluginContext(root, config, facts, runner)
    Hostname().apply(ctx)
    assert runner.calls == [], "the hostname plugin runs no commands"
    return ctx


def test_default_name_on_debian_root(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    ctx = apply(root, conf(tmp_path, "[clients]\n"))
    assert tree(root) == {
        "etc/hostname": "ltsp20\n",
        "etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tltsp20\n" + IPV6_BLOCK,
    }
    assert ctx.exports == {"HOSTNAME": "ltsp20"}


def test_mac_section_name_and_search_domain(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    text = (
        "[clients]\nHOSTNAME=pc%{IP}\nSEARCH_DOMAIN=school.lan\n\n"
        "[52:54:00:ab:cd:0e]\nHOSTNAME=teacher-%{MAC}  # the desk by the window\n"
    )
    apply(root, conf(tmp_path, text))
    assert tree(root) == {
        "etc/hostname": "teacher-525400abcd0e\n",
        "etc/hosts": "127.0.0.1\tlocalhost\n"
        "127.0.1.1\tteacher-525400abcd0e.school.lan teacher-525400abcd0e\n" + IPV6_BLOCK,
    }


def test_this_machines_hosts_keeps_other_lines(tmp_path: Path) -> None:
    original = Path("/etc/hosts").read_text()
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hosts").write_text(original)
    apply(root, conf(tmp_path, "[clients]\nHOSTNAME=lab%{IP}\n"))
    result = tree(root)
    assert sorted(result) == ["etc/hostname", "etc/hosts"]
    assert result["etc/hostname"] == "lab20\n"
    new_lines = result["etc/hosts"].splitlines()
    assert new_lines.count("127.0.1.1\tlab20") == 1
    kept = [line for line in new_lines if not line.startswith("127.0.1.1")]
    assert kept == [line for line in original.splitlines() if not line.startswith("127.0.1.1")]


def test_kernel_hostname_used_when_config_has_none(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    facts = StaticFacts(ip_address="10.161.254.38", prefixlen=16, hostname="dhcp-name")
    apply(root, Config(), facts)
    assert (root / "etc/hostname").read_text() == "dhcp-name\n"


def test_missing_files_are_created(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    apply(root, Config(assigned={"HOSTNAME": "pc%{IP}"}))
    assert tree(root) == {
        "etc/hostname": "pc20\n",
        "etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tpc20\n",
    }


@pytest.mark.parametrize(
    ("address", "prefix", "expected"),
    [("192.168.67.20", 24, "20"), ("10.161.254.38", 16, "65062"), ("10.0.0.9", 32, "0")],
)
def test_host_part(address: str, prefix: int, expected: str) -> None:
    assert host_part(address, prefix) == expected


def test_no_address_for_ip_template_is_an_error_with_hint(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    with pytest.raises(LtspError) as caught:
        apply(root, Config(), StaticFacts(mac_address="52:54:00:12:34:56"))
    assert "needs the IP address" in caught.value.message and caught.value.hint
    assert (root / "etc/hostname").read_text() == "debian\n", "nothing written on error"


def test_invalid_name_is_refused(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    with pytest.raises(LtspError, match="not a valid host name"):
        apply(root, Config(assigned={"HOSTNAME": "bad_name!"}))


def test_several_loopback_lines_become_one() -> None:
    text = "127.0.1.1 old\n127.0.0.1 localhost\n127.0.1.1 older # comment\n"
    assert with_loopback_name(text, "new") == "127.0.1.1\tnew\n127.0.0.1 localhost\n"
