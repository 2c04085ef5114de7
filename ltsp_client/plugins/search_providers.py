"""No GNOME Software results in the shell search (upstream's config_gnome_software).

Its search provider queries the package catalogue on every keystroke, slow
and pointless on a client that cannot install anything.
"""

from __future__ import annotations

from ltsp_client.pluginkit import Plugin, PluginContext

PROVIDER = "/usr/share/gnome-shell/search-providers/org.gnome.Software-search-provider.ini"


class SearchProviders(Plugin, name="search-providers", order=45):
    """Add DefaultDisabled=true to GNOME Software's shell search provider.

    Example::

        # keep it
        [clients]
        OMIT_FUNCTIONS=config_gnome_software
    """

    aliases = ("various_main", "config_gnome_software")

    def applies(self, ctx: PluginContext) -> bool:
        text = ctx.read_text(PROVIDER)
        return text is not None and "DefaultDisabled=true" not in text

    def apply(self, ctx: PluginContext) -> None:
        text = ctx.read_text(PROVIDER) or ""
        # The file has one section, [Shell Search Provider]: the key goes at its end.
        ctx.write_file(PROVIDER, text.rstrip("\n") + "\nDefaultDisabled=true\n")
