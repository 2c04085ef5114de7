"""The frozen binary as pid 1, from ltsp.img, in a QEMU TCG boot with no libc anywhere.

initrd = ltsp.img (plain configuration segment + gzip binary segment, as
`ltsp initrd` writes it) followed by a zstd-compressed busybox "distro" initrd,
so the kernel has to unpack three segments with two compressors. The kernel
starts /usr/lib/ltsp/ltsp itself (rdinit=) or a busybox /init that checks the
segments and execs it; either way it is pid 1 and /proc is not mounted.
The serial log stays in the run directory.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab.ourstack import frozen_tree

import ltsp_client
from ltsp_client.server.cpio import Archive, write_segments

ROOT = Path(__file__).resolve().parents[1]
BUSYBOX = Path("/bin/busybox")
BOOT_TIMEOUT = 240
INIT_SCRIPT = """#!/bin/sh
for f in /usr/lib/ltsp/ltsp /etc/ltsp/ltsp.conf /conf/conf.d/00-ltsp.conf; do
    [ -e "$f" ] && echo "FRZ-HAVE $f"
done
[ -e /proc/self ] || echo "FRZ-NO-PROC"
[ -e /lib/x86_64-linux-gnu/libc.so.6 ] || [ -e /lib64/ld-linux-x86-64.so.2 ] || echo "FRZ-NO-LIBC"
exec /usr/lib/ltsp/ltsp --version
"""

pytestmark = pytest.mark.freeze


def kernel() -> Path:
    """Any kernel will do: this machine's newest /boot/vmlinuz-*, else the lab image's."""
    found = sorted(Path("/boot").glob("vmlinuz-*"))
    if found:
        return found[-1]
    from lab.image import build_rootfs, kernel_and_initrd

    return kernel_and_initrd(build_rootfs())[0]


@pytest.fixture(autouse=True)
def _tools() -> None:
    if not BUSYBOX.exists():
        pytest.fail(f"{BUSYBOX} is missing: apt-get install busybox-static (apt-freeze.txt)")
    for tool, package in (("qemu-system-x86_64", "qemu-system-x86"), ("zstd", "zstd")):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install {package} (apt-freeze.txt)")


def ltsp_img(run_dir: Path) -> Path:
    hooks = run_dir / "hooks"
    (hooks / "initramfs-tools").mkdir(parents=True)
    (hooks / "initramfs-tools" / "ltsp.conf").write_text("# test hook\n")
    etc = run_dir / "etc-ltsp"
    etc.mkdir()
    (etc / "ltsp.conf").write_text("[clients]\n")
    out = run_dir / "ltsp.img"
    argv = [sys.executable, "-m", "ltsp_client", "initrd", "--binary-tree", str(frozen_tree())]
    argv += ["--etc", str(etc), "--hooks-dir", str(hooks), "--output", str(out)]
    subprocess.run(argv, cwd=ROOT, check=True, timeout=120)
    return out


def busybox_initrd(run_dir: Path) -> bytes:
    """A tiny 'distro' initrd: static busybox and a /init script, zstd-compressed."""
    archive = Archive()
    archive.add_file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    for applet in ("sh", "echo", "["):
        archive.add_symlink(f"bin/{applet}", "busybox")
    archive.add_file("init", INIT_SCRIPT.encode(), 0o755)
    plain = io.BytesIO()
    write_segments(plain, [(archive, "none")])
    packed = subprocess.run(
        ["zstd", "-19", "-q", "-c"], input=plain.getvalue(), capture_output=True, check=True
    ).stdout
    (run_dir / "busybox.cpio.zst").write_bytes(packed)
    return packed


def boot(run_dir: Path, name: str, append: str) -> list[tuple[float, str]]:
    """Boot, return (seconds since start, line) for every serial line; log kept in run_dir."""
    image = ltsp_img(run_dir).read_bytes()
    image += b"\0" * (-len(image) % 4) + busybox_initrd(run_dir)
    initrd = run_dir / f"{name}.initrd"
    initrd.write_bytes(image)
    argv = [
        "qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-nographic", "-no-reboot",
        "-nic", "none", "-kernel", str(kernel()), "-initrd", str(initrd),
        "-append", f"console=ttyS0 panic=-1 loglevel=7 {append}",
    ]  # fmt: skip
    lines: list[tuple[float, str]] = []
    start = time.monotonic()
    with (run_dir / f"{name}.serial.log").open("w") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                stamp = time.monotonic() - start
                lines.append((stamp, line))
                log.write(f"[{stamp:8.3f}] {line}\n")
                log.flush()
                if stamp > BOOT_TIMEOUT:
                    break
        finally:
            proc.kill()
            proc.wait()
    return lines


def seconds_between(lines: list[tuple[float, str]], first: str, second: str) -> float:
    t1 = next(t for t, line in lines if first in line)
    t2 = next(t for t, line in lines if second in line)
    return t2 - t1


@pytest.mark.qemu(timeout=BOOT_TIMEOUT + 120)
def test_frozen_binary_is_pid1_via_rdinit(run_dir: Path) -> None:
    lines = boot(run_dir, "rdinit", "rdinit=/usr/lib/ltsp/ltsp -- --version")
    text = [line for _t, line in lines]
    version = f"ltsp {ltsp_client.__version__}"
    assert any("Run /usr/lib/ltsp/ltsp as init process" in line for line in text), text[-20:]
    assert version in text, text[-20:]
    # pid 1 returned, so the kernel panics with exit code 0: proof it was init itself
    assert any("Attempted to kill init! exitcode=0x00000000" in line for line in text)
    took = seconds_between(lines, "as init process", version)
    (run_dir / "timing.txt").write_text(f"run-init -> first line: {took:.2f} s (TCG)\n")
    print(f"TCG: kernel 'Run init' -> first line {took:.2f} s")


@pytest.mark.qemu(timeout=BOOT_TIMEOUT + 120)
def test_all_segments_unpacked_and_binary_runs_without_libc(run_dir: Path) -> None:
    lines = boot(run_dir, "script", "rdinit=/init")
    text = [line for _t, line in lines]
    for path in ("/usr/lib/ltsp/ltsp", "/etc/ltsp/ltsp.conf", "/conf/conf.d/00-ltsp.conf"):
        assert f"FRZ-HAVE {path}" in text, text[-20:]
    assert "FRZ-NO-PROC" in text and "FRZ-NO-LIBC" in text
    assert f"ltsp {ltsp_client.__version__}" in text, text[-20:]
