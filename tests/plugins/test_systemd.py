"""The systemd plugin on a root made of Debian's systemd package, compared as a whole tree."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.systemd import Systemd, without_acls

DROPINS = {
    "etc/systemd/journald.conf.d/ltsp.conf": "# The root is in RAM: keep the journal small "
    "and out of /var\n[Journal]\nStorage=volatile\nRuntimeMaxUse=1M\nForwardToSyslog=no\n",
    "etc/systemd/system.conf.d/ltsp.conf": "# Faster shutdown of a diskless client\n"
    "[Manager]\nDefaultTimeoutStopSec=10s\n",
    "etc/systemd/user.conf.d/ltsp.conf": "# Faster shutdown of a diskless client\n"
    "[Manager]\nDefaultTimeoutStopSec=10s\n",
    "etc/systemd/system-generators/systemd-gpt-auto-generator": "-> /dev/null",
    # no crypttab, veritytab or integritytab entry, no luks/verity option on the command line
    "etc/systemd/system-generators/systemd-cryptsetup-generator": "-> /dev/null",
    "etc/systemd/system-generators/systemd-veritysetup-generator": "-> /dev/null",
    "etc/systemd/system-generators/systemd-integritysetup-generator": "-> /dev/null",
    # nothing for them either: no option of theirs on the command line, no /etc/rc.local,
    # no /system-update, no /etc/init.d script without a unit
    "etc/systemd/system-generators/systemd-debug-generator": "-> /dev/null",
    "etc/systemd/system-generators/systemd-run-generator": "-> /dev/null",
    "etc/systemd/system-generators/systemd-hibernate-resume-generator": "-> /dev/null",
    "etc/systemd/system-generators/systemd-rc-local-generator": "-> /dev/null",
    "etc/systemd/system-generators/systemd-system-update-generator": "-> /dev/null",
    "etc/systemd/system-generators/systemd-sysv-generator": "-> /dev/null",
}
GENERATORS = "etc/systemd/system-generators/systemd-"


def effective(root: Path, config: str, key: str) -> str:
    """KEY's value as systemd reads CONFIG (main file, then drop-ins), by systemd-analyze."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd")
    out = subprocess.run(
        ["systemd-analyze", f"--root={root}", "cat-config", config],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values = [line.split("=", 1)[1] for line in out.splitlines() if line.startswith(f"{key}=")]
    return values[-1] if values else ""


@pytest.fixture
def root(debroot: Callable[..., Path]) -> FakeRoot:
    return FakeRoot(debroot("systemd"))


def test_whole_tree(root: FakeRoot, tmp_path: Path) -> None:
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    changes = root.changes_since(before)
    tmpfiles = changes.pop("etc/tmpfiles.d/systemd.conf")
    assert changes == DROPINS
    original = before["usr/lib/tmpfiles.d/systemd.conf"]
    assert tmpfiles == without_acls(original) != original
    assert [line for line in tmpfiles.splitlines() if line[:1] in ("a", "A")] == []
    assert sum(line.startswith("#a+ ") for line in tmpfiles.splitlines()) == 6


def test_storage_at_column_0_is_overridden(root: FakeRoot, tmp_path: Path) -> None:
    """Upstream's regex only rewrote `#Storage=...`; an admin's `Storage=persistent` stayed."""
    journald = root.path / "etc/systemd/journald.conf"
    journald.write_text(journald.read_text() + "Storage=persistent\nForwardToSyslog=yes\n")
    assert effective(root.path, "systemd/journald.conf", "Storage") == "persistent"
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    assert effective(root.path, "systemd/journald.conf", "Storage") == "volatile"
    assert effective(root.path, "systemd/journald.conf", "ForwardToSyslog") == "no"
    assert effective(root.path, "systemd/system.conf", "DefaultTimeoutStopSec") == "10s"
    assert effective(root.path, "systemd/user.conf", "DefaultTimeoutStopSec") == "10s"


def test_netconsole_keeps_the_console_log_level(root: FakeRoot, tmp_path: Path) -> None:
    root.write("/etc/sysctl.d/10-console-messages.conf", "kernel.printk = 4 4 1 7\n")
    root.write("/proc/cmdline", "root=/dev/nbd0 netconsole=@/,@192.168.67.1/ quiet\n")
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    changes = root.changes_since(before)
    assert changes["etc/sysctl.d/10-console-messages.conf"] is None


def test_an_admin_tmpfiles_override_stays(root: FakeRoot, tmp_path: Path) -> None:
    root.write("/etc/tmpfiles.d/systemd.conf", "# mine\n")
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    assert root.changes_since(before) == DROPINS


def test_not_needed_without_systemd(fake_root: FakeRoot, tmp_path: Path) -> None:
    assert apply_plugin(Systemd, fake_root, client_config(tmp_path, "[clients]\n")) is None


def test_volume_generators_stay_when_they_have_work(root: FakeRoot, tmp_path: Path) -> None:
    root.write("/etc/crypttab", "# <target name> <source device> <key file> <options>\n")
    root.write("/etc/integritytab", "data /dev/sdb1 - -\n")
    root.write("/proc/cmdline", "root=/dev/nbd0 roothash=0123abcd quiet\n")
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    changes = root.changes_since(before)
    assert changes[f"{GENERATORS}cryptsetup-generator"] == "-> /dev/null"  # only a comment
    assert f"{GENERATORS}veritysetup-generator" not in changes  # roothash=
    assert f"{GENERATORS}integritysetup-generator" not in changes  # an entry
    root.write("/proc/cmdline", "root=/dev/nbd0 rd.luks.uuid=1234\n")
    (root.path / f"{GENERATORS}cryptsetup-generator").unlink()
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    assert f"{GENERATORS}cryptsetup-generator" not in root.changes_since(before)


@pytest.mark.parametrize(
    ("generator", "cmdline"),
    [
        ("debug", "systemd.mask=cron.service"),
        ("debug", "systemd.debug_shell"),
        ("debug", "systemd.wants=rescue.service"),
        ("run", "systemd.run=/bin/true"),
        ("hibernate-resume", "resume=/dev/sda2"),
    ],
)
def test_command_line_generators_stay_for_their_options(
    root: FakeRoot, tmp_path: Path, generator: str, cmdline: str
) -> None:
    root.write("/proc/cmdline", f"root=/dev/nbd0 {cmdline} quiet\n")
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    changes = root.changes_since(before)
    assert f"{GENERATORS}{generator}-generator" not in changes
    assert len([c for c in changes if c.startswith(GENERATORS)]) == 9


def test_rc_local_and_system_update_generators_stay_when_they_have_work(
    root: FakeRoot, tmp_path: Path
) -> None:
    root.write("/etc/rc.local", "#!/bin/sh\nexit 0\n")
    (root.path / "etc/rc.local").chmod(0o644)  # not executable: the generator ignores it
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    assert root.changes_since(before)[f"{GENERATORS}rc-local-generator"] == "-> /dev/null"
    (root.path / f"{GENERATORS}rc-local-generator").unlink()
    (root.path / "etc/rc.local").chmod(0o755)
    (root.path / "system-update").symlink_to("/var/lib/system-update")  # dangling counts
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    changes = root.changes_since(before)
    assert f"{GENERATORS}rc-local-generator" not in changes
    assert f"{GENERATORS}system-update-generator" not in changes


def test_sysv_generator_masked_only_when_every_script_has_a_unit(
    debroot: Callable[..., Path], tmp_path: Path
) -> None:
    """cron, dbus, kmod (an alias link) and procps ship an init script and a unit; a
    script without a unit of its name keeps the generator, a non-executable file does not."""
    root = FakeRoot(debroot("systemd", "cron", "dbus", "kmod", "procps"))
    scripts = sorted(p.name for p in (root.path / "etc/init.d").iterdir())
    assert {"cron", "dbus", "kmod", "procps"} <= set(scripts)
    assert all((root.path / "etc/init.d" / s).stat().st_mode & 0o111 for s in scripts)
    root.write("/etc/init.d/README", "not a script\n")
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    assert root.changes_since(before)[f"{GENERATORS}sysv-generator"] == "-> /dev/null"
    (root.path / f"{GENERATORS}sysv-generator").unlink()
    root.write("/etc/init.d/school-kiosk", "#!/bin/sh\n")
    (root.path / "etc/init.d/school-kiosk").chmod(0o755)
    before = root.tree()
    apply_plugin(Systemd, root, client_config(tmp_path, "[clients]\n"))
    assert f"{GENERATORS}sysv-generator" not in root.changes_since(before)
