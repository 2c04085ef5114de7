"""`ltsp init`'s command line: lenient as pid 1, strict with --root DIR."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.init.options import parse_args


@pytest.mark.parametrize(
    ("args", "init_args"),
    [
        ([], ()),
        (["splash", "single"], ("splash", "single")),
        (["--", "--weird", "-x"], ("--weird", "-x")),
        (["--dry-run", "quiet"], ("--dry-run", "quiet")),  # pid 1: the kernel's words, never ours
    ],
)
def test_as_pid1_every_word_is_the_real_inits(args: list[str], init_args: tuple[str, ...]) -> None:
    parsed = parse_args(args)
    assert parsed is not None
    assert parsed.root == Path("/") and not parsed.test_root and parsed.hand_over
    assert parsed.init_args == init_args


def test_root_with_init_args_hands_over(tmp_path: Path) -> None:
    parsed = parse_args(["--root", str(tmp_path), "--hooks", "--", "--root", "splash"])
    assert parsed is not None
    assert parsed.root == tmp_path and parsed.test_root and parsed.hooks
    assert parsed.hand_over and parsed.init_args == ("--root", "splash")


def test_root_alone_applies_without_handing_over(tmp_path: Path) -> None:
    parsed = parse_args([f"--root={tmp_path}", "--dry-run"])
    assert parsed is not None
    assert parsed.dry_run and not parsed.hand_over and not parsed.hooks
    assert parsed.client is None and parsed.config_file is None


def test_client_identity_and_its_subnet_defaults(tmp_path: Path) -> None:
    conf = tmp_path / "ltsp.conf"
    conf.write_text("[clients]\n")
    args = ["--root", str(tmp_path), "--config", str(conf), "--mac", "52-54-00-AB-CD-EF"]
    parsed = parse_args([*args, "--ip", "10.1.2.30/23", "--hostname", "pc30"])
    assert parsed is not None and parsed.client is not None
    client = parsed.client
    assert parsed.config_file == conf
    assert (client.mac_address, client.ip_address, client.prefixlen) == (
        "52:54:00:ab:cd:ef",
        "10.1.2.30",
        23,
    )
    assert client.gateway == "10.1.2.1" and client.hostname == "pc30" and client.device == "eth0"
    assert client.ipconfig["ROOTSERVER"] == "10.1.2.1"
    assert client.ipconfig["IPV4DNS0"] == "10.1.2.1" and client.ipconfig["IPV4DNS1"] == "0.0.0.0"
    assert client.ipconfig["IPV4NETMASK"] == "255.255.254.0"


def test_given_server_and_dns(tmp_path: Path) -> None:
    args = ["--root", str(tmp_path), "--mac", "52:54:00:12:34:56", "--ip", "192.168.67.20/24"]
    parsed = parse_args([*args, "--server", "192.168.67.2", "--dns", "9.9.9.9,1.1.1.1"])
    assert parsed is not None and parsed.client is not None
    ipconfig = parsed.client.ipconfig
    assert ipconfig["ROOTSERVER"] == "192.168.67.2" and parsed.client.gateway == "192.168.67.1"
    assert (ipconfig["IPV4DNS0"], ipconfig["IPV4DNS1"]) == ("9.9.9.9", "1.1.1.1")


@pytest.mark.parametrize(
    ("extra", "message", "hint"),
    [
        (["--dry-rn"], "unknown option --dry-rn", "did you mean --dry-run?"),
        (["--hostname=x"], "--hostname describes a client", ""),
        (["--mac", "52:54:00:12:34:56"], "--mac and --ip go together", ""),
        (["splash"], "unexpected argument 'splash'", "after `--`"),
        (["--dry-run", "--", "splash"], "a dry run execs nothing", ""),
        (["--dry-run", "--hooks"], "--hooks runs shell on this machine", ""),
        (["--config"], "--config needs a value", ""),
        (["--config", "/nonexistent/ltsp.conf"], "no such file", ""),
        (["--mac", "52:54:00", "--ip", "192.168.67.20/24"], "not a MAC address", ""),
        (["--mac", "52:54:00:12:34:56", "--ip", "192.168.67.20"], "not an IPv4", "/24"),
        (["--dry-run=1"], "--dry-run takes no value", ""),
    ],
)
def test_with_root_a_wrong_word_is_an_error(
    tmp_path: Path, extra: list[str], message: str, hint: str
) -> None:
    with pytest.raises(LtspError) as caught:
        parse_args(["--root", str(tmp_path), *extra])
    assert message in caught.value.message
    assert hint in caught.value.hint


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(LtspError, match="not a directory"):
        parse_args(["--root", str(tmp_path / "missing"), "--dry-run"])
