"""The hostname plugin on a fake root made of real Debian files, compared as a whole tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from goldentree import FACTS, FakeRoot, FakeRunner, apply_plugin, client_config

from ltsp_client.config.model import Config
from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import PluginContext, StaticFacts
from ltsp_client.pluginkit.expand import host_part
from ltsp_client.plugins.hostname import Hostname, set_kernel_hostname, with_loopback_name

DATA = Path(__file__).parent / "data"
IPV6_BLOCK = (
    "\n# The following lines are desirable for IPv6 capable hosts\n"
    "::1     localhost ip6-localhost ip6-loopback\n"
    "ff02::1 ip6-allnodes\n"
    "ff02::2 ip6-allrouters\n"
)


@pytest.fixture
def debian_root(fake_root: FakeRoot) -> FakeRoot:
    """/etc as debian-installer leaves it (hosts), with debootstrap's copied hostname."""
    fake_root.copy("/etc/hosts", DATA / "hosts.debian-installer")
    fake_root.write("/etc/hostname", "debian\n")
    fake_root.write("/etc/os-release", "ID=debian\n")
    return fake_root


def apply(root: FakeRoot, config: Config, facts: StaticFacts = FACTS) -> PluginContext:
    runner = FakeRunner()
    ctx = apply_plugin(Hostname, root, config, facts, runner=runner)
    assert ctx is not None and runner.calls == [], "the hostname plugin runs no commands"
    return ctx


def test_default_name_on_debian_root(debian_root: FakeRoot, tmp_path: Path) -> None:
    before = debian_root.tree()
    ctx = apply(debian_root, client_config(tmp_path, "[clients]\n"))
    assert debian_root.changes_since(before) == {
        "etc/hostname": "ltsp20\n",
        "etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tltsp20\n" + IPV6_BLOCK,
    }
    assert ctx.exports == {"HOSTNAME": "ltsp20"}


def test_mac_section_name_and_search_domain(debian_root: FakeRoot, tmp_path: Path) -> None:
    before = debian_root.tree()
    text = (
        "[clients]\nHOSTNAME=pc%{IP}\nSEARCH_DOMAIN=school.lan\n\n"
        "[52:54:00:ab:cd:0e]\nHOSTNAME=teacher-%{MAC}  # the desk by the window\n"
    )
    apply(debian_root, client_config(tmp_path, text))
    assert debian_root.changes_since(before) == {
        "etc/hostname": "teacher-525400abcd0e\n",
        "etc/hosts": "127.0.0.1\tlocalhost\n"
        "127.0.1.1\tteacher-525400abcd0e.school.lan teacher-525400abcd0e\n" + IPV6_BLOCK,
    }


def test_this_machines_hosts_keeps_other_lines(fake_root: FakeRoot, tmp_path: Path) -> None:
    original = Path("/etc/hosts").read_text()
    fake_root.write("/etc/hosts", original)
    apply(fake_root, client_config(tmp_path, "[clients]\nHOSTNAME=lab%{IP}\n"))
    result = fake_root.tree()
    assert sorted(result) == ["etc/hostname", "etc/hosts"]
    assert result["etc/hostname"] == "lab20\n"
    new_lines = result["etc/hosts"].splitlines()
    assert new_lines.count("127.0.1.1\tlab20") == 1
    kept = [line for line in new_lines if not line.startswith("127.0.1.1")]
    assert kept == [line for line in original.splitlines() if not line.startswith("127.0.1.1")]


def test_kernel_hostname_used_when_config_has_none(debian_root: FakeRoot) -> None:
    facts = StaticFacts(ip_address="10.161.254.38", prefixlen=16, hostname="dhcp-name")
    apply(debian_root, Config(), facts)
    assert debian_root.tree()["etc/hostname"] == "dhcp-name\n"


def test_missing_files_are_created(fake_root: FakeRoot) -> None:
    apply(fake_root, Config(assigned={"HOSTNAME": "pc%{IP}"}))
    assert fake_root.tree() == {
        "etc/hostname": "pc20\n",
        "etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tpc20\n",
    }


@pytest.mark.parametrize(
    ("address", "prefix", "expected"),
    [("192.168.67.20", 24, "20"), ("10.161.254.38", 16, "65062"), ("10.0.0.9", 32, "0")],
)
def test_host_part(address: str, prefix: int, expected: str) -> None:
    assert host_part(address, prefix) == expected


def test_no_address_for_ip_template_is_an_error_with_hint(debian_root: FakeRoot) -> None:
    before = debian_root.tree()
    with pytest.raises(LtspError) as caught:
        apply(debian_root, Config(), StaticFacts(mac_address="52:54:00:12:34:56"))
    assert "has no IPv4 address" in caught.value.message and caught.value.hint
    assert debian_root.changes_since(before) == {}, "nothing written on error"


def test_invalid_name_is_refused(debian_root: FakeRoot) -> None:
    before = debian_root.tree()
    with pytest.raises(LtspError, match="not a valid host name"):
        apply(debian_root, Config(assigned={"HOSTNAME": "bad_name!"}))
    assert debian_root.changes_since(before) == {}


def test_several_loopback_lines_become_one() -> None:
    text = "127.0.1.1 old\n127.0.0.1 localhost\n127.0.1.1 older # comment\n"
    assert with_loopback_name(text, "new") == "127.0.1.1\tnew\n127.0.0.1 localhost\n"


def test_hosts_written_through_an_absolute_link_inside_the_root(fake_root: FakeRoot) -> None:
    fake_root.write("/run/hosts", "127.0.0.1\tlocalhost\n")
    fake_root.link("/etc/hosts", "/run/hosts")
    apply(fake_root, Config())
    assert fake_root.tree() == {
        "etc/hostname": "ltsp20\n",
        "etc/hosts": "-> /run/hosts",
        "run/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tltsp20\n",
    }


class RecordingKernel:
    def __init__(self, error: OSError | None = None) -> None:
        self.names: list[str] = []
        self.error = error

    def sethostname(self, name: str) -> None:
        self.names.append(name)
        if self.error is not None:
            raise self.error


def test_kernel_hostname_is_left_alone_under_another_root(fake_root: FakeRoot) -> None:
    kernel = RecordingKernel()
    ctx = PluginContext(fake_root.path, Config(), FACTS, FakeRunner(), kernel=kernel)
    assert not ctx.is_live
    Hostname().apply(ctx)
    assert kernel.names == [], "never rename the machine running a test or `ltsp init --root`"


def test_kernel_hostname_is_set_on_the_live_client() -> None:
    kernel = RecordingKernel()
    ctx = PluginContext(Path("/"), Config(), FACTS, FakeRunner(), kernel=kernel)
    assert ctx.is_live
    set_kernel_hostname(ctx, "ltsp20")
    assert kernel.names == ["ltsp20"]


def test_a_refused_sethostname_is_only_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    kernel = RecordingKernel(PermissionError(1, "Operation not permitted"))
    ctx = PluginContext(Path("/"), Config(), FACTS, FakeRunner(), kernel=kernel)
    set_kernel_hostname(ctx, "ltsp20")
    assert "cannot set the kernel hostname to ltsp20: Operation not permitted" in caplog.text
