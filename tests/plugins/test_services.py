"""The services plugin on roots made of real Debian packages, compared as whole trees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FACTS, SCHOOL_PACKAGES, FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.fstab import Fstab
from ltsp_client.plugins.ifupdown import Ifupdown
from ltsp_client.plugins.services import Services
from ltsp_client.plugins.systemd import Systemd

RPCBIND_LINKS = {
    "etc/systemd/system/multi-user.target.wants/rpcbind.service": None,
    "etc/systemd/system/sockets.target.wants/rpcbind.socket": None,
}


@pytest.fixture
def school(debroot: Callable[..., Path]) -> FakeRoot:
    return FakeRoot(debroot(*SCHOOL_PACKAGES))


def default_changes() -> dict[str, str | None]:
    """What upstream's lists do to this image: every unit named there that is enabled."""
    return {
        # disabled (links removed)
        "etc/systemd/system/timers.target.wants/apt-daily.timer": None,
        "etc/systemd/system/timers.target.wants/apt-daily-upgrade.timer": None,
        "etc/systemd/system/timers.target.wants/logrotate.timer": None,
        "etc/systemd/system/timers.target.wants/man-db.timer": None,
        "etc/systemd/system/multi-user.target.wants/rsyslog.service": None,
        "etc/systemd/system/syslog.service": None,
        "etc/systemd/system/multi-user.target.wants/ssh.service": None,
        "etc/systemd/system/sshd.service": None,
        "etc/systemd/system/multi-user.target.wants/unattended-upgrades.service": None,
        **RPCBIND_LINKS,
        # masked
        "etc/systemd/system/apt-daily.service": "-> /dev/null",
        "etc/systemd/system/apt-daily-upgrade.service": "-> /dev/null",
        "etc/systemd/system/rsyslog.service": "-> /dev/null",
        # not upstream's: its disable does nothing to this static unit
        "etc/systemd/system/systemd-random-seed.service": "-> /dev/null",
        # not upstream's: no repart.d (its modprobe@loop and @dm_mod go with it), no EFI
        "etc/systemd/system/systemd-repart.service": "-> /dev/null",
        "etc/systemd/system/modprobe@efi_pstore.service": "-> /dev/null",
        # not upstream's: an fstab without /, /usr or API mounts; no module to load
        "etc/systemd/system/systemd-remount-fs.service": "-> /dev/null",
        "etc/systemd/system/systemd-modules-load.service": "-> /dev/null",
    }


def test_defaults_on_a_school_image(school: FakeRoot, tmp_path: Path) -> None:
    before = school.tree()
    assert apply_plugin(Services, school, client_config(tmp_path, "[clients]\n"))
    assert school.changes_since(before) == default_changes()


def test_keep_rpcbind_keeps_it_under_its_portmap_alias(school: FakeRoot, tmp_path: Path) -> None:
    """Upstream bug: KEEP_SYSTEM_SERVICES=rpcbind, then `systemctl disable portmap` disabled it."""
    before = school.tree()
    config = client_config(tmp_path, "[clients]\nKEEP_SYSTEM_SERVICES=rpcbind\n")
    apply_plugin(Services, school, config)
    expected = {k: v for k, v in default_changes().items() if k not in RPCBIND_LINKS}
    assert school.changes_since(before) == expected


def test_keep_by_an_alias_name(school: FakeRoot, tmp_path: Path) -> None:
    before = school.tree()
    config = client_config(tmp_path, '[clients]\nKEEP_SYSTEM_SERVICES="portmap sshd syslog"\n')
    apply_plugin(Services, school, config)
    kept = {
        *RPCBIND_LINKS,
        "etc/systemd/system/multi-user.target.wants/ssh.service",
        "etc/systemd/system/sshd.service",
        "etc/systemd/system/multi-user.target.wants/rsyslog.service",
        "etc/systemd/system/syslog.service",
        "etc/systemd/system/rsyslog.service",
    }
    expected = {k: v for k, v in default_changes().items() if k not in kept}
    assert school.changes_since(before) == expected


def test_fstab_with_nfs_keeps_the_nfs_client(school: FakeRoot, tmp_path: Path) -> None:
    """The interaction: FSTAB_x (fstab plugin, earlier) decides what services disables."""
    before = school.tree()
    config = client_config(
        tmp_path, '[clients]\nFSTAB_HOME="server:/home /home nfs defaults,nolock 0 0"\n'
    )
    apply_plugin(Fstab, school, config)
    apply_plugin(Services, school, config)
    expected = {k: v for k, v in default_changes().items() if k not in RPCBIND_LINKS}
    expected["etc/fstab"] = (
        "# Written by LTSP at boot from the FSTAB_x lines of ltsp.conf\n"
        "server:/home /home nfs defaults,nolock 0 0\n"
    )
    assert school.changes_since(before) == expected


def test_extra_lists_and_sysv_only_scripts(school: FakeRoot, tmp_path: Path) -> None:
    school.write("/etc/init.d/legacyd", "#!/bin/sh\n", 0o755)
    for level in "2345":
        school.link(f"/etc/rc{level}.d/S01legacyd", "../init.d/legacyd")
    before = school.tree()
    text = (
        '[clients]\nDISABLE_SYSTEM_SERVICES="cron legacyd not-installed"\n'
        'MASK_SYSTEM_SERVICES="cron.service also-missing"\nKEEP_SYSTEM_SERVICES=man-db.timer\n'
    )
    apply_plugin(Services, school, client_config(tmp_path, text))
    expected = default_changes()
    del expected["etc/systemd/system/timers.target.wants/man-db.timer"]
    expected["etc/systemd/system/multi-user.target.wants/cron.service"] = None
    expected["etc/systemd/system/cron.service"] = "-> /dev/null"
    for level in "2345":
        expected[f"etc/rc{level}.d/S01legacyd"] = None
        expected[f"etc/rc{level}.d/K01legacyd"] = "-> ../init.d/legacyd"
    assert school.changes_since(before) == expected


def test_session_services(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("systemd", "pipewire"))
    root.write("/etc/xdg/autostart/update-notifier.desktop", "[Desktop Entry]\n")
    root.link(
        "/etc/systemd/user/sockets.target.wants/pipewire.socket",
        "/usr/lib/systemd/user/pipewire.socket",
    )  # what its postinst's --user enable makes
    before = root.tree()
    text = "[clients]\nDISABLE_SESSION_SERVICES=pipewire.socket\nMASK_SESSION_SERVICES=pipewire\n"
    apply_plugin(Services, root, client_config(tmp_path, text))
    changes = root.changes_since(before)
    assert {k: v for k, v in changes.items() if "/user/" in k or "xdg" in k} == {
        "etc/systemd/user/sockets.target.wants/pipewire.socket": None,
        "etc/systemd/user/pipewire.service": "-> /dev/null",
        "etc/xdg/autostart/update-notifier.desktop": None,
    }


def test_apparmor_lifts_the_userns_restriction(
    debroot: Callable[..., Path], tmp_path: Path
) -> None:
    root = FakeRoot(debroot("systemd", "apparmor"))
    before = root.tree()
    apply_plugin(Services, root, client_config(tmp_path, "[clients]\n"))
    changes = root.changes_since(before)
    assert str(changes["etc/sysctl.d/50-ltsp.conf"]).endswith(
        "kernel.apparmor_restrict_unprivileged_userns = 0\n"
    )
    assert changes["etc/systemd/system/sysinit.target.wants/apparmor.service"] is None


@pytest.fixture
def desktop(debroot: Callable[..., Path]) -> FakeRoot:
    """A desktop image's network stack: NetworkManager, ifupdown, e2fsprogs, networkd."""
    return FakeRoot(debroot("systemd", "e2fsprogs", "network-manager", "ifupdown"))


WAITS = {  # what the client does not wait for (not upstream's lists)
    "etc/systemd/system/multi-user.target.wants/e2scrub_reap.service": None,
    "etc/systemd/system/network-online.target.wants/NetworkManager-wait-online.service": None,
}


def interfaces(device: str) -> str:
    """What the ifupdown plugin writes (ifupdown's own: only lo)."""
    return f"auto lo\niface lo inet loopback\n\nauto {device}\niface {device} inet manual\n"


def test_a_diskless_client_does_not_wait_for_the_network_or_e2scrub(
    desktop: FakeRoot, tmp_path: Path
) -> None:
    desktop.write("/etc/network/interfaces", interfaces(FACTS.device))
    before = desktop.tree()
    apply_plugin(Services, desktop, client_config(tmp_path, "[clients]\n"))
    changes = desktop.changes_since(before)
    assert {k: v for k, v in changes.items() if k in WAITS} == WAITS
    assert changes["etc/systemd/system/ifupdown-pre.service"] == "-> /dev/null"
    assert changes["etc/systemd/system/networking.service"] == "-> /dev/null"


def test_ifupdown_settles_for_another_nic_and_keep_wins(desktop: FakeRoot, tmp_path: Path) -> None:
    desktop.write("/etc/network/interfaces", interfaces(FACTS.device))
    desktop.write("/etc/network/interfaces.d/wifi", "allow-hotplug wlan0\niface wlan0 inet dhcp\n")
    before = desktop.tree()
    keep = "[clients]\nKEEP_SYSTEM_SERVICES=e2scrub_reap.service\n"
    apply_plugin(Services, desktop, client_config(tmp_path, keep))
    changes = desktop.changes_since(before)
    assert "etc/systemd/system/ifupdown-pre.service" not in changes  # wlan0: udev must settle
    assert "etc/systemd/system/multi-user.target.wants/e2scrub_reap.service" not in changes
    assert (
        "etc/systemd/system/network-online.target.wants/NetworkManager-wait-online.service"
        in changes
    )
    desktop.write("/etc/network/interfaces.d/wifi", "")
    apply_plugin(
        Services, desktop, client_config(tmp_path, "[clients]\nKEEP_SYSTEM_SERVICES=ifupdown-pre\n")
    )
    assert "etc/systemd/system/ifupdown-pre.service" not in desktop.changes_since(before)


NETWORKING = "etc/systemd/system/networking.service"


def test_networking_is_masked_after_the_ifupdown_plugin(desktop: FakeRoot, tmp_path: Path) -> None:
    """`ifup -a` for lo and the `inet manual` boot NIC only: nothing for it to do."""
    desktop.write(
        "/etc/network/interfaces",
        "source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n"
        "\nauto ens3\niface ens3 inet dhcp\n",
    )
    config = client_config(tmp_path, "[clients]\n")
    before = desktop.tree()
    apply_plugin(Ifupdown, desktop, config)
    apply_plugin(Services, desktop, config)
    changes = desktop.changes_since(before)
    assert changes[NETWORKING] == "-> /dev/null"
    assert changes["etc/systemd/system/ifupdown-pre.service"] == "-> /dev/null"


def test_networking_kept_when_ifup_has_work_or_when_asked(
    desktop: FakeRoot, tmp_path: Path
) -> None:
    none = client_config(tmp_path, "[clients]\n")
    for text in (
        # the image's own file kept (OMIT_FUNCTIONS=config_ifupdown): dhclient on the boot NIC
        "auto lo\niface lo inet loopback\nauto ens3\niface ens3 inet dhcp\n",
        interfaces(FACTS.device) + "  post-up ethtool -K ens3 tso off\n",
        interfaces(FACTS.device) + "\nauto ens4\niface ens4 inet static\n  address 10.1.1.2/24\n",
        interfaces(FACTS.device) + "\nmapping ens*\n  script /usr/local/sbin/map\n",
    ):
        desktop.write("/etc/network/interfaces", text)
        before = desktop.tree()
        apply_plugin(Services, desktop, none)
        assert NETWORKING not in desktop.changes_since(before), text
    desktop.write("/etc/network/interfaces", interfaces(FACTS.device))
    desktop.write("/etc/network/interfaces.d/wifi", "allow-hotplug wlan0\niface wlan0 inet dhcp\n")
    before = desktop.tree()
    apply_plugin(Services, desktop, none)
    changes = desktop.changes_since(before)
    assert changes[NETWORKING] == "-> /dev/null"  # wlan0 is udev's ifup@wlan0, not `ifup -a`
    assert "etc/systemd/system/ifupdown-pre.service" not in changes  # which needs the settle
    (desktop.path / NETWORKING).unlink()
    before = desktop.tree()
    keep = client_config(tmp_path, "[clients]\nKEEP_SYSTEM_SERVICES=networking\n")
    apply_plugin(Services, desktop, keep)
    assert NETWORKING not in desktop.changes_since(before)


def test_no_unit_needs_networking_or_ifupdown_pre(
    desktop: FakeRoot, debroot: Callable[..., Path]
) -> None:
    """What masking them breaks: a unit that requires them, or is ordered after them."""
    school = FakeRoot(debroot(*SCHOOL_PACKAGES, name="school"))
    needing = []
    for root in (desktop, school):
        for unit in sorted((root.path / "usr/lib/systemd/system").iterdir()):
            if unit.is_file() and unit.name not in ("networking.service", "ifupdown-pre.service"):
                for line in unit.read_text(errors="replace").splitlines():
                    key, _, value = line.partition("=")
                    if {"networking.service", "ifupdown-pre.service"} & set(value.split()):
                        needing.append(f"{unit.name}: {key}")
    assert needing == []


EARLY = "etc/systemd/system/"


def test_early_units_kept_when_they_have_work(school: FakeRoot, tmp_path: Path) -> None:
    """repart.d has a definition; the client booted with EFI (its /sys is live)."""
    school.write("/etc/repart.d/50-home.conf", "[Partition]\nType=home\n")
    (school.path / "sys/firmware/efi").mkdir(parents=True)
    before = school.tree()
    apply_plugin(Services, school, client_config(tmp_path, "[clients]\n"))
    changes = school.changes_since(before)
    assert f"{EARLY}systemd-repart.service" not in changes
    assert f"{EARLY}modprobe@efi_pstore.service" not in changes


def test_journal_flush_masked_only_for_a_volatile_journal(school: FakeRoot, tmp_path: Path) -> None:
    """After the systemd plugin's Storage=volatile; a later drop-in of the admin's, or
    KEEP_SYSTEM_SERVICES, keeps it."""
    flush = f"{EARLY}systemd-journal-flush.service"
    config = client_config(tmp_path, "[clients]\n")
    before = school.tree()
    apply_plugin(Services, school, config)
    assert flush not in school.changes_since(before)  # Storage=auto: /var/log/journal
    apply_plugin(Systemd, school, config)
    apply_plugin(Services, school, config)
    assert school.changes_since(before)[flush] == "-> /dev/null"
    (school.path / flush).unlink()
    school.write("/etc/systemd/journald.conf.d/zz-disk.conf", "[Journal]\nStorage=persistent\n")
    apply_plugin(Services, school, config)
    assert flush not in school.changes_since(before)
    (school.path / "etc/systemd/journald.conf.d/zz-disk.conf").unlink()
    keep = client_config(tmp_path, "[clients]\nKEEP_SYSTEM_SERVICES=systemd-journal-flush\n")
    apply_plugin(Services, school, keep)
    assert flush not in school.changes_since(before)


def test_what_pulls_the_masked_early_units(school: FakeRoot) -> None:
    """Only units skipped on a diskless client want modprobe@loop, @dm_mod, @efi_pstore;
    nothing needs systemd-repart, systemd-journal-flush, systemd-remount-fs or
    systemd-modules-load (orders after the last two only order)."""
    watched = {
        "modprobe@loop.service",
        "modprobe@dm_mod.service",
        "modprobe@efi_pstore.service",
        "systemd-repart.service",
        "systemd-journal-flush.service",
    }
    pulls: dict[str, list[str]] = {}
    for unit in sorted((school.path / "usr/lib/systemd/system").iterdir()):
        if unit.is_file() and not unit.is_symlink():
            for line in unit.read_text(errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key in ("Wants", "Requires", "Requisite", "BindsTo", "After"):
                    for name in watched & set(value.split()):
                        pulls.setdefault(name, []).append(f"{unit.name}:{key}")
                if key in ("Requires", "Requisite", "BindsTo", "PartOf"):
                    needs = {"systemd-remount-fs.service", "systemd-modules-load.service"}
                    assert not needs & set(value.split()), f"{unit.name}: {line}"
    assert pulls == {
        "modprobe@loop.service": ["systemd-repart.service:Wants", "systemd-repart.service:After"],
        "modprobe@dm_mod.service": ["systemd-repart.service:Wants", "systemd-repart.service:After"],
        "modprobe@efi_pstore.service": [
            "systemd-pstore.service:After",
            "systemd-pstore.service:Wants",
        ],
        # an order only, and an initrd unit (AssertPathExists=/etc/initrd-release)
        "systemd-repart.service": ["systemd-volatile-root.service:After"],
    }


def test_remount_fs_kept_for_what_it_remounts(school: FakeRoot, tmp_path: Path) -> None:
    """FSTAB_x (the fstab plugin, earlier) with an API mount or /usr keeps it; a /tmp not."""
    remount = f"{EARLY}systemd-remount-fs.service"
    for line, kept in (
        ("tmpfs /tmp tmpfs defaults 0 0", False),
        ("tmpfs /dev/shm tmpfs size=1G 0 0", True),
        ("server:/usr /usr/ nfs ro 0 0", True),
        ("# /dev/sda1 / ext4 defaults 0 1", False),
    ):
        before = school.tree()
        config = client_config(tmp_path, f'[clients]\nFSTAB_1="{line}"\n')
        apply_plugin(Fstab, school, config)
        apply_plugin(Services, school, config)
        assert (remount not in school.changes_since(before)) is kept, line
        (school.path / remount).unlink(missing_ok=True)


def test_modules_load_kept_when_a_module_is_named(school: FakeRoot, tmp_path: Path) -> None:
    """Debian's /etc/modules-load.d/modules.conf links to /etc/modules (kmod's)."""
    modules_load = f"{EARLY}systemd-modules-load.service"
    assert (school.path / "etc/modules-load.d/modules.conf").is_symlink()
    config = client_config(tmp_path, "[clients]\n")
    school.write("/etc/modules", "# /etc/modules: kernel modules to load at boot time.\n\n")
    before = school.tree()
    apply_plugin(Services, school, config)
    assert school.changes_since(before)[modules_load] == "-> /dev/null"
    (school.path / modules_load).unlink()
    school.write("/etc/modules", "# /etc/modules\nlp\n")
    before = school.tree()
    apply_plugin(Services, school, config)
    assert modules_load not in school.changes_since(before)
    school.write("/etc/modules", "")
    school.write("/proc/cmdline", "root=/dev/nbd0 modules-load=i2c-dev\n")
    apply_plugin(Services, school, config)
    assert modules_load not in school.changes_since(before)


HOTPLUG = "etc/udev/rules.d/80-ifupdown.rules"


def test_ifupdown_hotplug_helper_off_without_allow_hotplug(
    desktop: FakeRoot, tmp_path: Path
) -> None:
    """ifupdown's own rule, its helper's line commented out; the rfkill line stays."""
    packaged = next(
        p.read_text()
        for p in (
            desktop.path / "usr/lib/udev/rules.d/80-ifupdown.rules",
            desktop.path / "lib/udev/rules.d/80-ifupdown.rules",
        )
        if p.is_file()
    )
    assert 'RUN+="ifupdown-hotplug"' in packaged and 'KERNEL=="rfkill"' in packaged
    desktop.write("/etc/network/interfaces", interfaces(FACTS.device))
    before = desktop.tree()
    apply_plugin(Services, desktop, client_config(tmp_path, "[clients]\n"))
    rule = desktop.changes_since(before)[HOTPLUG]
    assert isinstance(rule, str)
    active = [x for x in rule.splitlines() if x.strip() and not x.startswith("#")]
    assert active == [
        x
        for x in packaged.splitlines()
        if x.strip() and not x.startswith("#") and "ifupdown-hotplug" not in x
    ]
    assert any(x.startswith('KERNEL=="rfkill"') for x in active)


def test_ifupdown_hotplug_helper_kept_for_allow_hotplug_or_an_admin_rule(
    desktop: FakeRoot, tmp_path: Path
) -> None:
    desktop.write("/etc/network/interfaces", interfaces(FACTS.device))
    desktop.write("/etc/network/interfaces.d/usb", "allow-hotplug usb0\niface usb0 inet dhcp\n")
    before = desktop.tree()
    apply_plugin(Services, desktop, client_config(tmp_path, "[clients]\n"))
    assert HOTPLUG not in desktop.changes_since(before)
    desktop.write("/etc/network/interfaces.d/usb", "")
    desktop.write(f"/{HOTPLUG}", "# mine\n")
    before = desktop.tree()
    apply_plugin(Services, desktop, client_config(tmp_path, "[clients]\n"))
    assert HOTPLUG not in desktop.changes_since(before)
