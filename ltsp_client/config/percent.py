"""Deferred `%{VAR}` expansion (spec §2.5): HOSTNAME, PWMERGE_*, LTSPDM_USERS.

Upstream turns every `%` into `$` and expands the result like a here-document:
`${VAR}`, `$VAR`, `${VAR#prefix}` and friends work, quotes stay literal, a
backslash escapes only `$`, backquote and backslash, and a lone `%` becomes `$`.
Command substitution (`%(cmd)`) is never run: it is kept as written.
"""

from __future__ import annotations

from collections.abc import Mapping

from ltsp_client.config.shellwords import (
    Expander,
    ExpansionError,
    IncompleteError,
    Lexer,
    ShellSyntaxError,
    Subst,
)


def expand_percent(template: str, values: Mapping[str, str]) -> str:
    """`pc%{IP}` with IP=20 -> `pc20`; unknown variables expand to ""."""
    try:
        parts = Lexer(template.replace("%", "$")).heredoc()
    except (IncompleteError, ShellSyntaxError):
        return template
    expander = Expander(values.get)
    out = []
    for part in parts:
        if isinstance(part, Subst):
            out.append(part.text.replace("$", "%"))
        else:
            try:
                out.append(expander.part(part))
            except ExpansionError:
                return template
    return "".join(out)
