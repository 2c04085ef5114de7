"""The account files: /etc/passwd, group, shadow and gshadow as typed records.

Parsing errors name the file and line (never a shadow field's content, which
may be a hash). Formatting gives back the exact colon-separated lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ltsp_client.errors import LtspError

T = TypeVar("T")
# the shadow password field of a server user (pwmerge writes it, `ltsp login` reads it)
PAMLTSP = "pamltsp"
SHADOW_AGING = 7  # lastchg, min, max, warn, inactive, expire, flag
NO_AGING = ("",) * SHADOW_AGING


@dataclass(frozen=True)
class User:
    name: str
    password: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str

    def line(self) -> str:
        fields = (self.name, self.password, self.uid, self.gid, self.gecos, self.home, self.shell)
        return ":".join(map(str, fields))


@dataclass(frozen=True)
class Group:
    name: str
    password: str
    gid: int
    members: tuple[str, ...] = ()

    def line(self) -> str:
        return f"{self.name}:{self.password}:{self.gid}:{','.join(self.members)}"


@dataclass(frozen=True)
class Shadow:
    name: str
    password: str
    aging: tuple[str, ...] = NO_AGING

    def line(self) -> str:
        return ":".join((self.name, self.password, *self.aging))


@dataclass(frozen=True)
class GShadow:
    name: str
    password: str = "*"
    admins: str = ""

    def line(self, members: Iterable[str]) -> str:
        return f"{self.name}:{self.password}:{self.admins}:{','.join(members)}"


@dataclass(frozen=True)
class AccountDb:
    """One directory's accounts; shadow/gshadow hold only the entries that were read."""

    users: tuple[User, ...]
    groups: tuple[Group, ...]
    shadow: tuple[Shadow, ...] = ()
    gshadow: tuple[GShadow, ...] = ()


def _records(text: str, source: str, fields: int, make: Callable[[list[str]], T]) -> list[T]:
    out: list[T] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(":")
        if len(parts) != fields:
            raise LtspError(
                f"{source}:{number}: expected {fields} fields separated by ':', found {len(parts)}",
                hint="fix or remove that line",
            )
        try:
            out.append(make(parts))
        except ValueError:
            raise LtspError(
                f"{source}:{number}: the user or group id is not a number",
                hint="fix or remove that line",
            ) from None
    return out


def _split_members(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m for m in text.split(",") if m))


def parse_passwd(text: str, source: str = "passwd") -> list[User]:
    return _records(
        text, source, 7, lambda p: User(p[0], p[1], int(p[2]), int(p[3]), p[4], p[5], p[6])
    )


def parse_group(text: str, source: str = "group") -> list[Group]:
    return _records(text, source, 4, lambda p: Group(p[0], p[1], int(p[2]), _split_members(p[3])))


def parse_shadow(text: str, source: str = "shadow") -> list[Shadow]:
    return _records(text, source, 9, lambda p: Shadow(p[0], p[1], tuple(p[2:])))


def parse_gshadow(text: str, source: str = "gshadow") -> list[GShadow]:
    return _records(text, source, 4, lambda p: GShadow(p[0], p[1], p[2]))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def read_dir(directory: Path, *, shadow: bool, label: str = "") -> AccountDb:
    """passwd and group (required) and, if asked, shadow and gshadow (missing: empty)."""
    label = label or str(directory)
    texts = {name: _read(directory / name) for name in ("passwd", "group")}
    for name, text in texts.items():
        if text is None:
            raise LtspError(
                f"{label}/{name} is missing",
                hint="the server's accounts reach clients in ltsp.img: run `ltsp initrd`",
            )
    db = AccountDb(
        tuple(parse_passwd(texts["passwd"] or "", f"{label}/passwd")),
        tuple(parse_group(texts["group"] or "", f"{label}/group")),
    )
    if not shadow:
        return db
    sh = _read(directory / "shadow") or ""
    gsh = _read(directory / "gshadow") or ""
    return AccountDb(
        db.users,
        db.groups,
        tuple(parse_shadow(sh, f"{label}/shadow")),
        tuple(parse_gshadow(gsh, f"{label}/gshadow")),
    )


@dataclass(frozen=True)
class IdRange:
    """Normal (non-system) user and group ids, from login.defs."""

    uid_min: int = 1000
    uid_max: int = 60000
    gid_min: int = 1000
    gid_max: int = 60000

    def normal_uid(self, uid: int) -> bool:
        return self.uid_min <= uid <= self.uid_max

    def normal_gid(self, gid: int) -> bool:
        return self.gid_min <= gid <= self.gid_max


def id_range(login_defs: str | None) -> IdRange:
    """UID_MIN/UID_MAX/GID_MIN/GID_MAX of a login.defs text (defaults 1000/60000)."""
    values = {"UID_MIN": 1000, "UID_MAX": 60000, "GID_MIN": 1000, "GID_MAX": 60000}
    for line in (login_defs or "").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in values and words[1].isdigit():
            values[words[0]] = int(words[1])
    return IdRange(values["UID_MIN"], values["UID_MAX"], values["GID_MIN"], values["GID_MAX"])


def format_db(db: AccountDb) -> dict[str, str]:
    """The four files' texts; gshadow lines carry the group's members."""
    gshadow = {g.name: g for g in db.gshadow}

    def text(lines: Iterable[str]) -> str:
        return "".join(line + "\n" for line in lines)

    return {
        "passwd": text(u.line() for u in db.users),
        "group": text(g.line() for g in db.groups),
        "shadow": text(s.line() for s in db.shadow),
        "gshadow": text(gshadow.get(g.name, GShadow(g.name)).line(g.members) for g in db.groups),
    }


def set_system_group(
    groups: Iterable[Group], name: str, members: Iterable[str], ids: IdRange
) -> list[Group]:
    """`groups` with NAME's members set exactly; a missing NAME gets the highest free system gid."""
    out = list(groups)
    wanted = tuple(dict.fromkeys(members))
    for index, group in enumerate(out):
        if group.name == name:
            out[index] = Group(group.name, group.password, group.gid, wanted)
            return out
    used = {g.gid for g in out}
    gid = next((n for n in range(ids.gid_min - 1, 99, -1) if n not in used), None)
    if gid is None:
        raise LtspError(f"no free system gid for the group {name}", hint="remove unused groups")
    return [*out, Group(name, "x", gid, wanted)]


def give_to_shadow_group(path: Path, groups: Iterable[Group]) -> None:
    """shadow/gshadow belong to root:shadow (when we are root and the group exists)."""
    gid = next((g.gid for g in groups if g.name == "shadow"), None)
    if gid is not None and os.geteuid() == 0:
        os.chown(path, 0, gid)
