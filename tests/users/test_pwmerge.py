"""pwmerge on the real passwd/group of Debian's base-passwd package plus test users."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltsp_client.errors import LtspError
from ltsp_client.users.pwdb import AccountDb, IdRange, format_db, parse_group, parse_passwd
from ltsp_client.users.pwmerge import Filters, merge

IDS = IdRange()
BASE = Path("/usr/share/base-passwd")

SERVER_USERS = """\
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
bob:x:1001:1001:Bob:/home/bob:/bin/bash
carol:x:1002:100:Carol:/home/carol:/bin/bash
teacher:x:1003:1003:Teacher:/home/teacher:/bin/bash
"""
SERVER_GROUPS = """\
alice:x:1000:
bob:x:1001:
teacher:x:1003:
pupils:x:1500:bob,alice,carol
sudo:x:27:teacher
"""
IMAGE_USERS = "localadmin:x:1000:1000:Local:/home/localadmin:/bin/bash\n"
IMAGE_GROUPS = "localadmin:x:1000:\n"


@pytest.fixture
def base(debroot) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """passwd.master and group.master from the base-passwd .deb: the image's system accounts."""
    root = debroot("base-passwd")
    share = root / "usr/share/base-passwd"
    return (share / "passwd.master").read_text(), (share / "group.master").read_text()


def db(passwd: str, group: str) -> AccountDb:
    return AccountDb(tuple(parse_passwd(passwd)), tuple(parse_group(group)))


def names(db_: AccountDb) -> list[str]:
    return [u.name for u in db_.users]


def group_of(db_: AccountDb, name: str) -> tuple[int, tuple[str, ...]]:
    (group,) = [g for g in db_.groups if g.name == name]
    return group.gid, group.members


def rx(text: str) -> re.Pattern[str]:
    return re.compile(text)


def test_default_imports_every_server_user_and_drops_image_users(base: tuple[str, str]) -> None:
    passwd, group = base
    server = db(passwd + SERVER_USERS, group + SERVER_GROUPS)
    image = db(passwd + IMAGE_USERS, group + IMAGE_GROUPS)
    merged, report = merge(server, image, Filters(), IDS)
    system = [u.name for u in parse_passwd(passwd)]
    assert names(merged) == [*system, "alice", "bob", "carol", "teacher"]
    assert report.removed_users == ["localadmin"]
    # uids/gids are the server's; the image's group 1000 (localadmin) is gone
    alice = next(u for u in merged.users if u.name == "alice")
    assert (alice.uid, alice.gid) == (1000, 1000)
    assert group_of(merged, "alice") == (1000, ())
    assert "localadmin" not in [g.name for g in merged.groups]
    # memberships carry over (system groups too); primary users are implicit
    assert group_of(merged, "pupils") == (1500, ("bob", "alice", "carol"))
    assert group_of(merged, "sudo") == (27, ("teacher",))
    # server users are pamltsp users; kept image users are locked
    shadow = {s.name: s.password for s in merged.shadow}
    assert shadow["alice"] == "pamltsp" and shadow["root"] == "!"
    assert [s.name for s in merged.shadow] == names(merged)


def test_filters(base: tuple[str, str]) -> None:
    passwd, group = base
    server = db(passwd + SERVER_USERS, group + SERVER_GROUPS)
    image = db(passwd + IMAGE_USERS, group + IMAGE_GROUPS + "staff2:x:1600:localadmin\n")
    system = len(parse_passwd(passwd))

    merged, _ = merge(server, image, Filters(sur=rx("a.*")), IDS)
    assert names(merged)[system:] == ["alice"]
    # a system group needs the ":" prefix: "sudo" alone matches nothing
    merged, _ = merge(server, image, Filters(sgr=rx("sudo")), IDS)
    assert names(merged)[system:] == []
    merged, _ = merge(server, image, Filters(sgr=rx(":sudo")), IDS)
    assert names(merged)[system:] == ["teacher"]
    # sgr matches by primary group too (carol's primary group is users, gid 100)
    merged, _ = merge(server, image, Filters(sgr=rx(":users")), IDS)
    assert names(merged)[system:] == ["carol"]
    # with sgr set, sur no longer defaults to everyone
    merged, _ = merge(server, image, Filters(sur=rx("bob"), sgr=rx("pupils")), IDS)
    assert names(merged)[system:] == ["alice", "bob", "carol"]
    # "" matches nothing, but both empty means "everyone", as upstream
    merged, _ = merge(server, image, Filters(sur=rx(""), sgr=rx("")), IDS)
    assert len(names(merged)) == system + 4

    # DUR/DGR keep image users; a uid clash with a kept user refuses the server user
    merged, report = merge(server, image, Filters(dur=rx("local.*")), IDS)
    assert "localadmin" in names(merged) and "alice" not in names(merged)
    assert any("alice" in w and "localadmin" in w for w in report.warnings)
    merged, _ = merge(server, image, Filters(dgr=rx("staff2")), IDS)
    assert "localadmin" in names(merged)
    assert group_of(merged, "staff2") == (1600, ("localadmin",))


def test_same_name_kept_user_is_no_crash_and_local_wins(base: tuple[str, str]) -> None:
    """Upstream crashed (KeyError) on a marked server user already kept on the client."""
    passwd, group = base
    server = db(passwd + SERVER_USERS, group + SERVER_GROUPS)
    image = db(
        passwd + "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
        "bob:x:2000:2000:Other bob:/home/bob:/bin/sh\n",
        group + "alice:x:1000:\nbob:x:2000:\n",
    )
    merged, report = merge(server, image, Filters(dur=rx("alice|bob")), IDS, keep_dest_shadow=True)
    bob = next(u for u in merged.users if u.name == "bob")
    assert bob.uid == 2000 and bob.gecos == "Other bob"
    assert any("bob" in w and "uid 1001" in w for w in report.warnings)
    shadow = {s.name: s.password for s in merged.shadow}
    assert shadow["alice"] == "!"  # the client's own alice (no shadow line given): local
    # the kept bob does not gain server bob's membership of pupils
    assert "bob" not in group_of(merged, "pupils")[1]


def test_gid_clash_never_grants_a_client_group(base: tuple[str, str]) -> None:
    """A server group whose gid is a different client group is refused (no privilege leak)."""
    passwd, group = base
    server = db(passwd + SERVER_USERS, group + SERVER_GROUPS + "labusers:x:27:alice\n")
    server = AccountDb(server.users, tuple(g for g in server.groups if g.name != "sudo"))
    merged, report = merge(server, db(passwd, group), Filters(), IDS)
    assert group_of(merged, "sudo") == (27, ())
    assert "labusers" not in [g.name for g in merged.groups]
    assert any("labusers" in w for w in report.warnings)


def test_bad_input_is_no_crash() -> None:
    """Members missing from passwd and users without a primary group: upstream crashed."""
    server = db(
        "root:x:0:0::/root:/bin/sh\nann:x:1000:4242::/home/ann:/bin/sh\n",
        "root:x:0:\nclass:x:1500:ann,ghost\n",
    )
    image = db("root:x:0:0::/root:/bin/sh\n", "root:x:0:ghost\n")
    merged, report = merge(server, image, Filters(), IDS)
    assert names(merged) == ["root", "ann"]
    assert group_of(merged, "class") == (1500, ("ann",))
    assert group_of(merged, "root") == (0, ())
    assert report.dropped_members == ["ghost"]
    assert any("4242" in w for w in report.warnings)


def test_parse_errors_name_file_and_line() -> None:
    with pytest.raises(LtspError, match=r"/etc/ltsp/passwd:2: expected 7 fields"):
        parse_passwd("root:x:0:0::/root:/bin/sh\nbroken:x:1\n", "/etc/ltsp/passwd")
    with pytest.raises(LtspError, match=r"group:1: the user or group id is not a number"):
        parse_group("adm:x:four:\n")


def test_login_defs_ranges(debroot) -> None:  # type: ignore[no-untyped-def]
    from ltsp_client.users.pwdb import id_range

    root = debroot("login")
    ids = id_range((root / "etc/login.defs").read_text())
    assert ids == IdRange(1000, 60000, 1000, 60000)
    assert id_range("UID_MIN 500\n#GID_MIN 7\n") == IdRange(500, 60000, 1000, 60000)


MEMBERS = st.lists(st.sampled_from(["alice", "bob", "carol", "dave", "eve"]), unique=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(MEMBERS, min_size=1, max_size=4), st.permutations(range(5)))
def test_output_is_deterministic_and_consistent(
    memberships: list[list[str]], order: list[int]
) -> None:
    """Same input, same bytes (group members no longer in set order); every member exists."""
    users = ["alice", "bob", "carol", "dave", "eve"]
    passwd = "".join(
        f"{users[i]}:x:{1000 + i}:{1000 + i}::/home/{users[i]}:/bin/sh\n" for i in order
    )
    group = "".join(f"{users[i]}:x:{1000 + i}:\n" for i in range(5)) + "".join(
        f"g{n}:x:{2000 + n}:{','.join(m)}\n" for n, m in enumerate(memberships)
    )
    server = db("root:x:0:0::/root:/bin/sh\n" + passwd, "root:x:0:\n" + group)
    image = db("root:x:0:0::/root:/bin/sh\n", "root:x:0:\nsudo:x:27:\n")
    first = format_db(merge(server, image, Filters(sur=rx("[a-d].*")), IDS)[0])
    again = format_db(merge(server, image, Filters(sur=rx("[a-d].*")), IDS)[0])
    assert first == again
    merged = parse_passwd(first["passwd"])
    known = {u.name for u in merged}
    assert "eve" not in known
    uids = [u.uid for u in merged]
    assert len(uids) == len(set(uids))
    groups = {g.name: g.members for g in parse_group(first["group"])}
    for n, members in enumerate(memberships):
        expected = tuple(m for m in members if m in known)  # the server's order
        assert groups.get(f"g{n}", ()) == expected
