"""PASSWORDS_x: stored passwords for server users, for autologin and guest accounts.

Each whitespace-separated item is `userregex/base64password`; the regex
full-matches user names, the password is everything after the FIRST `/`
(base64 may contain `/`; upstream took the text after the last one). Only
server users (shadow field starting with `pamltsp`) are changed, to
`pamltsp=<base64>`; `user/` (empty password) makes a guest: `pamltsp=`.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ltsp_client.users.pwdb import PAMLTSP, Shadow


@dataclass(frozen=True)
class PasswordItem:
    user: re.Pattern[str]
    encoded: str  # base64, "" for a guest


def parse_items(values: Iterable[str]) -> tuple[list[PasswordItem], list[str]]:
    """The items of the PASSWORDS_x values (already sorted by key), and warnings."""
    items: list[PasswordItem] = []
    warnings: list[str] = []
    for value in values:
        for word in value.split():
            user, slash, encoded = word.partition("/")
            if not slash or not user:
                warnings.append(f"PASSWORDS_x item {word!r}: expected `userregex/base64password`")
                continue
            try:
                pattern = re.compile(user)
            except re.error as err:
                warnings.append(f"PASSWORDS_x item for {user!r}: bad regular expression: {err}")
                continue
            try:
                b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                warnings.append(f"PASSWORDS_x item for {user!r}: the password is not base64")
                continue
            items.append(PasswordItem(pattern, encoded))
    return items, warnings


def apply_passwords(
    shadow: Iterable[Shadow], items: Iterable[PasswordItem]
) -> tuple[list[Shadow], list[str]]:
    """Shadow entries with the items applied in order (a later item wins), and warnings."""
    entries = list(shadow)
    warnings: list[str] = []
    for item in items:
        hits = 0
        for index, entry in enumerate(entries):
            if entry.password.startswith(PAMLTSP) and item.user.fullmatch(entry.name):
                entries[index] = replace(entry, password=f"{PAMLTSP}={item.encoded}")
                hits += 1
        if not hits:
            warnings.append(f"PASSWORDS_x: no server user matches {item.user.pattern!r}")
    return entries, warnings
