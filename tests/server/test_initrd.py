"""`ltsp initrd`: the ltsp.img layout, determinism, atomic replace, module selection."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from initramfs_reader import Segment, read_image

from ltsp_client.applet import Context
from ltsp_client.errors import ConfigError, LtspError
from ltsp_client.server import cpio, initrd

WANTED = {"squashfs", "overlay", "loop", "isofs", "nbd"}


def fake_binary_tree(
    root: Path, interp: str = "/usr/lib/ltsp/_internal/ld-linux-x86-64.so.2"
) -> Path:
    tree = root / "frozen"
    (tree / "_internal" / "python3.11").mkdir(parents=True)
    shutil.copy2("/bin/true", tree / "ltsp")
    subprocess.run(["patchelf", "--set-interpreter", interp, str(tree / "ltsp")], check=True)
    (tree / "_internal" / "libpython.so").write_bytes(b"\x7fELF fake" * 1000)
    (tree / "_internal" / "python3.11" / "mod.so").write_bytes(b"mod")
    (tree / "_internal" / "libz.so").symlink_to("libpython.so")
    return tree


@pytest.fixture()
def setup(tmp_path: Path) -> dict[str, Path]:
    hooks = tmp_path / "initramfs-hooks"
    (hooks / "initramfs-tools" / "scripts" / "init-bottom").mkdir(parents=True)
    (hooks / "initramfs-tools" / "ltsp.conf").write_text("ltsp_hook=1\n")
    script = hooks / "initramfs-tools" / "scripts" / "init-bottom" / "ltsp"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    etc = tmp_path / "etc-ltsp"
    (etc / "plugins").mkdir(parents=True)
    (etc / "ltsp.conf").write_text("[clients]\nHOSTNAME=pc\n")
    (etc / "plugins" / "site.py").write_text("# admin plugin\n")
    return {
        "hooks": hooks,
        "etc": etc,
        "tree": fake_binary_tree(tmp_path),
        "tftp": tmp_path / "tftp",
        "out": tmp_path / "out" / "ltsp.img",
    }


def ctx(tftp: Path) -> Context:
    return Context.from_environment("initrd", {"TFTP_DIR": str(tftp)}, environ={})


def build(s: dict[str, Path], *extra: str, output: bool = True) -> list[Segment]:
    args = ["--etc", str(s["etc"]), "--hooks-dir", str(s["hooks"]), *extra]
    args += ["--server-etc", str(s["etc"].parent / "no-server-etc")]
    if "--no-binary" not in extra:
        args += ["--binary-tree", str(s["tree"])]
    if output:
        args += ["--output", str(s["out"])]
    assert initrd.main(ctx(s["tftp"]), args) == 0
    path = s["out"] if output else s["tftp"] / "ltsp" / "ltsp.img"
    return read_image(path.read_bytes())


def test_layout_of_ltsp_img(
    setup: dict[str, Path], modules_root: Path, kernel_moddir: Path
) -> None:
    config, binary = build(setup, "--modules-from", str(modules_root))
    assert config.compression == "none" and binary.compression == "gzip"
    assert config.names() == [
        "conf",
        "conf/conf.d",
        "conf/conf.d/00-ltsp.conf",
        "etc",
        "etc/ltsp",
        "etc/ltsp/ltsp.conf",
        "etc/ltsp/plugins",
        "etc/ltsp/plugins/site.py",
        "scripts",
        "scripts/init-bottom",
        "scripts/init-bottom/ltsp",
    ]
    assert config.by_name()["conf/conf.d/00-ltsp.conf"].data == b"ltsp_hook=1\n"
    assert config.by_name()["scripts/init-bottom/ltsp"].mode & 0o777 == 0o755
    members = binary.by_name()
    tree = setup["tree"]
    assert members["usr/lib/ltsp/ltsp"].data == (tree / "ltsp").read_bytes()
    assert members["usr/lib/ltsp/ltsp"].mode & 0o111
    assert members["usr/lib/ltsp/_internal/python3.11/mod.so"].data == b"mod"
    assert members["usr/lib/ltsp/_internal/libz.so"].data == b"libpython.so"  # symlink kept
    kver = kernel_moddir.name
    prefix = f"usr/lib/ltsp/modules/{kver}/"
    shipped = {n.removeprefix(prefix): members[n].data for n in members if n.startswith(prefix)}
    chosen = initrd.select_modules(kernel_moddir)
    assert chosen.files, f"{kernel_moddir} has none of {sorted(WANTED)} as modules"
    # every chosen module file, flat, with its real bytes, plus a modules.dep for them
    for rel in chosen.files:
        assert shipped[rel.rsplit("/", 1)[1]] == (kernel_moddir / rel).read_bytes()
    assert set(shipped) == {f.rsplit("/", 1)[1] for f in chosen.files} | {"modules.dep"}
    dep_lines = shipped["modules.dep"].decode().splitlines()
    assert sorted(line.split(":")[0] for line in dep_lines) == sorted(
        f.rsplit("/", 1)[1] for f in chosen.files
    )


def test_default_output_is_tftp_dir_and_no_binary_is_small(setup: dict[str, Path]) -> None:
    segments = build(setup, "--no-binary", output=False)
    img = setup["tftp"] / "ltsp" / "ltsp.img"
    assert img.stat().st_size < 2**20
    assert img.stat().st_mode & 0o777 == 0o644
    assert len(segments) == 1
    assert not any(n.startswith("usr/") for n in segments[0].names())
    listing = subprocess.run(
        ["cpio", "-t", "--quiet"], stdin=img.open("rb"), capture_output=True, text=True, check=True
    ).stdout.split()
    assert listing == segments[0].names()


def test_uncompressed_option_gives_plain_cpio_segments(setup: dict[str, Path]) -> None:
    segments = build(setup, "--compress", "none")
    assert [s.compression for s in segments] == ["none", "none"]


def test_republishing_same_input_gives_same_bytes(setup: dict[str, Path]) -> None:
    build(setup)
    first = setup["out"].read_bytes()
    (setup["etc"] / "ltsp.conf").touch()
    build(setup)
    assert setup["out"].read_bytes() == first
    (setup["etc"] / "ltsp.conf").write_text("[clients]\nHOSTNAME=other\n")
    build(setup)
    assert setup["out"].read_bytes() != first


def test_failed_write_leaves_the_old_image(
    setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup["out"].parent.mkdir(parents=True)
    setup["out"].write_bytes(b"old image")
    calls = {"n": 0}
    real_chunks = cpio._chunks

    def failing_chunks(entry: cpio.Entry):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(28, "No space left on device")
        yield from real_chunks(entry)

    monkeypatch.setattr(cpio, "_chunks", failing_chunks)
    with pytest.raises(LtspError, match="No space left") as info:
        build(setup)
    assert "unchanged" in info.value.hint
    assert setup["out"].read_bytes() == b"old image"
    assert [p.name for p in setup["out"].parent.iterdir()] == ["ltsp.img"]


def test_tree_not_built_for_usr_lib_ltsp_is_refused(setup: dict[str, Path], tmp_path: Path) -> None:
    bad = fake_binary_tree(tmp_path / "bad", interp="/lib64/ld-linux-x86-64.so.2")
    with pytest.raises(LtspError, match="not one under /usr/lib/ltsp"):
        initrd.main(
            ctx(setup["tftp"]), ["--binary-tree", str(bad), "--hooks-dir", str(setup["hooks"])]
        )
    with pytest.raises(LtspError, match="not a frozen ltsp tree"):
        initrd.main(
            ctx(setup["tftp"]), ["--binary-tree", str(tmp_path), "--hooks-dir", str(setup["hooks"])]
        )


def test_missing_hook_is_an_error(setup: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(LtspError, match=r"ltsp\.conf is missing"):
        initrd.main(ctx(setup["tftp"]), ["--no-binary", "--hooks-dir", str(tmp_path)])


def test_broken_ltsp_conf_refuses_to_publish(setup: dict[str, Path]) -> None:
    setup["out"].parent.mkdir(parents=True)
    setup["out"].write_bytes(b"old image")
    (setup["etc"] / "ltsp.conf").write_text("[clients]\nHOSTNAME=pc\nLOCAL_SWAP=maybe\n")
    with pytest.raises(ConfigError, match=r"ltsp\.conf:3: LOCAL_SWAP: error: .*boolean") as info:
        build(setup)
    assert "ltsp config check" in info.value.hint
    assert setup["out"].read_bytes() == b"old image"


def real_dependencies(moddir: Path) -> dict[str, list[str]]:
    """modules.dep read independently of the code under test: file -> files it needs."""
    deps = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        module, _, needs = line.partition(":")
        deps[module] = needs.split()
    return deps


def test_module_selection_against_a_real_kernel(kernel_moddir: Path) -> None:
    chosen = initrd.select_modules(kernel_moddir)
    assert chosen.kver == kernel_moddir.name
    builtin_text = (kernel_moddir / "modules.builtin").read_text()
    deps = real_dependencies(kernel_moddir)
    # every wanted module is shipped, or built in, or reported missing: nothing is lost
    names = {initrd.module_name(f) for f in chosen.files}
    assert names | set(chosen.builtin) | set(chosen.missing) >= WANTED
    for name in chosen.builtin:
        assert f"/{name}.ko" in builtin_text.replace("-", "_")
    for name in WANTED & names:
        assert not any(initrd.module_name(line) == name for line in builtin_text.splitlines()), (
            f"{name} is both built in and a module"
        )
    # dependencies first, and all of them (the closure of modules.dep)
    order = list(chosen.files)
    for index, module in enumerate(order):
        assert (kernel_moddir / module).is_file()
        for need in deps[module]:
            assert need in order[:index], f"{module} needs {need} before it"
    assert set(order) <= set(deps)
    first_builtin = builtin_text.split()[0]
    builtin_name = initrd.module_name(first_builtin)
    other = initrd.select_modules(kernel_moddir, wanted=[builtin_name, "no_such_mod"])
    assert other.files == () and other.builtin == (builtin_name,)
    assert other.missing == ("no_such_mod",)


def test_builtin_modules_are_not_copied(tmp_path: Path) -> None:
    moddir = tmp_path / "lib/modules/9.9.9"
    (moddir / "kernel/fs").mkdir(parents=True)
    (moddir / "modules.dep").write_text(
        "kernel/fs/squashfs.ko.xz:\nkernel/fs/a-b.ko.xz: kernel/fs/c.ko.xz kernel/fs/d.ko.xz\n"
    )
    (moddir / "modules.builtin").write_text("kernel/fs/overlayfs/overlay.ko\n")
    chosen = initrd.select_modules(moddir, wanted=["squashfs", "overlay", "a_b"])
    assert chosen.files == (
        "kernel/fs/squashfs.ko.xz",
        "kernel/fs/d.ko.xz",
        "kernel/fs/c.ko.xz",
        "kernel/fs/a-b.ko.xz",
    )
    assert chosen.builtin == ("overlay",)
    assert initrd.kernel_module_dirs(tmp_path) == [moddir]


def test_shell_syntax_error_refuses_to_publish(setup: dict[str, Path]) -> None:
    (setup["etc"] / "site.sh").write_text("if true; then\n  echo missing fi\n")
    bad_hook = setup["hooks"] / "initramfs-tools" / "scripts" / "init-bottom" / "ltsp"
    bad_hook.write_text("#!/bin/sh\ncase x in\n")
    (setup["hooks"] / "initramfs-tools" / "scripts" / "init-bottom" / "ORDER.txt").write_text(
        "not shell ((\n"
    )
    with pytest.raises(LtspError, match="shell syntax errors") as info:
        build(setup)
    message = str(info.value)
    assert "/etc/ltsp/site.sh:" in message
    assert "/scripts/init-bottom/ltsp:" in message
    assert "ORDER.txt" not in message  # no shebang, not *.sh: not checked
    assert not setup["out"].exists()
