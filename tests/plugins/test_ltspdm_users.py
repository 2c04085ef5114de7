"""LTSPDM_USERS on real files: AccountsService's users dir, slick-greeter, base-passwd's group."""

from __future__ import annotations

from pathlib import Path

from goldentree import apply_plugin, client_config

from ltsp_client.plugins.ltspdm import LtspdmUsers

USERS = "".join(
    f"{name}:x:{uid}:{uid}::/home/{name}:/bin/sh\n"
    for name, uid in (("teacher", 1000), ("pupil01", 1001), ("pupil02", 1002), ("other", 1003))
)


def test_greeter_lists_only_the_selected(debroot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root: Path = debroot("base-passwd", "slick-greeter")
    share = root / "usr/share/base-passwd"
    (root / "etc/passwd").write_text((share / "passwd.master").read_text() + USERS)
    group = (share / "group.master").read_text()
    (root / "etc/group").write_text(group)
    accounts = root / "var/lib/AccountsService/users"
    accounts.mkdir(parents=True)
    (accounts / "other").write_text("[User]\n")
    (accounts / "teacher").write_text("[User]\nIcon=/x\n")
    conf = (
        '[clients]\nLTSPDM_USERS="teacher|pupil%{N}"\nN=0[1-9]\n'
        'SLICK_CONF="[Greeter]\ntheme-name=Adwaita"\n'
    )
    apply_plugin(LtspdmUsers, root, client_config(tmp_path, conf))
    assert sorted(p.name for p in accounts.iterdir()) == ["pupil01", "pupil02", "teacher"]
    assert (accounts / "teacher").read_text() == "[User]\nIcon=/x\n", "kept as it was"
    lines = (root / "etc/group").read_text().splitlines()
    assert lines[: len(group.splitlines())] == group.splitlines()
    assert lines[-1] == "ltspdm:x:999:teacher,pupil01,pupil02"
    assert (root / "etc/lightdm/slick-greeter.conf").read_text().splitlines() == [
        "[Greeter]",
        "group-filter = ltspdm",
        "theme-name = Adwaita",
    ]
    # a second boot: same group, same gid, members replaced
    apply_plugin(LtspdmUsers, root, client_config(tmp_path, "[clients]\nLTSPDM_USERS=other\n"))
    assert (root / "etc/group").read_text().splitlines()[-1] == "ltspdm:x:999:other"


def test_no_match_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(USERS)
    before = sorted(root.rglob("*"))
    apply_plugin(LtspdmUsers, root, client_config(tmp_path, "[clients]\nLTSPDM_USERS=nobody\n"))
    assert sorted(root.rglob("*")) == before
