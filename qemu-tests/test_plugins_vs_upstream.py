"""Upstream LTSP 23.02 and ours boot the same school image with the same ltsp.conf; each
client's /etc and unit states must match, difference by difference, or be explained.

One image (the lab's base + upstream's `ltsp` + a school desktop's NetworkManager,
ifupdown, cron and ssh), published once by upstream's applets (`ltsp image`
squashes it, with its cleanup). Two clients (a teacher and a student MAC with
different sections) each boot it over NBD twice: with upstream's ltsp.img and
with ours (our ltsp.img in front of the same kernel and initrd). After each
boot, the client's root shell on ttyS1 sends /etc (a tar), `systemctl
list-unit-files` (system and --global) and the failed units; then the client
is powered off. Differences are written to RUN/differences-<client>.txt; each
one must be listed in KNOWN_DIFFERENCES (with its reason, also in
docs/compatibility.md). Ours must reach multi-user with no failed unit that
upstream's boot of the same client does not have, and the per-plugin times of
both are written to RUN/pid1-<client>.txt.

Run alone, under the lab lock:
    flock /tmp/ltsp-qemu.lock python3 -m pytest -m qemu qemu-tests/test_plugins_vs_upstream.py
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab import SERVER_IP, ourstack, runlog, timeline, upstream
from lab.clientstate import ClientState, collect, entry_differences, unit_differences
from lab.guestshell import GuestShell
from lab.netns import LabNetwork
from lab.school import (
    SCHOOL_CONF,
    SCHOOL_PACKAGES,
    STUDENT,
    TEACHER,
    VOLATILE,
    unexplained,
)
from lab.services import Dnsmasq, NbdServer
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu(timeout=1500)

BOOT_TIMEOUT = 300


@dataclass
class Lab:
    net: LabNetwork
    run_dir: Path
    published: upstream.Published
    our_ltsp_img: Path


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    missing = ourstack.missing_pieces()
    assert not missing, "our boot path is incomplete: missing " + "; ".join(missing)
    chroot = upstream.build_chroot(extra_packages=SCHOOL_PACKAGES)
    run_dir = runlog.new_run_dir("plugins-vs-upstream")
    with LabNetwork(prefix="npl", clients=1) as net:
        published, _ = upstream.publish(net, run_dir, chroot, extra_conf=SCHOOL_CONF)
        lab_conf = (published.etc_upper / "ltsp" / "ltsp.conf").read_text()
        our_img = ourstack.build_ltsp_img(run_dir / "ours", chroot, ltsp_conf=lab_conf)
        Dnsmasq(
            net,
            run_dir / "dhcp",
            conf_text=upstream.dnsmasq_conf_text(published, proxy_dhcp=False),
        ).start()
        NbdServer(net, run_dir, exports={upstream.IMAGE_NAME: published.image}).start()
        yield Lab(net=net, run_dir=run_dir, published=published, our_ltsp_img=our_img)


def boot_and_collect(lab: Lab, stack: str, who: str, mac: str) -> tuple[BootResult, ClientState]:
    name = f"{stack}-{who}"
    if stack == "upstream":
        initrds = [lab.published.ltsp_img, lab.published.initrd]
        append = lab.published.nbd_cmdline(mac)
    else:
        initrds = [lab.our_ltsp_img, lab.published.initrd]
        bootif = "01-" + mac.replace(":", "-")
        append = (
            f"root=/dev/nbd0 nbdroot={SERVER_IP},{upstream.IMAGE_NAME},nbd0 BOOTIF={bootif} "
            "ltsp.strict"
        )
    result = boot_client(
        lab.net,
        run_dir=lab.run_dir,
        name=name,
        mac=mac,
        kernel=lab.published.kernel,
        initrds=initrds,
        append=append,
        timeout=BOOT_TIMEOUT,
        markers=timeline.VM_MARKERS,
        keep=True,
    )
    assert result.ok, result.why()
    tl = timeline.from_boot(result, stack=stack, method=name)
    timeline.write_text(tl, lab.run_dir / f"{name}.timeline.txt")
    with GuestShell(lab.run_dir / f"{name}.ttyS1.sock") as shell:
        state = collect(shell)
        shell.poweroff()
    return result, state


@pytest.mark.parametrize(("who", "mac"), [("teacher", TEACHER), ("student", STUDENT)])
def test_same_etc_and_units_as_upstream(lab: Lab, who: str, mac: str) -> None:
    up_boot, up = boot_and_collect(lab, "upstream", who, mac)
    our_boot, ours = boot_and_collect(lab, "ours", who, mac)
    etc = entry_differences(up.etc, ours.etc, ignore=VOLATILE)
    units = {f"unit {u}": d for u, d in unit_differences(up.units, ours.units).items()}
    user_units = {
        f"user unit {u}": d for u, d in unit_differences(up.user_units, ours.user_units).items()
    }
    steps = {
        stack: timeline.pid1_steps(boot, stack=stack)
        for stack, boot in (("upstream", up_boot), ("ours", our_boot))
    }
    lines = [f"{k}: {v}" for k, v in {**etc, **units, **user_units}.items()]
    for path in etc:
        for stack, state in (("upstream", up), ("ours", ours)):
            entry = state.etc.get(path)
            lines.append(f"--- {stack} {path}: {entry!r}"[:2000])
    (lab.run_dir / f"differences-{who}.txt").write_text("\n".join(lines) + "\n")
    (lab.run_dir / f"pid1-{who}.txt").write_text(
        "\n".join(
            f"{stack} {step} {seconds:.3f}" for stack in steps for step, seconds in steps[stack]
        )
        + "\n"
    )
    # the client ended up where upstream's did: hostname, sections, files and units
    name = ours.etc["etc/hostname"][2].strip()
    assert re.fullmatch("teacher" if who == "teacher" else r"student\d+", name), name
    assert not unexplained({**etc, **units, **user_units}), (
        f"unexplained differences (see {lab.run_dir}/differences-{who}.txt):\n"
        + "\n".join(unexplained({**etc, **units, **user_units}))
    )
    # multi-user with no failed unit caused by us
    assert ours.system_state in ("running", "degraded"), ours.system_state
    assert set(ours.failed) <= set(up.failed), (ours.failed, up.failed)
    # the boot timeline has each of our plugins' times
    our_steps = {step for step, _ in steps["ours"]}
    assert {"plugin:hostname", "plugin:hosts", "plugin:dns"} <= our_steps, steps["ours"]
