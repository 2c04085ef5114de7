"""A lab with server users (issue 9): sshd with test users, our stack, one booted client.

The lab server runs sshd with test users that exist only in sshd's own mount
namespace (bind-mounted passwd/group/shadow; the host is untouched), homes
under the run dir. ltsp.img carries that passwd/group and the host key (as
`ltsp initrd` does with an admin's /etc/ltsp files). The client image has
LightDM, Xorg and twm besides sshfs, libpam-systemd and pamtester, and ltsp.conf
sets AUTOLOGIN, so one boot serves the serial-console logins, the display
manager's autologin (qemu-tests/test_users_login.py) and the login-time
benchmark (benchmarks/login_time.py --lab).

Besides the lab's root shell on ttyS1, the client has two more serial ports,
ttyS2 and ttyS3 (unix sockets `client.ttyS2.sock`, `client.ttyS3.sock`) where
`UserLab.login()` starts a getty and logs a user in through `login`, the
image's real PAM stack and logind.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab import SERVER_IP, LabError, ourstack
from lab.guestshell import GuestShell
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.runlog import new_run_dir
from lab.services import Sshd, sshd_conf, start_servers, wait_until
from lab.vm import BootResult, boot_client

# the loopback login tests' test users and password hashing, shared
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests/login"))
from sshserver import TestUser, password_hash

# libpam-systemd: without pam_systemd in common-session no login makes a logind session;
# dbus-user-session: LightDM's X session needs the user's bus
PACKAGES = (
    "sshfs", "fuse3", "dbus", "libpam-systemd", "openssh-client", "libpam-runtime", "pamtester",
    "lightdm", "dbus-user-session", "xserver-xorg-core", "twm", "xfonts-base",
)  # fmt: skip
MAC = "52:54:00:67:50:01"


ALICE = TestUser("alice", "lab pw 1", 41500)
KIOSK = TestUser("kiosk", "kiosk/pw+2", 41502)  # LightDM's autologin user (PASSWORDS_x)
USERS = (ALICE, KIOSK)
LOGIN_PORTS = ("ttyS2", "ttyS3")  # serial ports for getty logins


class UserSshd(Sshd):
    """The lab's sshd, seeing the test users through bind-mounted account files."""

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
    homes: Path  # the server's homes: homes / user.name
    sshd: UserSshd
    result: BootResult

    def shell(self) -> GuestShell:
        return GuestShell(self.run_dir / "client.ttyS1.sock")

    def login(self, root: GuestShell, user: str, password: str, port: str) -> GuestShell:
        """A console login on a serial port (getty + login); LoginRefusedError if refused.

        The port's getty starts afresh (through `root`, the ttyS1 shell): after a refusal
        `login` itself would still be asking for a name."""
        root.run(f"systemctl restart serial-getty@{port}.service")
        return GuestShell(self.run_dir / f"client.{port}.sock", timeout=120, login=(user, password))


def lab_conf() -> str:
    stored = base64.b64encode(KIOSK.password.encode()).decode()
    return (
        f"[clients]\nSSH_SERVER={SERVER_IP}\n"
        f'PWMERGE_SUR="{"|".join(u.name for u in USERS)}"\n'
        f'AUTOLOGIN={KIOSK.name}\nPASSWORDS_LAB="{KIOSK.name}/{stored}"\n'
        # LightDM logs in at once, without its greeter: headless, lightdm-gtk-greeter's
        # timed autologin (RELOGIN_TIMEOUT > 0) left the session authorized but never started
        "RELOGIN=0\n"
    )


@contextmanager
def user_lab(name: str = "users-login") -> Iterator[UserLab]:
    """Build (cached) and publish the image, start the servers, boot one client and keep it."""
    if os.geteuid() != 0:
        raise LabError("the QEMU lab needs root (network namespaces, mounts); CI runs as root")
    chroot = build_rootfs("base", PACKAGES)
    run_dir = new_run_dir(name)
    homes = run_dir / "server-homes"
    passwd = group = shadow = ""
    for user in USERS:
        home = homes / user.name
        home.mkdir(parents=True)
        os.chown(home, user.uid, user.uid)
        passwd += user.passwd_line(home)
        if user is KIOSK:  # what the kiosk runs in X (Xsession runs ~/.xsession); it only lasts
            xsession = home / ".xsession"
            xsession.write_text("#!/bin/sh\nexec sleep infinity\n")
            xsession.chmod(0o755)
            os.chown(xsession, user.uid, user.uid)
        group += f"{user.name}:x:{user.uid}:\n"
        shadow += f"{user.name}:{password_hash(user.password)}:19000:0:99999:7:::\n"
    run_dir.chmod(0o755)
    homes.chmod(0o755)
    host_passwd, host_group = Path("/etc/passwd").read_text(), Path("/etc/group").read_text()
    with LabNetwork(prefix="usr", clients=1) as net:
        sshd = UserSshd(net, run_dir)
        sshd.dir.mkdir(parents=True, exist_ok=True)
        sshd._keygen(sshd.host_key, "ltsp-lab-host")
        # the server's accounts: the host's plus the test users (only sshd sees them)
        (sshd.dir / "passwd").write_text(host_passwd + passwd)
        (sshd.dir / "group").write_text(host_group + group)
        (sshd.dir / "shadow").write_text(Path("/etc/shadow").read_text() + shadow)
        published = ourstack.publish(run_dir, chroot, ltsp_conf=lab_conf())
        # what `ltsp initrd` takes from an admin's /etc/ltsp: passwd, group, known_hosts
        key = Path(f"{sshd.host_key}.pub").read_text().split()
        (published.etc / "passwd").write_text(host_passwd + passwd)
        (published.etc / "group").write_text(host_group + group)
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
            initrds=published.initrds, append=append, timeout=600, keep=True, ram_mb=768,
            extra_qemu_args=[
                arg for port in LOGIN_PORTS for arg in
                ("-serial", f"unix:{run_dir / f'client.{port}.sock'},server=on,wait=off")
            ],
        )  # fmt: skip
        if not result.ok:
            raise LabError(f"the user lab's client did not boot: {result.why()}")
        yield UserLab(net, run_dir, homes, sshd, result)


def pam(shell: GuestShell, user: str, password: str, *operations: str) -> str:
    """`pamtester login USER OPERATIONS` in the client (the image's real PAM stack)."""
    encoded = base64.b64encode(f"{password}\n".encode()).decode()
    command = (
        f"echo {encoded} | base64 -d | pamtester login {user} {' '.join(operations)}; "
        "echo RESULT=$?"
    )
    return shell.run(command, timeout=120).decode(errors="replace")


def sshfs_mounts(shell: GuestShell, home: Path) -> int:
    """How many SSHFS mounts sit on `home` in the client."""
    table = shell.run("cat /proc/mounts").decode(errors="replace")
    return sum(1 for line in table.splitlines() if line.split()[1:3] == [str(home), "fuse.sshfs"])
