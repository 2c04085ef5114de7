"""A default locale for images that have none (upstream's config_locale, for live CDs)."""

from __future__ import annotations

from ltsp_client.pluginkit import Param, Plugin, PluginContext

LOCALE = "/etc/default/locale"


class Locale(Plugin, name="locale", order=45):
    """Append LANG (default C.UTF-8) and LANGUAGE to /etc/default/locale when it has no LANG.

    Example::

        [clients]
        LANG=el_GR.UTF-8
        LANGUAGE=el:en
    """

    params = (
        Param(
            "LANG", default="C.UTF-8", help="locale written to /etc/default/locale if it has none"
        ),
        Param("LANGUAGE", help="language list written with LANG to /etc/default/locale"),
    )
    aliases = ("various_main", "config_locale")

    def applies(self, ctx: PluginContext) -> bool:
        text = ctx.read_text(LOCALE)
        return text is not None and "LANG" not in text

    def apply(self, ctx: PluginContext) -> None:
        old = ctx.read_text(LOCALE) or ""
        lines = [
            "# Written by LTSP at boot (LANG, LANGUAGE in ltsp.conf)",
            f"LANG={ctx.text('LANG')}",
        ]
        if language := ctx.text("LANGUAGE"):
            lines.append(f"LANGUAGE={language}")
        prefix = old if not old or old.endswith("\n") else old + "\n"
        ctx.write_file(LOCALE, prefix + "\n".join(lines) + "\n")
