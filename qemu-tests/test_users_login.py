"""Server users on a netbooted client (issue 9): accounts from ltsp.img, SSH logins, SSHFS homes.

The lab server runs sshd with a test user that exists only in sshd's own
mount namespace (bind-mounted passwd/group/shadow; the host is untouched),
home under the run dir. ltsp.img carries that passwd/group and the host key
(as `ltsp initrd` does with an admin's /etc/ltsp files). In the booted client,
through its root shell on ttyS1, `pamtester` goes through the image's real PAM
stack (pam-auth-update ran at boot) and logind:

- right password: the home is mounted over SSHFS, a file written on the
  client is on the server; after the session closes, logind's signals make
  the transient unit unmount it;
- wrong password: a PAM failure, nothing mounted;
- server down: a PAM failure with a clear message; root still logs in locally.
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab import SERVER_IP, ourstack
from lab.guestshell import GuestShell
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.runlog import new_run_dir
from lab.services import Sshd, sshd_conf, start_servers, wait_until
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu(timeout=1800)

PACKAGES = ("sshfs", "fuse3", "dbus", "openssh-client", "libpam-runtime", "pamtester")
MAC = "52:54:00:67:50:01"
USER, UID, PASSWORD = "alice", 41500, "lab pw 1"


def _hash(password: str) -> str:
    done = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return done.stdout.strip()


class UserSshd(Sshd):
    """The lab's sshd, seeing the test user through bind-mounted account files."""

    def _start(self) -> None:
        self._keygen(self.host_key, "ltsp-lab-host")
        self._keygen(self.client_key, "ltsp-lab-client")
        (self.dir / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
        self.conf_path.write_text(sshd_conf(run_dir=self.dir, port=self.port))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        binds = " && ".join(
            f"mount --bind {self.dir / n} /etc/{n}" for n in ("passwd", "group", "shadow")
        )
        self._spawn([
            "unshare", "-m", "--propagation", "private", "sh", "-c",
            f'{binds} && exec /usr/sbin/sshd -D -e -f "$1"', "sh", str(self.conf_path),
        ])  # fmt: skip
        wait_until(
            lambda: self._alive() and self._tcp_open(self.port),
            timeout=15, what="sshd", hint=str(self.log_path),
        )  # fmt: skip


@dataclass
class UserLab:
    net: LabNetwork
    run_dir: Path
    home: Path
    sshd: UserSshd
    result: BootResult


@pytest.fixture(scope="module")
def lab() -> Iterator[UserLab]:
    if os.geteuid() != 0:
        pytest.fail("the QEMU lab needs root (network namespaces, mounts); CI runs as root")
    chroot = build_rootfs("base", PACKAGES)
    run_dir = new_run_dir("users-login")
    # the server's accounts: the host's plus the test user (only sshd sees them)
    homes = run_dir / "server-homes"
    home = homes / USER
    home.mkdir(parents=True)
    os.chown(home, UID, UID)
    run_dir.chmod(0o755)
    homes.chmod(0o755)
    passwd_line = f"{USER}:x:{UID}:{UID}:Lab user:{home}:/bin/sh\n"
    with LabNetwork(prefix="usr", clients=1) as net:
        sshd = UserSshd(net, run_dir)
        sshd.dir.mkdir(parents=True, exist_ok=True)
        sshd._keygen(sshd.host_key, "ltsp-lab-host")
        (sshd.dir / "passwd").write_text(Path("/etc/passwd").read_text() + passwd_line)
        (sshd.dir / "group").write_text(Path("/etc/group").read_text() + f"{USER}:x:{UID}:\n")
        (sshd.dir / "shadow").write_text(
            Path("/etc/shadow").read_text() + f"{USER}:{_hash(PASSWORD)}:19000:0:99999:7:::\n"
        )
        conf = f"[clients]\nSSH_SERVER={SERVER_IP}\nPWMERGE_SUR={USER}\n"
        published = ourstack.publish(run_dir, chroot, ltsp_conf=conf)
        # what `ltsp initrd` takes from an admin's /etc/ltsp: passwd, group, known_hosts
        key = Path(f"{sshd.host_key}.pub").read_text().split()
        (published.etc / "passwd").write_text(Path("/etc/passwd").read_text() + passwd_line)
        (published.etc / "group").write_text(Path("/etc/group").read_text() + f"{USER}:x:{UID}:\n")
        (published.etc / "ssh_known_hosts").write_text(f"{SERVER_IP} {key[0]} {key[1]}\n")
        published.initrd_img()
        start_servers(net, run_dir, nfs_exports=[published.base_dir])
        sshd.start()
        append = (
            f"root=/dev/nfs nfsroot={SERVER_IP}:{published.base_dir} "
            f"ltsp.image=images/{ourstack.IMAGE_NAME}.img ltsp.strict"
        )
        result = boot_client(
            net, run_dir=run_dir, name="client", mac=MAC, kernel=published.kernel,
            initrds=published.initrds, append=append, timeout=600, keep=True,
        )  # fmt: skip
        assert result.ok, result.why()
        yield UserLab(net, run_dir, home, sshd, result)


def pam(shell: GuestShell, password: str, *operations: str) -> str:
    encoded = base64.b64encode(f"{password}\n".encode()).decode()
    command = (
        f"echo {encoded} | base64 -d | pamtester login {USER} {' '.join(operations)}; "
        "echo RESULT=$?"
    )
    return shell.run(command, timeout=120).decode(errors="replace")


def sshfs_mounted(shell: GuestShell) -> bool:
    return "fuse.sshfs" in shell.run("cat /proc/mounts").decode(errors="replace")


def test_server_user_home_over_sshfs(lab: UserLab) -> None:
    with GuestShell(lab.run_dir / "client.ttyS1.sock") as shell:
        merged = shell.run(f"getent passwd {USER}; getent shadow {USER}").decode()
        assert f"{USER}:x:{UID}:{UID}" in merged and f"{USER}:pamltsp:" in merged, merged
        out = pam(shell, PASSWORD, "authenticate")
        assert "RESULT=0" in out, out + shell.run("journalctl -t ltsp-login --no-pager").decode()
        assert sshfs_mounted(shell)
        shell.run(f"echo from-client > {lab.home}/written-on-client")
        assert (lab.home / "written-on-client").exists()
        out = pam(shell, PASSWORD, "open_session", "close_session")
        assert "RESULT=0" in out, out
        deadline = time.monotonic() + 60
        while sshfs_mounted(shell) and time.monotonic() < deadline:
            time.sleep(2)
        assert not sshfs_mounted(shell), shell.run("journalctl --no-pager -n 50").decode()


def test_wrong_password(lab: UserLab) -> None:
    with GuestShell(lab.run_dir / "client.ttyS1.sock") as shell:
        out = pam(shell, "not the password", "authenticate")
        assert "RESULT=0" not in out, out
        assert not sshfs_mounted(shell)


def test_server_down(lab: UserLab) -> None:
    lab.sshd.stop()
    with GuestShell(lab.run_dir / "client.ttyS1.sock") as shell:
        out = pam(shell, PASSWORD, "authenticate")
        assert "RESULT=0" not in out, out
        assert "Cannot reach the login server" in out, out
        assert not sshfs_mounted(shell)
