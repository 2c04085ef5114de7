"""PluginContext: typed reads through the parameter table, and %{VAR} expansion."""

from __future__ import annotations

from pathlib import Path

import pytest
from goldentree import FACTS, FakeRunner, client_config

from ltsp_client.config.model import Config
from ltsp_client.errors import ConfigError, LtspError
from ltsp_client.pluginkit import PluginContext, StaticFacts


def context(
    config: Config, facts: StaticFacts = FACTS, root: Path = Path("/nonexistent")
) -> PluginContext:
    return PluginContext(root, config, facts, FakeRunner())


def test_typed_reads_apply_the_declared_defaults(tmp_path: Path) -> None:
    text = (
        "[clients]\nRELOGIN=0\nMENU_TIMEOUT=3000\nDNS_SERVER='10.0.0.1 10.0.0.2'\n"
        "CRONTAB_B='0 4 * * * root b'\nCRONTAB_A='0 3 * * * root a'\nCRONTAB_C=''\n"
    )
    ctx = context(client_config(tmp_path, text))
    assert ctx.flag("RELOGIN") is False
    assert ctx.flag("LOCAL_SWAP") is True, "declared default 1"
    assert ctx.flag("NFS_HOME") is False
    assert ctx.number("MENU_TIMEOUT") == 3000
    assert ctx.number("RELOGIN_TIMEOUT") == 2
    assert ctx.text("LANG") == "C.UTF-8"
    assert ctx.words("DNS_SERVER") == ["10.0.0.1", "10.0.0.2"]
    assert ctx.words("BLACKLIST_MODULES") == ["floppy"]
    assert ctx.items("CRONTAB_") == ["0 3 * * * root a", "0 4 * * * root b"]
    assert ctx.setting("CRONTAB_") == ctx.items("CRONTAB_")
    assert ctx.setting("PROXY_DHCP") is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[("1", True), ("yes", True), (" TRUE ", True), ("on", True), ("y", True)],
        *[("0", False), ("no", False), ("false", False), ("", False), ("maybe", False)],
    ],
)
def test_one_boolean_rule(value: str, expected: bool) -> None:
    assert context(Config({"NFS_HOME": value})).flag("NFS_HOME") is expected


def test_a_bad_number_names_file_line_and_parameter(tmp_path: Path) -> None:
    ctx = context(client_config(tmp_path, "[clients]\nMENU_TIMEOUT=soon\n"))
    with pytest.raises(ConfigError) as caught:
        ctx.number("MENU_TIMEOUT")
    assert caught.value.location.endswith("ltsp.conf:2: MENU_TIMEOUT")
    assert "'soon' is not a whole number" in caught.value.message


def test_wrong_kind_and_undeclared_names_are_programming_errors() -> None:
    ctx = context(Config())
    with pytest.raises(TypeError, match="declared as 'bool'"):
        ctx.text("RELOGIN")
    with pytest.raises(TypeError, match="declared as 'int'"):
        ctx.flag("MENU_TIMEOUT")
    with pytest.raises(KeyError, match="NOT_A_PARAM"):
        ctx.setting("NOT_A_PARAM")
    with pytest.raises(TypeError, match="not a NAME_x list"):
        ctx.items("RELOGIN")


def test_expand_fills_in_the_client(tmp_path: Path) -> None:
    ctx = context(client_config(tmp_path, "[clients]\nSSH_SERVER=srv\n"))
    assert ctx.expand("pc%{IP}-%{MAC}") == "pc20-525400abcd0e"
    assert ctx.expand("%{SSH_SERVER}:%{UNSET}") == "srv:"
    assert ctx.expand("no percent") == "no percent"
    ctx.export("HOSTNAME", "pc20")
    assert ctx.expand("^(%{HOSTNAME}|guest)$") == "^(pc20|guest)$"
    assert ctx.expand("%{HOSTNAME#pc}") == "20"


def test_expand_hostname_falls_back_to_the_facts() -> None:
    ctx = context(Config(), StaticFacts(ip_address="10.161.254.38", prefixlen=16, hostname="dhcp"))
    assert ctx.expand("%{HOSTNAME}/%{IP}") == "dhcp/65062"


def test_expand_ip_without_an_address_is_an_error() -> None:
    ctx = context(Config(), StaticFacts(mac_address="52:54:00:12:34:56"))
    assert ctx.expand("pc%{MAC}") == "pc525400123456"
    with pytest.raises(LtspError, match="no IPv4 address"):
        ctx.expand("pc%{IP}")


def test_helpers_write_under_the_root(tmp_path: Path) -> None:
    ctx = context(Config(), root=tmp_path)
    ctx.write_file("/etc/motd", "hi\n")
    assert (tmp_path / "etc/motd").read_text() == "hi\n"
    assert ctx.read_text("/etc/motd") == "hi\n"
    assert ctx.read_text("/etc/none") is None
    assert ctx.remove_file("/etc/motd")
    assert not ctx.unit_installed("ssh.service")
