"""Who logs in automatically: AUTOLOGIN as a user name or a `pattern/replacement` on HOSTNAME.

Upstream runs `sed "s/$AUTOLOGIN/"` on the hostname: with one `/` it is a
substitution (POSIX basic regex, first match, `&` and `\\1` in the
replacement), anything else is taken as the user name itself. A name that is
not an account of the client disables autologin (a greeter waiting for a
missing user blocks the seat).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Protocol

from ltsp_client.errors import LtspError

_BRE_ESCAPED = {"(": "(", ")": ")", "{": "{", "}": "}", "|": "|", "+": "+", "?": "?"}
_ERE_SPECIAL = "(){}|+?"


def bre_to_python(pattern: str) -> str:
    """A POSIX basic regular expression (GNU flavour) as a Python one."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(_BRE_ESCAPED.get(nxt, "\\" + nxt))
            i += 2
            continue
        if char == "[":
            end = _bracket_end(pattern, i)
            out.append(pattern[i:end].replace("\\", "\\\\"))
            i = end
            continue
        if char == "*" and (not out or out[-1] in ("(", "^")):
            out.append("\\*")
        elif char in _ERE_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _bracket_end(pattern: str, start: int) -> int:
    """Index after the `]` closing the bracket expression at `start`."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        if pattern.startswith("[:", i):
            close = pattern.find(":]", i + 2)
            i = close + 2 if close != -1 else i + 1
        else:
            i += 1
    return i + 1


def sed_replacement(text: str) -> str:
    """A sed replacement (`&`, `\\1`..`\\9`, `\\&`) as a Python `re.sub` template."""
    out: list[str] = []
    for token in _tokens(text):
        if len(token) == 2:  # backslash and the character it escapes
            nxt = token[1]
            out.append(f"\\g<{nxt}>" if nxt.isdigit() else nxt.replace("\\", "\\\\"))
        else:
            out.append("\\g<0>" if token == "&" else token.replace("\\", "\\\\"))
    return "".join(out)


def _split_unescaped(text: str) -> list[str]:
    parts = [""]
    for token in _tokens(text):
        if token == "/":
            parts.append("")
        else:
            parts[-1] += token
    return parts


def _tokens(text: str) -> Iterator[str]:
    """TEXT as a backslash with the character after it, or one character at a time."""
    i = 0
    while i < len(text):
        step = 2 if text[i] == "\\" and i + 1 < len(text) else 1
        yield text[i : i + step]
        i += step


def autologin_name(value: str, hostname: str) -> str:
    """The user name AUTOLOGIN asks for on this host ("" when AUTOLOGIN is empty)."""
    if not value:
        return ""
    parts = _split_unescaped(value)
    if len(parts) != 2:
        return value
    pattern, replacement = parts
    try:
        regex = re.compile(bre_to_python(pattern))
        return regex.sub(sed_replacement(replacement), hostname, count=1)
    except (re.error, IndexError) as err:
        raise LtspError(
            f"AUTOLOGIN={value}: cannot apply it to the hostname {hostname} ({err})",
            hint="use a user name, or `pattern/replacement` such as pc/guest",
        ) from None


def autologin_user(value: str, hostname: str, accounts: Collection[str]) -> str:
    """The autologin user, or "" when AUTOLOGIN is empty or names no account of the client."""
    name = autologin_name(value, hostname)
    return name if name in accounts else ""


def account_names(passwd: str | None) -> set[str]:
    """User names of a passwd text (the merged /etc/passwd of the client)."""
    return {line.split(":", 1)[0] for line in (passwd or "").splitlines() if line.strip()}


class ClientView(Protocol):
    """What the display-manager plugins read (a PluginContext has all of it)."""

    @property
    def exports(self) -> Mapping[str, str]: ...
    def path(self, path: str) -> Path: ...
    def read_text(self, path: str) -> str | None: ...
    def text(self, name: str) -> str: ...
    def expand(self, text: str) -> str: ...


def installed(client: ClientView, programs: Collection[str]) -> bool:
    """Whether one of `programs` is in the image (the display manager is installed)."""
    return any(client.path(program).is_file() for program in programs)


def client_hostname(client: ClientView) -> str:
    """The client's hostname as the hostname plugin set it."""
    text = client.exports.get("HOSTNAME") or (client.read_text("/etc/hostname") or "").strip()
    return text or client.expand(client.text("HOSTNAME"))


def client_autologin(client: ClientView) -> str:
    """The AUTOLOGIN user of this client: "" when unset or not an account of the client."""
    accounts = account_names(client.read_text("/etc/passwd"))
    return autologin_user(client.text("AUTOLOGIN"), client_hostname(client), accounts)
