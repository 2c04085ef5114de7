"""The pam plugin on libpam-runtime's files: login settings, pam-auth-update profile, logind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from goldentree import FakeRunner, apply_plugin, client_config
from pamtool import real_tool

import ltsp_client.plugins.accounts  # noqa: F401  (declares PAM_AUTH_TYPE, as at boot)
from ltsp_client.errors import LtspError
from ltsp_client.plugins.pam import Pam
from ltsp_client.run import Result


def runner_for(root: Path, returncode: int = 0) -> FakeRunner:
    argv = ("chroot", str(root), "pam-auth-update", "--package", "--enable", "ltsp")
    return FakeRunner({argv: Result(argv, returncode, "", "no such profile" if returncode else "")})


@pytest.fixture
def root(debroot) -> Path:  # type: ignore[no-untyped-def]
    root: Path = debroot("libpam-runtime", "libpam-modules")
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/gnome-keyring-daemon").write_text("")
    return root


def test_sshfs_homes(root: Path, tmp_path: Path) -> None:
    conf = '[clients]\nSSH_SERVER=10.0.0.%{IP}\nSSH_OPTIONS="-p 2222"\n'
    runner = runner_for(root)
    apply_plugin(Pam, root, client_config(tmp_path, conf), runner=runner)
    settings = json.loads((root / "etc/ltsp/login.json").read_text())
    assert settings["ssh_server"] == "10.0.0.20"
    assert settings["ssh_options"] == ["-p", "2222"]
    assert settings["auth_type"] == "Primary" and settings["nfs_home"] is False
    profile = (root / "usr/share/pam-configs/ltsp").read_text()
    assert "Auth-Type: Primary\n" in profile
    assert (
        "\t[success=end default=ignore] pam_exec.so expose_authtok seteuid stdout quiet "
        "/usr/lib/ltsp/ltsp login\n" in profile
    )
    assert "\toptional pam_exec.so seteuid stdout quiet /usr/lib/ltsp/ltsp login\n" in profile
    assert (root / "etc/systemd/logind.conf.d/ltsp.conf").read_text() == (
        "[Login]\nKillUserProcesses=yes\n"
    )
    assert not (root / "usr/bin/gnome-keyring-daemon").exists()
    assert len(runner.calls) == 1


def test_nfs_home_and_ldap(root: Path, tmp_path: Path) -> None:
    (root / "etc/pam.d/common-auth").write_text("auth [success=2 default=ignore] pam_ldap.so\n")
    conf = '[clients]\nFSTAB_HOME="server:/home /home nfs defaults 0 0"\n'
    apply_plugin(Pam, root, client_config(tmp_path, conf), runner=runner_for(root))
    settings = json.loads((root / "etc/ltsp/login.json").read_text())
    assert settings["nfs_home"] is True and settings["auth_type"] == "Additional"
    assert (
        "\toptional pam_exec.so expose_authtok" in (root / "usr/share/pam-configs/ltsp").read_text()
    )
    assert (root / "usr/bin/gnome-keyring-daemon").exists()


def test_off_and_failure(root: Path, tmp_path: Path) -> None:
    off = client_config(tmp_path, "[clients]\nPAM_AUTH_TYPE=0\n")
    assert apply_plugin(Pam, root, off, runner=FakeRunner()) is None
    with pytest.raises(LtspError, match="pam-auth-update failed"):
        apply_plugin(Pam, root, client_config(tmp_path, ""), runner=runner_for(root, 1))


def test_pam_auth_update_in_python_when_the_tool_set_up_the_image(
    root: Path, tmp_path: Path
) -> None:
    """The usual image (postinst ran the tool): no Perl at boot, same files as the tool."""
    real_tool(root, "--package", "--force")
    theirs = tmp_path / "theirs"
    shutil.copytree(root, theirs, symlinks=True)
    runner = FakeRunner()
    apply_plugin(Pam, root, client_config(tmp_path, ""), runner=runner)
    assert runner.calls == []
    shutil.copy(root / "usr/share/pam-configs/ltsp", theirs / "usr/share/pam-configs/ltsp")
    real_tool(theirs, "--package", "--enable", "ltsp")
    for name in ("etc/pam.d/common-auth", "etc/pam.d/common-session", "var/lib/pam/seen"):
        assert (root / name).read_bytes() == (theirs / name).read_bytes(), name
    assert "/usr/lib/ltsp/ltsp login" in (root / "etc/pam.d/common-auth").read_text()
