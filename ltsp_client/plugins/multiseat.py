"""Several seats on one client, devices assigned by udev rules (upstream's 55-multiseat)."""

from __future__ import annotations

import re

from ltsp_client.pluginkit import Param, Plugin, PluginContext

RULES = "/etc/udev/rules.d/72-ltsp-seats.rules"
SEAT_VAR = re.compile(r"^UDEV_SEAT_(\d)_\w+$")
ODD = "1,3,5,7,9,11,13,15,17,19"
HUB_PORT = re.compile(r"^\d+-\d+\.(1|3|5|7|9|11|13|15|17|19)$")


def autodetect(ctx: PluginContext) -> dict[str, str]:
    """MULTISEAT=1: seat-1 gets the lowest-bus GPU and the odd USB ports, when there are two GPUs.

    Boards with internal hubs (`1-1.3` style ports) have their odd ports one
    level deeper.
    """
    graphics = ctx.config.get_str("UDEV_SEAT_1_GRAPHICS") or "auto"
    if graphics != "auto":
        return {}
    sys = ctx.path("/sys")
    gpus = sorted(
        "/" + str(p.parent.relative_to(sys))
        for p in ctx.path("/sys/devices").glob("pci*/**/boot_vga")
    )
    if len(gpus) < 2:
        return {"UDEV_SEAT_1_GRAPHICS": "", "UDEV_SEAT_1_ODD_USB_PORTS": ""}
    found = {"UDEV_SEAT_1_GRAPHICS": f"{gpus[0]}*"}
    if not ctx.config.get_str("UDEV_SEAT_1_ODD_USB_PORTS"):
        usb = ctx.path("/sys/bus/usb/devices")
        hubs = usb.is_dir() and any(HUB_PORT.match(p.name) for p in usb.iterdir())
        ports = f"*/usb?/?-?/?-?.[{ODD}]/*" if hubs else f"*/usb?/?-[{ODD}]/*"
        found["UDEV_SEAT_1_ODD_USB_PORTS"] = ports
    return found


def rules(seats: dict[str, str]) -> str:
    """One udev rule per UDEV_SEAT_n_x (sorted by name): matching devices go to seat-n."""
    lines = ["# Written by LTSP at boot from MULTISEAT and UDEV_SEAT_n_x in ltsp.conf"]
    for name in sorted(seats):
        match = SEAT_VAR.match(name)
        if match and seats[name]:
            lines.append(f'TAG=="seat", DEVPATH=="{seats[name]}", ENV{{ID_SEAT}}="seat-{match[1]}"')
    return "\n".join(lines) + "\n"


class Multiseat(Plugin, name="multiseat", order=45):
    """udev seat rules from UDEV_SEAT_n_x; MULTISEAT=1 detects two graphics cards.

    Example::

        [clients]
        MULTISEAT=1
        UDEV_SEAT_2_SOUND="*/usb?/?-2/*"
    """

    params = (
        Param("MULTISEAT", "bool", help="1: split two graphics cards into two seats"),
        Param("UDEV_SEAT_", help="UDEV_SEAT_<n>_x: devices whose path matches go to seat-<n>"),
    )
    aliases = ("multiseat_main", "detect_multiseat")

    def _seats(self, ctx: PluginContext) -> dict[str, str]:
        seats = {k: ctx.config[k] for k in ctx.config if SEAT_VAR.match(k)}
        if ctx.flag("MULTISEAT"):
            seats.update(autodetect(ctx))
        return {k: v for k, v in seats.items() if v}

    def applies(self, ctx: PluginContext) -> bool:
        return bool(self._seats(ctx)) or ctx.path(RULES).exists()

    def apply(self, ctx: PluginContext) -> None:
        seats = self._seats(ctx)
        if seats:
            ctx.write_file(RULES, rules(seats))
        else:
            ctx.remove_file(RULES)
