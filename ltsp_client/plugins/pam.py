"""Hook `ltsp login` into the image's PAM stack (upstream's `pamltsp install`)."""

from __future__ import annotations

import logging
from pathlib import Path

from ltsp_client.errors import LtspError
from ltsp_client.login import pamauthupdate
from ltsp_client.login.pamprofiles import ToolNeededError
from ltsp_client.login.settings import SETTINGS, LoginSettings
from ltsp_client.login.ssh import ASKPASS_SCRIPT, INSTALLED_ASKPASS
from ltsp_client.pluginkit import Param, Plugin, PluginContext

LOGIN = "/usr/lib/ltsp/ltsp login"  # where initrd-bottom installs our binary
PROFILE = "/usr/share/pam-configs/ltsp"
LOGIND_DROPIN = "/etc/systemd/logind.conf.d/ltsp.conf"
KEYRING = "/usr/bin/gnome-keyring-daemon"
log = logging.getLogger(__name__)
CONTROLS = {"Primary": "[success=end default=ignore]", "Additional": "optional"}


def profile(auth_type: str, command: str = LOGIN) -> str:
    """A pam-auth-update profile: our auth line after pam_unix, our session line."""
    return (
        "Name: SSH based authentication for LTSP\n"
        "Default: yes\n"
        "Priority: 0\n"
        f"Auth-Type: {auth_type}\n"
        "Auth:\n"
        f"\t{CONTROLS[auth_type]} pam_exec.so expose_authtok seteuid stdout quiet {command}\n"
        "Session-Interactive-Only: yes\n"
        "Session-Type: Additional\n"
        "Session:\n"
        f"\toptional pam_exec.so seteuid stdout quiet {command}\n"
    )


def detect_auth_type(ctx: PluginContext) -> str:
    """Additional when LDAP or SSSD already authenticate (we then only mount homes)."""
    common = ctx.read_text("/etc/pam.d/common-auth") or ""
    if "pam_ldap" in common.split() or any(w.startswith("pam_ldap") for w in common.split()):
        return "Additional"
    sssd = ctx.path("/etc/sssd")
    if "pam_sss" in common and sssd.is_dir():
        for conf in sorted(sssd.glob("*conf*")):
            if conf.is_file() and "id_provider" in conf.read_text(errors="replace"):
                return "Additional"
    return "Primary"


def mounts_home(fstab_lines: list[str]) -> bool:
    """Whether FSTAB_x lines mount /home (then homes are NFS, never SSHFS)."""
    for line in fstab_lines:
        for entry in line.splitlines():
            fields = entry.split("#", 1)[0].split()
            if len(fields) >= 2 and fields[1].rstrip("/") in ("/home", ""):
                return True
    return False


class Pam(Plugin, name="pam", order=61):
    """Let server users log in: `ltsp login` in the PAM stack, settings for it, logind.

    Writes /etc/ltsp/login.json (SSH_SERVER, SSH_OPTIONS, the PAM role, NFS
    homes when FSTAB_x mounts /home), a pam-auth-update profile placing
    `pam_exec.so ... ltsp login` after pam_unix, and makes logind end the
    processes of a closed session (KillUserProcesses=yes) so SSHFS homes can
    be unmounted.

    Example::

        [clients]
        SSH_SERVER=10.0.0.1
        SSH_OPTIONS="-p 2222"
    """

    params = (
        Param("SSH_SERVER", default="server", help="host for SSH logins and SSHFS homes"),
        Param("SSH_OPTIONS", kind="words", help="extra ssh and sshfs options, e.g. `-p 2222`"),
    )
    aliases = ("pam_main", "pamltsp")

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.text("PAM_AUTH_TYPE") != "0" and ctx.path("/etc/pam.d").is_dir()

    def apply(self, ctx: PluginContext) -> None:
        auth_type = ctx.text("PAM_AUTH_TYPE") or detect_auth_type(ctx)
        nfs_home = mounts_home(ctx.items("FSTAB_"))
        settings = LoginSettings(
            auth_type=auth_type,
            ssh_server=ctx.expand(ctx.text("SSH_SERVER")),
            ssh_options=tuple(ctx.words("SSH_OPTIONS")),
            nfs_home=nfs_home,
        )
        ctx.write_file(SETTINGS, settings.to_json(), mode=0o644)
        ctx.write_file(PROFILE, profile(auth_type), mode=0o644)
        ctx.write_file(LOGIND_DROPIN, "[Login]\nKillUserProcesses=yes\n", mode=0o644)
        ctx.write_file(INSTALLED_ASKPASS, ASKPASS_SCRIPT, mode=0o755)
        if not nfs_home:
            # the keyring needs hard links, which SSHFS lacks (GNOME #730587)
            ctx.remove_file(KEYRING)
        try:
            files = pamauthupdate.update(ctx.root, ["ltsp"])
        except ToolNeededError as why:
            log.info("running pam-auth-update: %s", why)
            run_pam_auth_update(ctx)
            return
        for path, data in files.items():
            ctx.write_file(path, data, mode=0o644)


def run_pam_auth_update(ctx: PluginContext) -> None:
    """The real tool (Perl and debconf: about 3 s of a TCG boot, 0.1 s natively)."""
    argv = ["pam-auth-update", "--package", "--enable", "ltsp"]
    if ctx.root.resolve() != Path("/"):
        argv = ["chroot", str(ctx.root), *argv]
    # debconf must never wait for an answer at boot
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    result = ctx.runner(argv, timeout=60, check=False, env=env)
    if not result.ok:
        raise LtspError(
            f"pam-auth-update failed ({result.returncode}): {result.stderr.strip()}",
            hint="server users cannot log in; check /etc/pam.d/common-* in the image",
        )
