"""Merge the server's accounts (source) into the image's (destination), as upstream pwmerge.

Rules, in order (spec §4.4), with upstream's crashes and races fixed:

1. destination users are kept when their name matches `dur`, or they are a
   member of a group whose name (`:name` for a system group) matches `dgr`;
   system users (uid outside UID_MIN..UID_MAX) are always kept;
2. unkept normal destination users go, then normal groups left without members;
3. source users with a normal uid are imported when they match `sur` or a
   member of a group matching `sgr` (both unset: every normal user);
4. an imported user keeps the server's uid and primary group; a name already
   on the client stays the client's (warning when the ids differ); a uid or
   gid the client already uses for another name is refused with a warning;
5. server groups with an imported member come along (same name: members are
   joined; a gid taken by another client group: refused); only imported users
   join them, so a client-only user never gains a server user's memberships;
6. members that are unknown or have the group as primary group are dropped;
   normal groups left with no member and no primary user go.

Output order is stable boot to boot: the destination's entries in their order,
then the new ones in the source's order; members likewise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ltsp_client.users.pwdb import (
    NO_AGING,
    PAMLTSP,
    AccountDb,
    Group,
    GShadow,
    IdRange,
    Shadow,
    User,
)

LOCKED = "!"


@dataclass(frozen=True)
class Filters:
    """The four regexes (full match); None or "" matches nothing."""

    sur: re.Pattern[str] | None = None
    sgr: re.Pattern[str] | None = None
    dur: re.Pattern[str] | None = None
    dgr: re.Pattern[str] | None = None


@dataclass
class Report:
    """What the merge did, for the log."""

    kept: list[str] = field(default_factory=list)
    removed_users: list[str] = field(default_factory=list)
    removed_groups: list[str] = field(default_factory=list)
    imported_users: list[str] = field(default_factory=list)
    imported_groups: list[str] = field(default_factory=list)
    dropped_members: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Group:
    name: str
    password: str
    gid: int
    members: list[str]


def _group_key(group: Group | _Group, ids: IdRange) -> str:
    return group.name if ids.normal_gid(group.gid) else f":{group.name}"


def _matches(pattern: re.Pattern[str] | None, text: str) -> bool:
    return bool(pattern and pattern.pattern and pattern.fullmatch(text))


def _marked(db: AccountDb, users_re: re.Pattern[str] | None, groups_re: re.Pattern[str] | None,
            ids: IdRange) -> set[str]:  # fmt: skip
    names = {u.name for u in db.users}
    marked: set[str] = set()
    for group in db.groups:
        if _matches(groups_re, _group_key(group, ids)):
            marked.update(m for m in group.members if m in names)
            marked.update(u.name for u in db.users if u.gid == group.gid)
    marked.update(u.name for u in db.users if ids.normal_uid(u.uid) and _matches(users_re, u.name))
    return marked


def merge(
    source: AccountDb,
    dest: AccountDb,
    filters: Filters,
    ids: IdRange,
    *,
    ltsp: bool = True,
    keep_dest_shadow: bool = False,
) -> tuple[AccountDb, Report]:
    """The merged accounts and a report. `ltsp`: imported users get the `pamltsp` marker.

    `keep_dest_shadow`: kept destination users keep their shadow entries
    (upstream does this only when DUR or DGR is set); otherwise they get `!`.
    """
    work = _Merge(ids, ltsp=ltsp)
    work.keep_dest(dest, _marked(dest, filters.dur, filters.dgr, ids), keep_dest_shadow)
    sur = filters.sur
    if not _matches_anything(filters.sur) and not _matches_anything(filters.sgr):
        sur = re.compile(".*")
    work.import_users(source, _marked(source, sur, filters.sgr, ids))
    work.import_groups(source)
    return work.result(), work.report


class _Merge:
    """The merge in progress: ordered dicts of the client's users and groups."""

    def __init__(self, ids: IdRange, *, ltsp: bool) -> None:
        self.ids = ids
        self.ltsp = ltsp
        self.report = Report()
        self.users: dict[str, User] = {}
        self.groups: dict[str, _Group] = {}
        self.shadow: dict[str, Shadow] = {}
        self.gshadow: dict[str, GShadow] = {}
        self.imported: set[str] = set()

    def keep_dest(self, dest: AccountDb, kept: set[str], keep_shadow: bool) -> None:
        """Steps 1-2: the destination's users and groups that stay."""
        for user in dest.users:
            if self.ids.normal_uid(user.uid) and user.name not in kept:
                self.report.removed_users.append(user.name)
                continue
            self.users[user.name] = user
            if self.ids.normal_uid(user.uid):
                self.report.kept.append(user.name)
        for group in dest.groups:
            if self.ids.normal_gid(group.gid) and not self._alive(group.gid, group.members):
                self.report.removed_groups.append(group.name)
            else:
                self.groups[group.name] = _Group(
                    group.name, group.password, group.gid, list(group.members)
                )
        old_shadow = {s.name: s for s in dest.shadow} if keep_shadow else {}
        for name in self.users:
            self.shadow[name] = old_shadow.get(name, Shadow(name, LOCKED))
        if keep_shadow:
            self.gshadow = {g.name: g for g in dest.gshadow}

    def _alive(self, gid: int, members: tuple[str, ...] | list[str]) -> bool:
        return any(m in self.users for m in members) or self._is_primary(gid)

    def _is_primary(self, gid: int) -> bool:
        return any(u.gid == gid for u in self.users.values())

    def import_users(self, source: AccountDb, marked: set[str]) -> None:
        """Steps 3-4: the source's marked users with a normal uid, and their primary groups."""
        by_gid = {g.gid: g for g in source.groups}
        source_shadow = {s.name: s for s in source.shadow}
        for user in source.users:
            if user.name not in marked or not self.ids.normal_uid(user.uid):
                continue
            problem = _refusal(user, self.users, self.groups, by_gid)
            if problem:
                self.report.warnings.append(problem)
                continue
            self.users[user.name] = user
            self.imported.add(user.name)
            self.report.imported_users.append(user.name)
            if self.ltsp:
                self.shadow[user.name] = Shadow(user.name, PAMLTSP, NO_AGING)
            else:
                self.shadow[user.name] = source_shadow.get(user.name, Shadow(user.name, LOCKED))
            primary = by_gid.get(user.gid)
            if primary is None:
                self.report.warnings.append(
                    f"server user {user.name}: no server group has its gid {user.gid}"
                )
            elif primary.name not in self.groups:
                self.groups[primary.name] = _Group(primary.name, primary.password, primary.gid, [])
                self.report.imported_groups.append(primary.name)

    def import_groups(self, source: AccountDb) -> None:
        """Step 5: the source's groups with an imported member; only imported users join."""
        used_gids = {g.gid: g.name for g in self.groups.values()}
        source_gshadow = {g.name: g for g in source.gshadow}
        for sgroup in source.groups:
            new_members = [m for m in sgroup.members if m in self.imported]
            if not new_members and not any(self.users[n].gid == sgroup.gid for n in self.imported):
                continue
            target = self.groups.get(sgroup.name)
            if target is None:
                other = used_gids.get(sgroup.gid)
                if other is not None:
                    self.report.warnings.append(
                        f"server group {sgroup.name} (gid {sgroup.gid}) not imported: "
                        f"the client's group {other} has that gid"
                    )
                    continue
                target = _Group(sgroup.name, sgroup.password, sgroup.gid, [])
                self.groups[sgroup.name] = target
                used_gids[sgroup.gid] = sgroup.name
                self.report.imported_groups.append(sgroup.name)
            elif target.gid != sgroup.gid:
                in_use = self._is_primary(target.gid)
                _reconcile_gid(target, sgroup, self.ids, used_gids, self.report, in_use=in_use)
            target.password = sgroup.password
            target.members.extend(m for m in new_members if m not in target.members)
            if not self.ltsp and sgroup.name in source_gshadow:
                self.gshadow.setdefault(sgroup.name, source_gshadow[sgroup.name])

    def result(self) -> AccountDb:
        """Step 6: members that are unknown or primary dropped, empty normal groups gone."""
        final: list[Group] = []
        dropped: dict[str, None] = {}
        for work in self.groups.values():
            members: list[str] = []
            for member in work.members:
                found = self.users.get(member)
                if found is None:
                    dropped[member] = None
                elif found.gid != work.gid and member not in members:
                    members.append(member)
            if not members and not self._is_primary(work.gid) and self.ids.normal_gid(work.gid):
                self.report.removed_groups.append(work.name)
                continue
            final.append(Group(work.name, work.password, work.gid, tuple(members)))
        self.report.dropped_members = list(dropped)
        return AccountDb(
            tuple(self.users.values()),
            tuple(final),
            tuple(self.shadow[name] for name in self.users),
            tuple(self.gshadow.get(g.name, GShadow(g.name)) for g in final),
        )


def _matches_anything(pattern: re.Pattern[str] | None) -> bool:
    return bool(pattern and pattern.pattern)


def _refusal(
    user: User,
    users: dict[str, User],
    groups: dict[str, _Group],
    source_groups_by_gid: dict[int, Group],
) -> str:
    """Why a marked server user cannot be imported, or ""."""
    local = users.get(user.name)
    if local is not None:
        if (local.uid, local.gid) != (user.uid, user.gid):
            return (
                f"server user {user.name} (uid {user.uid}, gid {user.gid}) not imported: "
                f"the client keeps its own {user.name} (uid {local.uid}, gid {local.gid})"
            )
        return f"server user {user.name} not imported: the client keeps its own {user.name}"
    for other in users.values():
        if other.uid == user.uid:
            return (
                f"server user {user.name} not imported: "
                f"the client's user {other.name} has the same uid {user.uid}"
            )
    primary = source_groups_by_gid.get(user.gid)
    if primary is not None:
        same_name = groups.get(primary.name)
        if same_name is not None and same_name.gid != primary.gid:
            return (
                f"server user {user.name} not imported: its group {primary.name} has gid "
                f"{primary.gid} on the server and {same_name.gid} on the client"
            )
        for group in groups.values():
            if group.gid == primary.gid and group.name != primary.name:
                return (
                    f"server user {user.name} not imported: its group {primary.name}'s "
                    f"gid {primary.gid} is the client's group {group.name}"
                )
    return ""


def _reconcile_gid(
    group: _Group,
    sgroup: Group,
    ids: IdRange,
    used_gids: dict[int, str],
    report: Report,
    *,
    in_use: bool,
) -> None:
    """Same group name, different gids: a normal client gid yields to the server's.

    Not when a client user has it as primary group, or the server's gid is taken.
    """
    if ids.normal_gid(group.gid) and not in_use and sgroup.gid not in used_gids:
        report.warnings.append(
            f"group {group.name}: gid {sgroup.gid} on the server, {group.gid} on the client; "
            "taking the server's"
        )
        del used_gids[group.gid]
        group.gid = sgroup.gid
        used_gids[group.gid] = group.name
    else:
        report.warnings.append(
            f"group {group.name}: gid {sgroup.gid} on the server, {group.gid} on the client; "
            "keeping the client's"
        )
