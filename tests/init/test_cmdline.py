from __future__ import annotations

from pathlib import Path

from ltsp_client.init.cmdline import parse, read

LTSP_IPXE = (
    "initrd=ltsp.img initrd=initrd.img root=/dev/nfs nfsroot=192.168.67.1:/srv/ltsp "
    "ltsp.image=images/x86_64.img loop.max_part=9 BOOTIF=01-52-54-00-12-34-56 quiet"
)


def test_upstream_ipxe_command_line() -> None:
    cmd = parse(LTSP_IPXE)
    assert cmd.root == "/dev/nfs"
    assert cmd.nfsroot == "192.168.67.1:/srv/ltsp"
    assert cmd.ltsp == {"IMAGE": "images/x86_64.img"}
    assert cmd.bootif == "01-52-54-00-12-34-56"
    assert cmd.bootif_mac == "52:54:00:12:34:56"
    assert cmd.is_network_root
    assert "loop.max_part=9" in cmd.unknown and "quiet" in cmd.unknown
    assert not cmd.debug_shell and not cmd.strict and cmd.break_step == ""


def test_nbd_command_line_and_empty_image() -> None:
    cmd = parse("root=/dev/nbd0 nbdroot=192.168.77.1,x86_64,nbd0 boot=local ltsp.image=")
    assert cmd.root == "/dev/nbd0" and cmd.nbdroot == "192.168.77.1,x86_64,nbd0"
    assert cmd.ltsp == {"IMAGE": ""}
    assert cmd.is_network_root


def test_ltsp_variables_names_and_last_wins() -> None:
    cmd = parse("ltsp.image-to-ram=1 LTSP.Read_Ahead_KB=4 ltsp.image=a ltsp.image=b")
    assert cmd.ltsp == {"IMAGE_TO_RAM": "1", "READ_AHEAD_KB": "4", "IMAGE": "b"}


def test_shell_break_strict_flags() -> None:
    cmd = parse("ltsp.break=mount ltsp.shell ltsp.strict")
    assert cmd.break_step == "mount" and cmd.debug_shell and cmd.strict
    assert "BREAK" not in cmd.ltsp
    assert parse("ltsp.debug_shell=1").debug_shell
    assert parse("DEBUG_SHELL=1").debug_shell
    assert not parse("ltsp.debug_shell=0").debug_shell
    assert parse("ltsp.debug_shell=yes").debug_shell and parse("DEBUG_SHELL=true").debug_shell
    assert not parse("ltsp.shell=off").debug_shell and parse("ltsp.strict=on").strict
    assert parse("ltsp.strict=1").strict and not parse("ltsp.strict=0").strict


def test_dotless_parameters_are_environment() -> None:
    cmd = parse("BLACKLIST_MODULES=floppy,pcspkr ip=dhcp init=/bin/sh rootflags=vers=3")
    assert cmd.environ == {"BLACKLIST_MODULES": "floppy,pcspkr"}
    assert cmd.ip == "dhcp" and cmd.init == "/bin/sh" and cmd.rootflags == "vers=3"


def test_malformed_bootif() -> None:
    assert parse("BOOTIF=52:54:00:12:34:56").bootif_mac == ""


def test_read_missing_file(tmp_path: Path) -> None:
    assert read(tmp_path / "nope").tokens == ()
    (tmp_path / "cmdline").write_text("root=/dev/nfs ltsp.image=x\n")
    assert read(tmp_path / "cmdline").ltsp == {"IMAGE": "x"}
