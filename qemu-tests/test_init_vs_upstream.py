"""Every plugin of upstream's `ltsp init` and of ours on the school image, side by side,
without QEMU: the quick half of test_plugins_vs_upstream.py.

Both stacks run as pid 1 of their own namespaces on overlays of the school
image's chroot (the lab's, cached; tests/sidebyside.py), for the teacher and
the student MAC of the school ltsp.conf, with what the initramfs would leave
(/run/net-ens3.conf, the server's users in /etc/ltsp/passwd and group). What
each wrote under /etc is compared entry by entry, comment lines aside; every
difference must be one of lab.school.KNOWN_DIFFERENCES, and the networking
files must be the same. It needs the lab's chroot (built once, minutes), so it
is in the slow group; it boots nothing and needs no QEMU lock.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lab import upstream
from lab.school import SCHOOL_CONF, SCHOOL_PACKAGES, STUDENT, TEACHER, VOLATILE, unexplained

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import sidebyside as sbs

pytestmark = pytest.mark.qemu(timeout=600)

DATA = Path(__file__).resolve().parents[1] / "tests/plugins/data"
NETWORKING = ("etc/hosts", "etc/resolv.conf", "etc/network", "etc/NetworkManager", "etc/netplan")


@pytest.fixture(scope="module")
def chroot() -> Path:
    return upstream.build_chroot(extra_packages=SCHOOL_PACKAGES)


def layer_for(chroot: Path, mac: str, work: Path) -> Path:
    """What ltsp.img and the initramfs put over the image: ltsp.conf, users, /run files."""
    layer = work / "layer"
    bootif = "01-" + mac.replace(":", "-")
    files = {
        "etc/ltsp/ltsp.conf": SCHOOL_CONF,
        "etc/ltsp/passwd": (chroot / "etc/passwd").read_text(),
        "etc/ltsp/group": (chroot / "etc/group").read_text(),
        "proc/cmdline": f"root=/dev/nbd0 nbdroot=192.168.67.1,x86_64,nbd0 BOOTIF={bootif}\n",
        "run/net-ens3.conf": (DATA / "net-ens3.conf").read_text(),
        "usr/sbin/init.ltsp": sbs.REAL_INIT,
    }
    for rel, text in files.items():
        (layer / rel).parent.mkdir(parents=True, exist_ok=True)
        (layer / rel).write_text(text)
    (layer / "usr/sbin/init.ltsp").chmod(0o755)
    (layer / "usr/sbin/init").symlink_to("/usr/lib/ltsp/ltsp")
    (layer / "run/ltsp/client").mkdir(parents=True)
    return layer


def etc_differences(upstream_changes: sbs.Changes, ours: sbs.Changes) -> dict[str, str]:
    found = {}
    for path in sorted(set(upstream_changes) | set(ours)):
        if not path.startswith("etc/") or path.startswith(VOLATILE):
            continue
        a, b = upstream_changes.get(path), ours.get(path)
        if a == b:
            continue
        if a is not None and b is not None and sbs.without_comments(a) == sbs.without_comments(b):
            found[path] = "comments"
        elif a is not None and b is not None and a[0] == b[0] == "file" and a[2] == b[2]:
            found[path] = f"mode {a[1]} vs {b[1]}"
        else:
            found[path] = "only upstream" if b is None else "only ours" if a is None else "content"
    return found


@pytest.mark.root
@pytest.mark.parametrize(("who", "mac"), [("teacher", TEACHER), ("student", STUDENT)])
def test_same_etc_as_upstream(chroot: Path, tmp_path: Path, who: str, mac: str) -> None:
    if why := sbs.available():
        pytest.fail(f"side-by-side runs need root and tools: {why}")
    layer = layer_for(chroot, mac, tmp_path)
    with sbs.network(sbs.Client(mac=mac), who[:3]) as netns:
        up = sbs.run_stack("upstream", layer, netns, tmp_path, lower=str(chroot))
        ours = sbs.run_stack("ours", layer, netns, tmp_path, lower=str(chroot))
    differences = etc_differences(up, ours)
    (tmp_path / "differences.txt").write_text(
        "\n".join(f"{k}: {v}" for k, v in differences.items()) + "\n"
    )
    assert not unexplained(differences), "\n".join(unexplained(differences))
    networking = {k: v for k, v in differences.items() if k.startswith(NETWORKING)}
    assert set(networking.values()) <= {"comments"}, networking
    hostname = ours["etc/hostname"][2].strip()
    assert hostname == ("teacher" if who == "teacher" else "student20"), hostname
    assert up["etc/hostname"][2].strip() == hostname
