"""`ltsp ipxe`: the menu from a real ltsp.conf and BASE_DIR, and the binaries from Debian's
ipxe and memtest86+ packages. The QEMU lab boots through this menu
(qemu-tests/test_ours_pxe.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ltsp_client import cli
from ltsp_client.errors import LtspError
from ltsp_client.server import ipxe

IPXE_LIB = Path("/usr/lib/ipxe")


def make_base(tmp_path: Path, images: tuple[str, ...] = ("x86_64", "focal")) -> Path:
    base = tmp_path / "base"
    (base / "images").mkdir(parents=True)
    for name in images:
        (base / "images" / f"{name}.img").write_bytes(b"hsqs")
    (base / "images" / "old.img.old").write_bytes(b"hsqs")  # not an image
    (base / "buster" / "proc").mkdir(parents=True)
    (base / "notachroot").mkdir()
    return base


def ipxe_argv(tmp_path: Path, conf: str, *args: str, base: Path | None = None) -> list[str]:
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "ltsp.conf").write_text(conf)
    if base is None:
        base = tmp_path / "base"
        if not base.exists():
            make_base(tmp_path)
    return ["-b", str(base), "-t", str(tmp_path / "tftp"), "ipxe", "--etc", str(etc), *args]


def run_ipxe(tmp_path: Path, conf: str, *args: str, base: Path | None = None) -> str:
    assert cli.main(ipxe_argv(tmp_path, conf, *args, base=base)) == 0
    return (tmp_path / "tftp" / "ltsp" / "ltsp.ipxe").read_text()


def labels(script: str) -> set[str]:
    return {line[1:] for line in script.splitlines() if line.startswith(":")}


def block(script: str, label: str) -> list[str]:
    """The lines of a label up to the next blank line."""
    lines = script.splitlines()
    start = lines.index(f":{label}")
    end = lines.index("", start)
    return lines[start + 1 : end]


def test_menu_items_keys_titles_and_methods(tmp_path: Path) -> None:
    conf = '[server]\nIPXE_X86_64_IMG="Debian 12 (amd64)"\nIPXE_BUSTER="Buster chroot"\n'
    script = run_ipxe(tmp_path, conf, "--binaries=0")
    items = [line.split(None, 4) for line in script.splitlines() if line.startswith("item --key")]
    assert [(i[2], i[3], i[4]) for i in items[:3]] == [
        ("1", "focal", "focal.img"),
        ("2", "x86_64", "Debian 12 (amd64)"),
        ("3", "r_buster", "Buster chroot"),
    ]
    base = tmp_path / "base"
    # images fall through into :images with img already set by the menu
    assert ":focal\n:x86_64\n:images\n" in script
    assert f"nfsroot=${{srv}}:{base} ltsp.image=images/${{img}}.img loop.max_part=9" in script
    assert block(script, "r_buster") == ["set img buster", "goto roots"]
    assert f"nfsroot=${{srv}}:{base}/${{img}}" in script
    assert "notachroot" not in script and "old" not in labels(script)
    # every goto has its label (the menu choices and ${img} values are labels too)
    targets = set(re.findall(r"goto ([\w:-]+)", script))
    assert targets <= labels(script), targets - labels(script)


def test_tftp_only_loads_ltsp_img_first(tmp_path: Path) -> None:
    script = run_ipxe(tmp_path, "", "--binaries=0")
    ltsp = block(script, "ltsp")
    kernel = [line for line in ltsp if line.startswith("kernel ")]
    assert kernel == ["kernel /ltsp/${img}/vmlinuz initrd=ltsp.img initrd=initrd.img ${cmdline}"]
    initrds = [line for line in ltsp if line.startswith("initrd ")]
    assert initrds == ["initrd /ltsp/ltsp.img", "initrd /ltsp/${img}/initrd.img"]
    assert "http" not in script.lower().replace("http failed", "")


def test_http_loads_over_http_and_falls_back_to_tftp(tmp_path: Path) -> None:
    script = run_ipxe(tmp_path, "[server]\nHTTP_URL='http://${srv}:8080/'\n", "--binaries=0")
    assert "set http-url http://${srv}:8080\n" in script
    ltsp = block(script, "ltsp")
    assert "kernel ${http-url}/ltsp/${img}/vmlinuz initrd=ltsp.img initrd=initrd.img " in (
        "\n".join(ltsp)
    )
    assert "initrd ${http-url}/ltsp/ltsp.img || goto ltsp_tftp" in ltsp
    assert "initrd ${http-url}/ltsp/${img}/initrd.img || goto ltsp_tftp" in ltsp
    fallback = block(script, "ltsp_tftp")
    assert "imgfree" in fallback and "initrd /ltsp/ltsp.img" in fallback
    # HTTP=1 alone: the LTSP server itself, port 80
    script = run_ipxe(tmp_path, "[server]\nHTTP=1\n", "--binaries=0")
    assert "set http-url http://${srv}\n" in script


def test_bad_http_url_and_timeout_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(ipxe_argv(tmp_path, "[server]\nHTTP_URL=ftp://x\n", "-b0")) == 1
    assert "HTTP_URL='ftp://x' is not an http:// URL" in capsys.readouterr().err
    conf = "[52:54:00:00:00:01]\nMENU_TIMEOUT=soon\n"
    assert cli.main(ipxe_argv(tmp_path, conf, "-b0")) == 1
    assert "MENU_TIMEOUT='soon' in [52:54:00:00:00:01]" in capsys.readouterr().err
    assert not (tmp_path / "tftp" / "ltsp" / "ltsp.ipxe").exists()


def test_global_and_per_mac_settings(tmp_path: Path) -> None:
    conf = """
[server]
KERNEL_PARAMETERS="quiet splash"
DEFAULT_IMAGE=focal
MENU_TIMEOUT=1000

[52:54:00:00:02:11]
HOSTNAME=pc11
KERNEL_PARAMETERS="root=/dev/nbd0 nbdroot=192.168.67.1,x86_64,nbd0"

[52:54:00:00:02:12]
HOSTNAME=only-a-hostname

[52:54:00:00:02:13]
INCLUDE=fast

[52:54:00:00:02:*]
DEFAULT_IMAGE=never-a-block

[fast]
MENU_TIMEOUT=-1
DEFAULT_IMAGE=r_buster
"""
    script = run_ipxe(tmp_path, conf, "--binaries=0")
    head = script.split("goto ${mac}")[0]
    assert "set cmdline_client quiet splash\nset img focal\n" in head
    assert "isset ${menu-timeout} || set menu-timeout 1000" in script
    assert block(script, "52:54:00:00:02:11") == [
        "set hostname pc11",
        "set cmdline_client root=/dev/nbd0 nbdroot=192.168.67.1,x86_64,nbd0",
        "goto start",
    ]
    # an INCLUDEd section counts; the global values are not repeated in the block
    assert block(script, "52:54:00:00:02:13") == [
        "set img r_buster",
        "set menu-timeout -1",
        "goto start",
    ]
    # no client parameter, no block; glob sections are not MACs
    assert "52:54:00:00:02:12" not in script and "never-a-block" not in script
    assert script.index(":52:54:00:00:02:11") < script.index(":52:54:00:00:02:13")


def test_default_menu_timeout_and_no_client_blocks(tmp_path: Path) -> None:
    script = run_ipxe(tmp_path, "", "--binaries=0")
    assert "isset ${menu-timeout} || set menu-timeout 5000" in script
    assert not [lab for lab in labels(script) if lab.count(":") == 5]


def test_overwrite_0_keeps_the_menu(tmp_path: Path) -> None:
    target = tmp_path / "tftp" / "ltsp" / "ltsp.ipxe"
    target.parent.mkdir(parents=True)
    target.write_text("#!ipxe\n# hand edited\n")
    etc = tmp_path / "etc"
    etc.mkdir()
    base = make_base(tmp_path)
    argv = ["-b", str(base), "-t", str(tmp_path / "tftp"), "--overwrite=0", "ipxe", "-b0"]
    argv += ["--etc", str(etc)]
    assert cli.main(argv) == 0
    assert target.read_text() == "#!ipxe\n# hand edited\n"
    argv[4] = "--overwrite=1"
    assert cli.main(argv) == 0
    assert "hand edited" not in target.read_text()


def test_binaries_from_debian_ipxe_and_memtest(
    tmp_path: Path, debroot: Callable[..., Path]
) -> None:
    """BINARIES unset: only missing ones; 1: all again; 0: none. Sources are the real
    files of Debian's ipxe and memtest86+ packages."""
    source = debroot("ipxe", "memtest86+", name="src")
    tftp = tmp_path / "tftp" / "ltsp"

    script = run_ipxe(tmp_path, "", "--source-root", str(source))
    want = {
        "undionly.kpxe": source / "usr/lib/ipxe/undionly.kpxe",
        "snponly.efi": source / "usr/lib/ipxe/snponly.efi",
        "memtest.0": source / "boot/memtest86+ia32.bin",
        "memtest.efi": source / "boot/memtest86+x64.efi",
    }
    for target, origin in want.items():
        assert (tftp / target).read_bytes() == origin.read_bytes(), target
        assert (tftp / target).stat().st_mode & 0o777 == 0o644
    # memtest present: the menu offers it, for BIOS and EFI
    assert "item --key m memtest" in script
    assert "iseq ${platform} pcbios && kernel memtest.0 || kernel memtest.efi" in script

    (tftp / "undionly.kpxe").write_bytes(b"local build")
    run_ipxe(tmp_path, "", "--source-root", str(source))
    assert (tftp / "undionly.kpxe").read_bytes() == b"local build"  # unset: kept
    run_ipxe(tmp_path, "[server]\nBINARIES=0\n", "--source-root", str(source))
    assert (tftp / "undionly.kpxe").read_bytes() == b"local build"
    run_ipxe(tmp_path, "", "--binaries", "--source-root", str(source))
    assert (tftp / "undionly.kpxe").read_bytes() == want["undionly.kpxe"].read_bytes()


def test_no_memtest_no_menu_entry_and_missing_ipxe_is_an_error(tmp_path: Path) -> None:
    script = run_ipxe(tmp_path, "")  # host: Debian's ipxe installed, no memtest86+ in /boot
    assert (tmp_path / "tftp/ltsp/undionly.kpxe").read_bytes() == (
        IPXE_LIB / "undionly.kpxe"
    ).read_bytes()
    if not Path("/boot/memtest86+x64.efi").exists():
        assert "item --key m" not in script and ":memtest" not in script
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LtspError, match=r"undionly\.kpxe") as error:
        ipxe.install_binaries(tmp_path / "t2", mode="1", source_root=empty)
    assert "ipxe package" in error.value.hint


def test_problems_name_missing_kernels_and_unknown_defaults(tmp_path: Path) -> None:
    base = make_base(tmp_path, images=("x86_64",))
    tftp = tmp_path / "tftp" / "ltsp"
    (tftp / "x86_64").mkdir(parents=True)
    (tftp / "x86_64" / "vmlinuz").write_bytes(b"k")
    run_ipxe(
        tmp_path, "[server]\nDEFAULT_IMAGE=nope\n[52:54:00:00:00:01]\nDEFAULT_IMAGE=x86_64\n",
        "-b0", base=base,
    )  # fmt: skip
    from ltsp_client.server.settings import load

    settings = load(
        cli.Context.from_environment("ipxe", {"BASE_DIR": str(base)}, environ={}),
        "ipxe",
        tmp_path / "etc",
    )
    found = ipxe.problems(ipxe.build_menu(settings, tftp_ltsp=tftp), tftp)
    assert any("buster: no kernel" in p for p in found), found
    assert any("DEFAULT_IMAGE=nope" in p for p in found), found
    assert not any("x86_64" in p for p in found), found
    (base / "images" / "shell.img").write_bytes(b"hsqs")
    found = ipxe.problems(ipxe.build_menu(settings, tftp_ltsp=tftp), tftp)
    assert any("image shell: the name is one of the menu's own labels" in p for p in found)


def test_title_param_names() -> None:
    assert ipxe.title_param("x86_64.img") == "IPXE_X86_64_IMG"
    assert ipxe.title_param("buster") == "IPXE_BUSTER"
    assert ipxe.title_param("my-img.v2") == "IPXE_MY_IMG_V2"


def test_etc_defaults_to_ltsp_etc_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --etc, an applet reads ltsp.conf where the dispatcher does: $LTSP_ETC_DIR."""
    argv = ipxe_argv(tmp_path, '[server]\nIPXE_X86_64_IMG="From the env dir"\n')
    etc_at = argv.index("--etc")
    monkeypatch.setenv("LTSP_ETC_DIR", argv[etc_at + 1])
    assert cli.main(argv[:etc_at] + argv[etc_at + 2 :]) == 0
    script = (tmp_path / "tftp" / "ltsp" / "ltsp.ipxe").read_text()
    assert "From the env dir" in script
