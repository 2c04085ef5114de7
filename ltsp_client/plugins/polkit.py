"""No suspend or hibernate on diskless clients (upstream's 55-polkit).

A netbooted client cannot resume: its root and the network it came from are
gone by then. logind's polkit actions are set to "no" for everyone; editing
the .policy file works with every polkit, also those older than 0.106 that
have no .rules files.
"""

from __future__ import annotations

import re

from ltsp_client.pluginkit import Plugin, PluginContext

POLICY = "/usr/share/polkit-1/actions/org.freedesktop.login1.policy"
DAEMONS = ("/usr/lib/polkit-1/polkitd", "/usr/libexec/polkitd")
ACTION = re.compile(
    r'(<action\s+id="org\.freedesktop\.login1\.(?:suspend|hibernate)[^"]*"\s*>)(.*?)(</action>)',
    re.S,
)
ALLOW = re.compile(r"<(allow_(?:any|inactive|active))>[^<]*</\1>")


def forbid_sleep(policy: str) -> str:
    """The policy with every allow_* of the suspend/hibernate actions set to `no`."""

    def one(action: re.Match[str]) -> str:
        body = ALLOW.sub(lambda m: f"<{m[1]}>no</{m[1]}>", action[2])
        return action[1] + body + action[3]

    return ACTION.sub(one, policy)


class Polkit(Plugin, name="polkit", order=45):
    """Forbid suspend and hibernate through logind's polkit policy.

    Example::

        # machines that may sleep (e.g. booting from a local copy of the image)
        [clients]
        OMIT_PLUGINS=polkit
    """

    aliases = ("polkit_main",)

    def applies(self, ctx: PluginContext) -> bool:
        if not any(ctx.path(daemon).is_file() for daemon in DAEMONS):
            return False  # systemd ships the policy; without polkit nobody reads it
        text = ctx.read_text(POLICY)
        return text is not None and forbid_sleep(text) != text

    def apply(self, ctx: PluginContext) -> None:
        text = ctx.read_text(POLICY) or ""
        ctx.write_file(POLICY, forbid_sleep(text))
