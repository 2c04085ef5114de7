"""`ltsp nfs`: kernel exports and the equivalent nfs-ganesha blocks, written under --root.
nfs-ganesha serving the generated blocks for real: qemu-tests/test_publish_services.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsp_client import cli
from ltsp_client.server import nfs


def run_nfs(tmp_path: Path, conf: str = "", *opts: str) -> Path:
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "ltsp.conf").write_text(conf)
    root = tmp_path / "root"
    argv = ["-b", str(tmp_path / "base"), "-t", str(tmp_path / "tftp"), "-m", "/home/nfs"]
    argv += ["nfs", "--etc", str(etc), "--root", str(root), *opts]
    assert cli.main(argv) == 0
    return root


def export_lines(root: Path) -> list[str]:
    text = (root / nfs.EXPORTS_PATH).read_text()
    return [line for line in text.splitlines() if line and not line.startswith("# ")]


def test_default_exports(tmp_path: Path) -> None:
    root = run_nfs(tmp_path)
    ro = "*(ro,async,crossmnt,no_subtree_check,no_root_squash,insecure)"
    assert export_lines(root) == [
        f"{tmp_path / 'base'}\t{ro}",
        f"{tmp_path / 'tftp' / 'ltsp'}\t{ro}",
        "#/home/nfs\t*(rw,async,no_subtree_check,no_root_squash,insecure)",
    ]
    assert (tmp_path / "base").is_dir() and (tmp_path / "tftp" / "ltsp").is_dir()
    assert not (root / nfs.GANESHA_PATH).exists()  # no ganesha on this "system"


def test_settings_and_options(tmp_path: Path) -> None:
    root = run_nfs(tmp_path, "[server]\nNFS_HOME=1\nNFS_TFTP=0\n")
    lines = export_lines(root)
    assert lines[1].startswith("#") and lines[2].startswith("/home/nfs\t*(rw,")
    root = run_nfs(tmp_path, "[server]\nNFS_HOME=1\nNFS_TFTP=0\n", "--nfs-home=0", "-t", "1")
    lines = export_lines(root)
    assert not lines[1].startswith("#") and lines[2].startswith("#")


def test_ganesha_blocks_and_include(tmp_path: Path) -> None:
    main_conf = tmp_path / "root" / nfs.GANESHA_MAIN
    main_conf.parent.mkdir(parents=True)
    main_conf.write_text("NFS_CORE_PARAM { Protocols = 3; }")  # no final newline
    root = run_nfs(tmp_path, "[server]\nNFS_HOME=1\n")
    text = (root / nfs.GANESHA_PATH).read_text()
    assert text.count("EXPORT {") == 3
    assert f"Path = {tmp_path / 'base'};" in text
    assert "Path = /home/nfs;\n    Pseudo = /home/nfs;\n    Access_Type = RW;" in text
    assert text.count("Access_Type = RO;") == 2
    assert "Export_Id = 67;" in text and "Export_Id = 69;" in text
    include = '%include "/etc/ganesha/ltsp-nfs.conf"'
    assert main_conf.read_text().splitlines()[0] == "NFS_CORE_PARAM { Protocols = 3; }"
    run_nfs(tmp_path, "[server]\nNFS_HOME=1\n")  # twice: one include line
    assert main_conf.read_text().splitlines().count(include) == 1
    # NFS_HOME=0: no home block (ganesha has no commented-out exports)
    root = run_nfs(tmp_path, "", "--server=ganesha")
    assert "/home/nfs" not in (root / nfs.GANESHA_PATH).read_text().replace("#", "")


def test_server_choice(tmp_path: Path) -> None:
    root = run_nfs(tmp_path, "", "--server", "ganesha")
    assert (root / nfs.GANESHA_PATH).is_file() and not (root / nfs.EXPORTS_PATH).exists()


def test_overwrite_0_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_nfs(tmp_path)
    argv = ["-b", str(tmp_path / "b2"), "-t", str(tmp_path / "t2"), "--overwrite=0", "nfs"]
    argv += ["--etc", str(tmp_path / "etc")]
    assert cli.main([*argv, "--root", str(tmp_path / "root")]) == 1
    assert "OVERWRITE=0" in capsys.readouterr().err
    assert not (tmp_path / "b2").exists() and not (tmp_path / "t2").exists()
