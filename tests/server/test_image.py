"""`ltsp image` end to end on a small chroot: real mksquashfs/unsquashfs, real overlay mounts.

Needs root (CI is root): the source is mounted read-only under a tmpfs overlay.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from publisher_tools import ltsp, make_partitioned_disk

from ltsp_client.server import excludes, publish

pytestmark = pytest.mark.root

USERS = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/bash
bob:x:1001:1001:Bob:/home/bob:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUPS = """\
root:x:0:
sudo:x:27:alice
alice:x:1000:
bob:x:1001:
shared:x:1500:bob
nogroup:x:65534:
"""


def make_chroot(base: Path, name: str = "deb") -> Path:
    root = base / name
    for d in (
        "proc",
        "dev",
        "sys",
        "run",
        "tmp",
        "boot",
        "etc/ssh",
        "etc/ssl/private",
        "etc/NetworkManager/system-connections",
        "var/lib/NetworkManager",
        "var/lib/systemd",
        "var/lib/dpkg",
        "var/log/apt",
        "var/lib/dbus",
        "etc/cups",
        "home/alice",
        "opt",
        "root",
        "usr/bin",
        "var/lib/systemd/coredump",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    files = {
        "etc/passwd": USERS,
        "etc/group": GROUPS,
        "etc/shadow": "".join(
            f"{u.split(':')[0]}:$6$hash:19000:0:99999:7:::\n" for u in USERS.splitlines()
        ),
        "etc/gshadow": "".join(f"{g.split(':')[0]}:!::\n" for g in GROUPS.splitlines()),
        "etc/shadow-": "root:$6$oldhash:19000::::::\n",
        "etc/gshadow-": "root:*::\n",
        "etc/passwd-": USERS,
        "etc/subuid": "alice:100000:65536\n",
        "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
        "var/lib/dbus/machine-id": "0123456789abcdef0123456789abcdef\n",
        "etc/fstab": "/dev/sda1 / ext4 defaults 0 1\n",
        "etc/ssh/ssh_host_ed25519_key": "PRIVATE\n",
        "etc/ssh/ssh_host_ed25519_key.pub": "ssh-ed25519 AAAA\n",
        "etc/ssl/private/ssl-cert-snakeoil.key": "-----BEGIN PRIVATE KEY-----\n",
        "etc/NetworkManager/system-connections/home.nmconnection": "psk=hunter2\n",
        "etc/NetworkManager/system-connections/.hidden.nmconnection": "psk=x\n",
        "var/lib/NetworkManager/secret_key": "k",
        "var/lib/systemd/random-seed": "seed",
        "var/lib/systemd/credential.secret": "cred",
        "var/lib/systemd/coredump/core.bash.1000.xz": "core",
        "etc/cups/printers.conf": "# comment\n<Printer p>\nDeviceURI smb://u:pw@h/p\n</Printer>\n",
        "etc/cups/printers.conf.O": "DeviceURI smb://u:pw@h/p\n",
        "home/alice/.bash_history": "secret command\n",
        "home/.hidden": "dot entry\n",
        "root/.bash_history": "root secret\n",
        "var/log/syslog": "log line\n",
        "var/log/apt/history.log": "apt\n",
        "var/lib/dpkg/lock": "",
        "var/lib/dpkg/status": "Package: ltsp-client\nStatus: install ok installed\n"
        "Version: 0.1-1\n\n",
        "boot/vmlinuz-6.1.0-9-amd64": "kernel 9\n",
        "boot/initrd.img-6.1.0-9-amd64": "initrd 9\n",
        "boot/vmlinuz-6.1.0-10-amd64": "kernel 10\n",
        "boot/initrd.img-6.1.0-10-amd64": "initrd 10\n",
        "usr/bin/tool": "#!/bin/sh\n",
    }
    for rel, text in files.items():
        (root / rel).write_text(text)
    (root / "etc/shadow").chmod(0o640)
    (root / "vmlinuz").symlink_to("boot/vmlinuz-6.1.0-10-amd64")
    (root / "initrd.img").symlink_to("boot/initrd.img-6.1.0-10-amd64")
    return root


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for dirpath, dirs, names in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(names + dirs):
            path = Path(dirpath, name)
            st = path.lstat()
            digest.update(f"{path.relative_to(root)} {st.st_mode} {st.st_mtime_ns}".encode())
            if path.is_file() and not path.is_symlink():
                digest.update(path.read_bytes())
    return digest.hexdigest()


def listing(image: Path) -> set[str]:
    out = subprocess.run(
        ["unsquashfs", "-l", "-d", "", str(image)], capture_output=True, text=True, check=True
    ).stdout
    return {line.lstrip("/") for line in out.splitlines() if line.startswith("/")}


def cat(image: Path, rel: str, tmp: Path) -> str:
    subprocess.run(
        ["unsquashfs", "-f", "-d", str(tmp), str(image), rel], check=True, capture_output=True
    )
    return (tmp / rel).read_text()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    tmp = tmp_path_factory.mktemp("image")
    chroot = make_chroot(tmp / "base")
    before = tree_digest(chroot)
    out = ltsp(tmp, "image", "deb").stdout
    return tmp, chroot, before, out


def test_the_source_chroot_is_never_modified(built: tuple[Path, Path, str, str]) -> None:
    _tmp, chroot, before, _out = built
    assert tree_digest(chroot) == before
    assert not [
        m for m in Path("/proc/self/mountinfo").read_text().splitlines() if "ltsp-image-" in m
    ]


def test_secrets_and_per_machine_state_are_left_out(built: tuple[Path, Path, str, str]) -> None:
    tmp, _chroot, _before, _out = built
    names = listing(tmp / "base/images/deb.img")
    assert "usr/bin/tool" in names and "etc/passwd" in names
    for gone in (
        "etc/ssh/ssh_host_ed25519_key",
        "etc/ssl/private/ssl-cert-snakeoil.key",
        "etc/NetworkManager/system-connections/home.nmconnection",
        "etc/NetworkManager/system-connections/.hidden.nmconnection",
        "var/lib/NetworkManager/secret_key",
        "var/lib/systemd/random-seed",
        "var/lib/systemd/credential.secret",
        "var/lib/systemd/coredump/core.bash.1000.xz",
        "etc/shadow-",
        "etc/gshadow-",
        "etc/passwd-",
        "etc/cups/printers.conf.O",
        "home/alice/.bash_history",
        "home/.hidden",
        "root/.bash_history",
        "var/log/apt/history.log",
    ):
        assert gone not in names, gone
    assert "etc/machine-id" in names


def test_users_are_removed_and_passwords_locked(built: tuple[Path, Path, str, str]) -> None:
    tmp, _chroot, _before, _out = built
    image = tmp / "base/images/deb.img"
    out = tmp / "x"
    passwd = cat(image, "etc/passwd", out)
    assert [line.split(":")[0] for line in passwd.splitlines()] == ["root", "daemon", "nobody"]
    shadow = cat(image, "etc/shadow", out)
    assert "$6$" not in shadow and shadow.splitlines()[0] == "root:!:::::::"
    group = cat(image, "etc/group", out)
    assert "sudo:x:27:\n" in group and "alice" not in group and "bob" not in group
    assert "shared:x:1500:" not in group
    assert "alice" not in cat(image, "etc/subuid", out)
    assert cat(image, "etc/machine-id", out) == ""
    assert cat(image, "etc/fstab", out) == ""
    assert cat(image, "var/log/syslog", out) == ""
    assert "pw@" not in cat(image, "etc/cups/printers.conf", out)


def test_kernel_and_metadata_are_published(built: tuple[Path, Path, str, str]) -> None:
    tmp, _chroot, _before, out = built
    assert (tmp / "tftp/ltsp/deb/vmlinuz").read_text() == "kernel 10\n"
    assert (tmp / "tftp/ltsp/deb/initrd.img").read_text() == "initrd 10\n"
    assert (tmp / "tftp/ltsp/deb/initrd.img").stat().st_mode & 0o777 == 0o644
    version = publish.serving_version(tmp / "base/images", "deb")
    assert version is not None
    meta = version.meta()
    assert meta["client_package"] == "0.1-1"
    assert "-comp" in meta["mksquashfs"]
    assert "deb.img" in out


def test_omit_functions_and_cleanup_0(tmp_path: Path) -> None:
    chroot = make_chroot(tmp_path / "base")
    (tmp_path / "etc-ltsp").mkdir()
    (tmp_path / "etc-ltsp/ltsp.conf").write_text(
        "[server]\nOMIT_FUNCTIONS=remove_users\nOMIT_IMAGE_EXCLUDES=home/*\n"
    )
    ltsp(tmp_path, "image", str(chroot))
    image = tmp_path / "base/images/deb.img"
    assert "alice" in cat(image, "etc/passwd", tmp_path / "x")
    names = listing(image)
    assert "home/alice/.bash_history" in names and "home/.hidden" not in names  # the .* twin
    assert cat(image, "etc/machine-id", tmp_path / "y") == ""
    ltsp(tmp_path, "image", "-c", "0", "--ionice=", str(chroot))
    image_versions = publish.list_versions(tmp_path / "base/images", "deb")
    assert len(image_versions) == 2
    assert cat(image, "etc/machine-id", tmp_path / "z").startswith("0123")


def test_revert_serves_the_previous_version_and_its_kernel(tmp_path: Path) -> None:
    chroot = make_chroot(tmp_path / "base")
    ltsp(tmp_path, "image", "deb")
    (chroot / "boot/vmlinuz-6.1.0-11-amd64").write_text("kernel 11\n")
    (chroot / "boot/initrd.img-6.1.0-11-amd64").write_text("initrd 11\n")
    (chroot / "vmlinuz").unlink()
    (chroot / "vmlinuz").symlink_to("boot/vmlinuz-6.1.0-11-amd64")
    (chroot / "initrd.img").unlink()
    (chroot / "initrd.img").symlink_to("boot/initrd.img-6.1.0-11-amd64")
    ltsp(tmp_path, "image", "deb")
    assert (tmp_path / "tftp/ltsp/deb/vmlinuz").read_text() == "kernel 11\n"
    out = ltsp(tmp_path, "image", "--revert", "deb").stdout
    assert "now serving" in out
    assert (tmp_path / "tftp/ltsp/deb/vmlinuz").read_text() == "kernel 10\n"


def test_a_failing_mksquashfs_leaves_the_serving_image(tmp_path: Path) -> None:
    chroot = make_chroot(tmp_path / "base")
    ltsp(tmp_path, "image", "deb")
    images = tmp_path / "base/images"
    before = os.readlink(images / "deb.img")
    etc = tmp_path / "etc-ltsp"
    (etc / "ltsp.conf").write_text('[server]\nMKSQUASHFS_PARAMS="-comp no-such-compressor"\n')
    result = ltsp(tmp_path, "image", str(chroot), ok=False)
    assert result.returncode == 1 and "mksquashfs" in result.stderr
    assert os.readlink(images / "deb.img") == before
    assert not list((images / ".versions/deb").glob(".partial-*"))
    assert len(publish.list_versions(images, "deb")) == 1


def test_exclude_list_add_omit_and_override(tmp_path: Path) -> None:
    default = excludes.exclude_list(override=None)
    assert "home/*" in default and "home/.*" in default and "var/log/*/.*" in default
    assert default.count("tmp/.*") == 1
    extra = tmp_path / "extra"
    extra.write_text("# comment\nopt/secret/*\n")
    merged = excludes.exclude_list(override=None, add=str(extra), omit="home/*\nsrv/*")
    assert "opt/secret/*" in merged and "home/*" not in merged and "srv/*" not in merged
    assert merged == sorted(merged) and not [p for p in merged if p.startswith("#")]
    override = tmp_path / "image.excludes"
    override.write_text("only/this\n")
    assert excludes.exclude_list(override=override) == ["only/this"]


def test_version_metadata_is_json(built: tuple[Path, Path, str, str]) -> None:
    tmp, _chroot, _before, _out = built
    (meta,) = (tmp / "base/images/.versions/deb").glob("*.json")
    assert json.loads(meta.read_text())["kind"] == "chroot"


def test_a_partitioned_vm_disk_is_squashed_without_being_written(tmp_path: Path) -> None:
    tree = make_chroot(tmp_path / "tree", "vmroot")
    disk = tmp_path / "disk.raw"
    make_partitioned_disk(disk, tree)
    (tmp_path / "base").mkdir()
    (tmp_path / "base/vm.img").symlink_to(disk)
    before = hashlib.sha256(disk.read_bytes()).hexdigest()
    ltsp(tmp_path, "image", "vm")
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == before
    image = tmp_path / "base/images/vm.img"
    names = listing(image)
    assert "usr/bin/tool" in names and "etc/ssh/ssh_host_ed25519_key" not in names
    assert "alice" not in cat(image, "etc/passwd", tmp_path / "x")
    assert (tmp_path / "tftp/ltsp/vm/vmlinuz").read_text() == "kernel 10\n"


def test_the_chain_syntax_overlays_extra_trees_like_chrootless_boot(tmp_path: Path) -> None:
    chroot = make_chroot(tmp_path / "base")
    extra = tmp_path / "separate-opt"
    (extra / "app").mkdir(parents=True)
    (extra / "app/run").write_text("from another mount\n")
    ltsp(tmp_path, "image", f"{chroot},,{extra},subdir=opt")
    image = tmp_path / "base/images/deb.img"
    assert cat(image, "opt/app/run", tmp_path / "x") == "from another mount\n"


def test_image_versions_is_read_from_ltsp_conf(tmp_path: Path) -> None:
    chroot = make_chroot(tmp_path / "base")
    (tmp_path / "etc-ltsp").mkdir()
    conf = tmp_path / "etc-ltsp/ltsp.conf"
    conf.write_text("[server]\nIMAGE_VERSIONS=lots\n")
    result = ltsp(tmp_path, "image", str(chroot), ok=False)
    assert result.returncode == 1 and "IMAGE_VERSIONS='lots' is not a whole number" in result.stderr
    conf.write_text("[server]\nIMAGE_VERSIONS=1\n")
    for _ in range(2):
        ltsp(tmp_path, "image", str(chroot))
    assert len(publish.list_versions(tmp_path / "base/images", "deb")) == 1
