"""X_* settings into /etc/X11/xorg.conf (upstream's 55-xorg-conf)."""

from __future__ import annotations

from ltsp_client.pluginkit import Param, Plugin, PluginContext

XORG = "/usr/lib/xorg/Xorg"


def render(values: dict[str, str]) -> str:
    """xorg.conf for the set X_* values; unset ones leave X's autodetection alone."""

    def line(indent: str, key: str, text: str) -> list[str]:
        return [f"{indent}{text}"] if values.get(key) else []

    v = values.get
    device = line("    ", "X_DRIVER", f'Driver "{v("X_DRIVER")}"')
    monitor = (
        line("    ", "X_HORIZSYNC", f"HorizSync {v('X_HORIZSYNC')}")
        + line("    ", "X_VERTREFRESH", f"VertRefresh {v('X_VERTREFRESH')}")
        + line("    ", "X_PREFERREDMODE", f'Option "PreferredMode" "{v("X_PREFERREDMODE")}"')
        + line("    ", "X_MODELINE", f"Modeline {v('X_MODELINE')}")
    )
    display = line("        ", "X_VIRTUAL", f"Virtual {v('X_VIRTUAL')}") + line(
        "        ", "X_MODES", f"Modes {v('X_MODES')}"
    )
    out = [
        "# Written by LTSP at boot from the X_* settings of ltsp.conf; see xorg.conf(5)",
        "",
        'Section "Device"',
        '    Identifier "Configured Video Device"',
        *device,
        "EndSection",
        "",
        'Section "Monitor"',
        '    Identifier "Configured Monitor"',
        *monitor,
        "EndSection",
        "",
        'Section "Screen"',
        '    Identifier "Default Screen"',
        '    Monitor "Configured Monitor"',
        '    Device "Configured Video Device"',
    ]
    if display:
        out += ['    SubSection "Display"', *display, "    EndSubSection"]
    out.append("EndSection")
    return "\n".join(out) + "\n"


class Xorg(Plugin, name="xorg", order=45):
    """Write /etc/X11/xorg.conf when any X_* parameter is set and Xorg is installed.

    X_MODES is the most portable way to force a resolution.

    Example::

        [clients]
        X_DRIVER=vesa
        X_MODES="1024x768" "800x600"
    """

    params = (
        Param("X_DRIVER", help="xorg.conf Driver, e.g. vesa or modesetting (quoted for you)"),
        Param("X_HORIZSYNC", help="xorg.conf HorizSync, e.g. 28.0-87.0"),
        Param("X_VERTREFRESH", help="xorg.conf VertRefresh, e.g. 43.0-87.0"),
        Param("X_PREFERREDMODE", help="xorg.conf PreferredMode option, e.g. 1024x768"),
        Param("X_MODELINE", help="xorg.conf Modeline, as written (name and timings)"),
        Param("X_VIRTUAL", help="xorg.conf Virtual, e.g. 800 600"),
        Param("X_MODES", help='xorg.conf Modes, e.g. "1024x768" "800x600"'),
    )
    aliases = ("xorg_conf_main",)

    def _values(self, ctx: PluginContext) -> dict[str, str]:
        keys = [param.name for param in self.params]
        return {key: ctx.expand(ctx.text(key)) for key in keys if ctx.text(key)}

    def applies(self, ctx: PluginContext) -> bool:
        return bool(self._values(ctx)) and ctx.path(XORG).exists()

    def apply(self, ctx: PluginContext) -> None:
        ctx.write_file("/etc/X11/xorg.conf", render(self._values(ctx)))
