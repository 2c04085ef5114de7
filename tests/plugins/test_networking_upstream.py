"""The networking plugins against upstream LTSP 23.02's, on the same image, side by side.

Each case boots neither stack: upstream's `ltsp init` (chrooted) and ours
(`ltsp init --root`) each run as pid 1 of their own namespaces on an overlay
of one image made of real Debian packages, in a network namespace whose NIC
has the client's MAC and IP and a TCP connection to the server's NBD port
(tests/sidebyside.py). What each wrote under the networking paths is compared
file by file; comment lines are ignored (the generated-by headers differ).
Differences we keep on purpose are asserted here and listed in
docs/compatibility.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sidebyside as sbs

pytestmark = [pytest.mark.root]

NETWORK_PATHS = (
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "etc/systemd/resolved.conf.d",
    "etc/resolvconf",
    "etc/network",
    "usr/sbin/ifdown",
    "etc/NetworkManager",
    "etc/netplan",
    "run/netplan",
    "usr/lib/systemd/system-generators/netplan",
)
# Upstream's other init plugins do not matter here (they are compared by their own tests).
OTHERS = (
    'OMIT_FUNCTIONS="pam_main cron_main display_manager_main multiseat_main polkit_main'
    ' snap_main swap_main systemd_main xorg_conf_main services_main"\n'
)
DATA = Path(__file__).parent / "data"


def compare(case: sbs.Case, tmp_path: Path) -> list[str]:
    if why := sbs.available():
        pytest.fail(f"side-by-side runs need root and tools: {why}")
    upstream, ours = sbs.compare(case, tmp_path)
    up, our = sbs.only(upstream, NETWORK_PATHS), sbs.only(ours, NETWORK_PATHS)
    assert up, "upstream changed none of the networking paths: the harness is broken"
    return sbs.differences(up, our)


def test_school_desktop_image(tmp_path: Path) -> None:
    """NetworkManager, ifupdown, systemd-resolved and netplan; ltsp.conf DNS; MAC sections."""
    conf = (
        '[clients]\nHOSTNAME=pc%{IP}\nDNS_SERVER="10.0.0.53 10.0.0.54"\n'
        "SEARCH_DOMAIN=school.lan\n" + OTHERS + "\n"
        "[52:54:00:12:34:20]\nHOSTNAME=teacher\n\n"
        '[teacher]\nHOSTS_1="192.168.67.250 projector"\n'
    )
    case = sbs.Case(
        packages=("systemd", "systemd-resolved", "network-manager", "ifupdown", "netplan.io"),
        ltsp_conf=conf,
        files={"etc/netplan/01-network-manager-all.yaml": "network:\n  version: 2\n"},
    )
    assert compare(case, tmp_path) == []


def test_resolvconf_image_with_dhcp_values(tmp_path: Path) -> None:
    """resolvconf and ifupdown; DNS server and domain from the initramfs DHCP."""
    case = sbs.Case(
        packages=("resolvconf", "ifupdown"),
        ltsp_conf="[clients]\n" + OTHERS,
        files={"run/net-ens3.conf": (DATA / "net-ens3.conf").read_text()},
    )
    assert compare(case, tmp_path) == []


def test_plain_resolv_conf_with_dns_1(tmp_path: Path) -> None:
    """No resolver package: a plain resolv.conf naming the detected server (DNS=1)."""
    case = sbs.Case(
        packages=("netbase",),
        ltsp_conf="[common]\nDNS=1\n[clients]\n" + OTHERS,
        files={"etc/resolv.conf": "nameserver 192.0.2.1\n"},
    )
    assert compare(case, tmp_path) == []


def test_local_boot_without_server(tmp_path: Path) -> None:
    """A local-disk boot: no SERVER; upstream writes a `server` line without an address."""
    client = sbs.Client(cmdline="root=/dev/sda1 ltsp.image=ltsp/x86_64.img", nbd_connection=False)
    case = sbs.Case(packages=("netbase",), ltsp_conf="[clients]\n" + OTHERS, client=client)
    differences = compare(case, tmp_path)
    assert len(differences) == 1 and differences[0].startswith("etc/hosts:")
    assert "\\n\\tserver\\n" in differences[0]  # upstream's line with an empty address
