"""Local swap partitions of the client's disk, as systemd swap units (upstream's 55-swap).

Partitions are found through sysfs and recognised by their swap signature
(magic-byte probing, no blkid). Partitions of network, loop and RAM disks are
never used (the NBD root image may hold its VM's swap), nor those of a disk
that md or device-mapper holds (a RAID member). The unit is written, not
started: systemd activates it with swap.target, so a failing disk does not
stop the boot.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ltsp_client.pluginkit import Param, Plugin, PluginContext
from ltsp_client.system.probe import probe_file

log = logging.getLogger(__name__)

NOT_LOCAL = re.compile(r"^(loop|nbd|ram|zram|sr|dm-|md|fd)")
UNIT_DIR = "/etc/systemd/system"


def unit_for(device: str) -> str:
    """`/dev/sda2` -> `dev-sda2.swap` (systemd-escape --path --suffix=swap)."""
    out = []
    for index, char in enumerate(device.strip("/")):
        if char == "/":
            out.append("-")
        elif char.isascii() and (char.isalnum() or char in ":_" or (char == "." and index)):
            out.append(char)
        else:
            out.append("".join(f"\\x{byte:02x}" for byte in char.encode()))
    return "".join(out) + ".swap"


def _held(block: Path) -> bool:
    holders = block / "holders"
    return holders.is_dir() and any(holders.iterdir())


def swap_partitions(ctx: PluginContext) -> list[str]:
    """/dev/NAME of every local partition with a swap signature."""
    found = []
    classes = ctx.path("/sys/class/block")
    for entry in sorted(classes.iterdir()) if classes.is_dir() else []:
        block = ctx.path(f"/sys/class/block/{entry.name}")
        if not (block / "partition").is_file() or NOT_LOCAL.match(block.parent.name):
            continue
        if _held(block) or _held(block.parent):
            continue
        device = ctx.path(f"/dev/{entry.name}")
        try:
            fstype = probe_file(device).fstype
        except OSError as exc:
            log.warning("cannot read %s: %s", device, exc)
            continue
        if fstype == "swap":
            found.append(f"/dev/{entry.name}")
    return found


class Swap(Plugin, name="swap", order=45):
    """Activate the local disk's swap partitions (unless LOCAL_SWAP=0).

    Example::

        # the lab PCs' disks belong to another system
        [clients]
        LOCAL_SWAP=0
    """

    params = (Param("LOCAL_SWAP", "bool", "1", "0: do not activate local swap partitions"),)
    aliases = ("swap_main", "local_swap")

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.flag("LOCAL_SWAP") and bool(swap_partitions(ctx))

    def apply(self, ctx: PluginContext) -> None:
        for device in swap_partitions(ctx):
            unit = unit_for(device)
            ctx.write_file(
                f"{UNIT_DIR}/{unit}",
                f"# Written by LTSP at boot: a local swap partition\n[Swap]\nWhat={device}\n",
            )
            ctx.enable_unit(unit, wanted_by=("swap.target",))
