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
    Lit,
    Part,
    ShellSyntaxError,
    Subst,
)


class _HeredocLexer(Lexer):
    def heredoc(self) -> list[Part]:
        parts: list[Part] = []
        while self.pos < len(self.text):
            ch = self.peek()
            if ch == "\\" and self.peek(1) in ("$", "`", "\\"):
                parts.append(Lit(self.peek(1), True))
                self.pos += 2
            elif ch == "\\" and self.peek(1) == "\n":
                self.pos += 2
            elif ch == "$":
                parts.append(self.dollar(quoted=True))
            elif ch == "`":
                parts.append(self.backticks())
            else:
                parts.append(Lit(ch, True))
                self.pos += 1
        return parts


def expand_percent(template: str, values: Mapping[str, str]) -> str:
    """`pc%{IP}` with IP=20 -> `pc20`; unknown variables expand to ""."""
    try:
        parts = _HeredocLexer(template.replace("%", "$")).heredoc()
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
