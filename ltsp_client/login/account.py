"""The account logging in: passwd entry plus what its shadow field says (spec §4.3).

| shadow field          | kind                                             |
|-----------------------|--------------------------------------------------|
| `pamltsp`             | server user: the typed password is checked by SSH |
| `pamltsp=<base64>`    | server user with a stored password (autologin)   |
| `pamltsp=`            | guest: no password, no SSH                       |
| anything else         | local user: pam_unix's business, we stay out     |

Comma suffixes (`pamltsp=...,k=v`) are reserved and ignored.
"""

from __future__ import annotations

import binascii
import enum
import os
from base64 import b64decode
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.users.pwdb import PAMLTSP, Shadow, User, parse_passwd, parse_shadow

CACHE_DIR = "/run/ltsp/login"


class Kind(enum.Enum):
    LOCAL = "local"
    SERVER = "server"
    STORED = "stored"
    GUEST = "guest"


@dataclass(frozen=True)
class Account:
    user: User
    kind: Kind
    stored: str = ""  # the decoded stored password (Kind.STORED)

    @property
    def name(self) -> str:
        return self.user.name


def classify(field: str) -> tuple[Kind, str]:
    """The kind of a shadow password field, and the stored password (decoded) if any."""
    if not field.startswith(PAMLTSP):
        return Kind.LOCAL, ""
    value = field[len(PAMLTSP) :].split(",", 1)[0]
    if value == "":
        return Kind.SERVER, ""
    if value == "=":
        return Kind.GUEST, ""
    if not value.startswith("="):
        return Kind.LOCAL, ""  # "pamltspfoo": not ours
    try:
        decoded = b64decode(value[1:], validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return Kind.SERVER, ""
    return Kind.STORED, decoded.rstrip("\n")


def lookup(root: Path, name: str) -> Account | None:
    """The account NAME of the client at `root`, or None if it has none.

    As root, /etc/shadow is read and its line cached for this user (a
    screen locker runs us as the user, who cannot read shadow); otherwise
    the cache is read.
    """
    users = parse_passwd(_read(root / "etc/passwd"), "/etc/passwd")
    user = next((u for u in users if u.name == name), None)
    if user is None:
        return None
    cache = root / CACHE_DIR.lstrip("/") / name / "shadow"
    if os.geteuid() == 0:
        entries = parse_shadow(_read(root / "etc/shadow"), "/etc/shadow")
        entry = next((s for s in entries if s.name == name), None)
        if entry is not None and entry.password.startswith(PAMLTSP):
            _write_cache(cache, entry, user)
    else:
        cached = parse_shadow(_read(cache), str(cache)) if cache.exists() else []
        entry = next((s for s in cached if s.name == name), None)
    if entry is None:
        return Account(user, Kind.LOCAL)
    kind, stored = classify(entry.password)
    return Account(user, kind, stored)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _write_cache(cache: Path, entry: Shadow, user: User) -> None:
    cache.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(cache.parent, 0o700)
    os.chown(cache.parent, user.uid, user.gid)
    temp = cache.with_suffix(".new")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(entry.line() + "\n")
    os.chown(temp, user.uid, user.gid)
    os.replace(temp, cache)
