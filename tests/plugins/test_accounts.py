"""The accounts plugin on a root with base-passwd's real files and a server's accounts."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from goldentree import apply_plugin, client_config

from ltsp_client.errors import LtspError
from ltsp_client.plugins.accounts import Accounts

SERVER_USERS = (
    "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
    "bob:x:1001:1001:Bob:/home/bob:/bin/bash\n"
    "guest01:x:1101:1101::/home/guest01:/bin/bash\n"
)
SERVER_GROUPS = "alice:x:1000:\nbob:x:1001:\nguest01:x:1101:\npupils:x:1500:bob,alice\n"


@pytest.fixture
def root(debroot) -> Path:  # type: ignore[no-untyped-def]
    """An image: base-passwd's passwd/group (as its postinst installs them), login.defs,
    a shadow, one local user; ltsp.img's server passwd/group in /etc/ltsp."""
    root: Path = debroot("base-passwd", "login")
    share = root / "usr/share/base-passwd"
    passwd = (share / "passwd.master").read_text()
    group = (share / "group.master").read_text()
    etc = root / "etc"
    (etc / "passwd").write_text(passwd + "admin:x:1000:1000::/home/admin:/bin/bash\n")
    (etc / "group").write_text(group + "admin:x:1000:\n")
    names = [line.split(":")[0] for line in passwd.splitlines()]
    (etc / "shadow").write_text(
        "".join(f"{n}:*:19000:0:99999:7:::\n" for n in names)
        + "admin:$y$j9T$salt$hash:19000:0:99999:7:::\n"
    )
    (etc / "gshadow").write_text(
        "".join(f"{line.split(':')[0]}:*::\n" for line in group.splitlines())
    )
    (etc / "ltsp").mkdir(exist_ok=True)
    (etc / "ltsp/passwd").write_text(passwd + SERVER_USERS)
    (etc / "ltsp/group").write_text(group + SERVER_GROUPS)
    return root


def shadow(root: Path) -> dict[str, str]:
    return {
        line.split(":")[0]: line.split(":")[1]
        for line in (root / "etc/shadow").read_text().splitlines()
    }


def test_server_users_replace_image_users(root: Path, tmp_path: Path) -> None:
    secret = base64.b64encode(b"pw?>?").decode()  # contains "/" and "+"? keep whole anyway
    conf = f'[clients]\nPASSWORDS_LAB="guest0[1-9]/ alice/{secret}"\n'
    apply_plugin(Accounts, root, client_config(tmp_path, conf))
    passwd = (root / "etc/passwd").read_text()
    assert "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n" in passwd
    assert "admin:" not in passwd
    got = shadow(root)
    assert got["alice"] == f"pamltsp={secret}"
    assert got["bob"] == "pamltsp"
    assert got["guest01"] == "pamltsp="
    assert got["root"] == "!"  # image accounts are locked unless DUR/DGR keeps their shadow
    assert "pupils:x:1500:bob,alice\n" in (root / "etc/group").read_text()
    for name, mode in (("passwd", 0o644), ("group", 0o644), ("shadow", 0o640), ("gshadow", 0o640)):
        st = (root / "etc" / name).stat()
        assert st.st_mode & 0o777 == mode, name
        if name in ("shadow", "gshadow") and os.geteuid() == 0:
            assert st.st_gid == 42  # base-passwd's shadow group


def test_keep_local_admin_and_its_password(root: Path, tmp_path: Path) -> None:
    conf = "[clients]\nPWMERGE_DUR=adm%{IN}\nIN=in\nPWMERGE_SUR=bob\n"
    apply_plugin(Accounts, root, client_config(tmp_path, conf))
    got = shadow(root)
    assert got["admin"] == "$y$j9T$salt$hash" and got["root"] == "*"
    assert got["bob"] == "pamltsp" and "alice" not in got


def test_bad_regex_names_the_parameter(root: Path, tmp_path: Path) -> None:
    with pytest.raises(LtspError, match=r"PWMERGE_SGR=\(pupils: not a regular expression"):
        apply_plugin(Accounts, root, client_config(tmp_path, '[clients]\nPWMERGE_SGR="(pupils"\n'))


def test_off_and_missing_server_accounts(root: Path, tmp_path: Path) -> None:
    assert (
        apply_plugin(Accounts, root, client_config(tmp_path, "[clients]\nPAM_AUTH_TYPE=0\n"))
        is None
    )
    (root / "etc/ltsp/group").unlink()
    with pytest.raises(LtspError, match=r"/etc/ltsp/group is missing") as err:
        apply_plugin(Accounts, root, client_config(tmp_path, ""))
    assert "ltsp initrd" in err.value.hint
    (root / "etc/ltsp/passwd").unlink()
    assert apply_plugin(Accounts, root, client_config(tmp_path, "")) is None


def test_same_boot_twice_same_bytes(root: Path, tmp_path: Path) -> None:
    """Group members in a stable order boot to boot (upstream wrote Python set order)."""
    image = {n: (root / "etc" / n).read_text() for n in ("passwd", "group", "shadow", "gshadow")}
    results = []
    for _ in range(2):
        for name, text in image.items():
            (root / "etc" / name).write_text(text)
        apply_plugin(Accounts, root, client_config(tmp_path, ""))
        results.append({n: (root / "etc" / n).read_text() for n in image})
    assert results[0] == results[1]
