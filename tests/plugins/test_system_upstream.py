"""The system plugins against upstream LTSP 23.02's, on one school image, side by side.

Upstream's `ltsp init` (chrooted) and ours (`ltsp init --root`) each run as
pid 1 on an overlay of the same image made of real Debian packages
(tests/sidebyside.py). Everything either wrote outside the networking paths
(compared by test_networking_upstream.py) is compared; comment lines are
ignored. Each difference left is one we keep on purpose, listed in
docs/compatibility.md ("System plugins and `ltsp service`").
"""

from __future__ import annotations

import pytest
import sidebyside as sbs
from goldentree import SCHOOL_PACKAGES

pytestmark = [pytest.mark.root]

# The services plugin's school image, bootable (systemd-sysv), with what the other
# system plugins act on.
SCHOOL = (
    *SCHOOL_PACKAGES,
    "systemd-sysv",
    "cron-daemon-common",
    "cups-daemon",
    "cups-common",
    "cups-client",
    "polkitd",
    "dbus",
    "xserver-xorg-core",
)
CONF = """\
[clients]
KEEP_SYSTEM_SERVICES=rpcbind
OMIT_FUNCTIONS="pam_main"
CRONTAB_SHUTDOWN="0 22 * * * root /sbin/poweroff"
FSTAB_TMP="tmpfs /tmp tmpfs defaults 0 0"
X_MODES='"1024x768" "800x600"'
"""
# Written by other plugins (networking: their own test), or bookkeeping.
ELSEWHERE = (
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "etc/network",
    "usr/share/ltsp",
    "var/lib/dpkg",
)
# Masks that follow the machine running the test (the overlay's lower layer is its root,
# /sys is its own): its /etc/init.d scripts, EFI, /etc/fstab and /etc/modules. Tested in
# test_systemd.py and test_services.py.
HOST_DEPENDENT = (
    "etc/systemd/system-generators/systemd-sysv-generator",
    "etc/systemd/system/modprobe@efi_pstore.service",
    "etc/systemd/system/systemd-remount-fs.service",
    "etc/systemd/system/systemd-modules-load.service",
)
# path -> why ours differs (docs/compatibility.md)
KNOWN = {
    # upstream's bug: KEEP_SYSTEM_SERVICES=rpcbind, then `systemctl disable portmap`
    "etc/systemd/system/multi-user.target.wants/rpcbind.service": "kept",
    "etc/systemd/system/sockets.target.wants/rpcbind.socket": "kept",
    # drop-ins instead of in-place edits (and upstream's column-0 regex typo)
    "etc/systemd/journald.conf": "drop-in",
    "etc/systemd/journald.conf.d/ltsp.conf": "drop-in",
    "etc/systemd/system.conf": "drop-in",
    "etc/systemd/system.conf.d/ltsp.conf": "drop-in",
    "etc/systemd/user.conf": "drop-in",
    "etc/systemd/user.conf.d/ltsp.conf": "drop-in",
    "usr/lib/tmpfiles.d/systemd.conf": "override in /etc",
    "etc/tmpfiles.d/systemd.conf": "override in /etc",
    "usr/lib/systemd/system-generators/systemd-gpt-auto-generator": "masked, not deleted",
    "etc/systemd/system-generators/systemd-gpt-auto-generator": "masked, not deleted",
    "etc/systemd/system-generators/systemd-cryptsetup-generator": "masked: no volume",
    "etc/systemd/system-generators/systemd-veritysetup-generator": "masked: no volume",
    "etc/systemd/system-generators/systemd-integritysetup-generator": "masked: no volume",
    **{
        f"etc/systemd/system-generators/systemd-{g}-generator": "masked: writes nothing here"
        for g in ("debug", "run", "hibernate-resume", "rc-local", "system-update")
    },
    # not upstream's: skipped or with nothing to do on this client, yet run
    "etc/systemd/system/systemd-repart.service": "masked: no repart.d",
    "etc/systemd/system/systemd-journal-flush.service": "masked: volatile journal",
    # upstream's disable of this static unit does nothing; ours masks it
    "etc/systemd/system/systemd-random-seed.service": "masked",
    # not upstream's: nothing for it to create (every sysusers.d user exists)
    "etc/systemd/system/systemd-sysusers.service": "masked",
    # no mask for a unit the image lacks
    "etc/systemd/system/cups-browsed.service": "not installed",
    # systemctl removed the emptied .wants directory; we remove the links in it
    "etc/systemd/system/timers.target.wants": "links removed, directory kept",
    "etc/systemd/system/timers.target.wants/apt-daily.timer": "links removed, directory kept",
    "etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer": "links removed, dir kept",
    "etc/systemd/system/timers.target.wants/logrotate.timer": "links removed, directory kept",
    "etc/systemd/system/timers.target.wants/man-db.timer": "links removed, directory kept",
    # update-rc.d adds stop links for a script that had no start links: no effect
    **{f"etc/rc{n}.d/K01unattended-upgrades": "no start links to turn off" for n in "023456"},
    # upstream 23.02 still deletes it; upstream dropped that in 2025 (sessions broke)
    "etc/xdg/autostart/at-spi-dbus-bus.desktop": "kept",
    # only the set X_* lines (checked below to say the same to X)
    "etc/X11/xorg.conf": "no commented template",
    # upstream appends an empty LANGUAGE= line as a blank line
    "etc/default/locale": "no blank line",
}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> tuple[sbs.Changes, sbs.Changes]:
    if why := sbs.available():
        pytest.fail(f"side-by-side runs need root and tools: {why}")
    upstream, ours = sbs.compare(sbs.Case(SCHOOL, CONF), tmp_path_factory.mktemp("system"))
    keep = [p for p in {*upstream, *ours} if not p.startswith((*ELSEWHERE, *HOST_DEPENDENT))]
    return {p: upstream[p] for p in keep if p in upstream}, {p: ours[p] for p in keep if p in ours}


def test_only_known_differences(stacks: tuple[sbs.Changes, sbs.Changes]) -> None:
    upstream, ours = stacks
    assert len(upstream) > 30, "upstream changed little: the harness is broken"
    differing = [d.split(":\n", 1)[0] for d in sbs.differences(upstream, ours)]
    assert sorted(differing) == sorted(KNOWN)


def test_what_both_did(stacks: tuple[sbs.Changes, sbs.Changes]) -> None:
    """A few of the many same results, named so that a regression reads well."""
    upstream, ours = stacks
    for path in (
        "etc/systemd/system/apt-daily.service",  # masked
        "etc/systemd/system/multi-user.target.wants/ssh.service",  # disabled
        "etc/systemd/system/cups.socket",  # masked: printing goes to the server
        "etc/cups/client.conf",
        "etc/cron.d/ltsp",
        "etc/cron.daily/man-db",
        "etc/fstab",
        "etc/machine-id",
        "usr/share/polkit-1/actions/org.freedesktop.login1.policy",
        "etc/update-motd.d/10-uname",
    ):
        assert path in ours and sbs.without_comments(ours[path]) == sbs.without_comments(
            upstream[path]
        ), path


def test_xorg_conf_says_the_same(stacks: tuple[sbs.Changes, sbs.Changes]) -> None:
    def directives(change: tuple[str, ...]) -> list[list[str]]:
        lines = (line.split("#", 1)[0].split() for line in change[2].splitlines())
        return [words for words in lines if words]

    upstream, ours = stacks
    assert directives(ours["etc/X11/xorg.conf"]) == directives(upstream["etc/X11/xorg.conf"])


def test_rpcbind_kept_and_journal_volatile(stacks: tuple[sbs.Changes, sbs.Changes]) -> None:
    upstream, ours = stacks
    wants = "etc/systemd/system/multi-user.target.wants/rpcbind.service"
    assert upstream[wants] == ("removed",) and wants not in ours
    assert "Storage=volatile" in upstream["etc/systemd/journald.conf"][2]
    assert "Storage=volatile" in ours["etc/systemd/journald.conf.d/ltsp.conf"][2]
