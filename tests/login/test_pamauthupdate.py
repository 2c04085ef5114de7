"""Our pam-auth-update against Debian's, on roots built from real packages.

Each case prepares a root (real libpam-runtime, libpam-modules, libpam-systemd,
libpam-sss, libpam-ldapd, libpam-cap, libpam-gnome-keyring; /etc/pam.d set up
by the real tool as the package's postinst does), copies it, runs the image's
own /usr/sbin/pam-auth-update (its Perl, the host's Debconf modules, a private
debconf database inside the root) on one copy and `pamauthupdate.update` on
the other, and requires the same bytes in /etc/pam.d and /var/lib/pam.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pamtool import real_tool

from ltsp_client.login.pamauthupdate import update
from ltsp_client.login.pamprofiles import ToolNeededError
from ltsp_client.plugins.pam import profile

PACKAGES = (
    "libpam-runtime",
    "libpam-modules",
    "libpam-systemd",
    "libpam-sss",
    "libpam-ldapd",
    "libpam-cap",
    "libpam-gnome-keyring",
)


def write(root: Path, path: str, text: str) -> None:
    """Replace a file (never in place: debroot's files are hard links into a cache)."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    target.write_text(text)


def edit(root: Path, path: str, old: str, new: str) -> None:
    text = (root / path.lstrip("/")).read_text()
    assert old in text, f"{old!r} not in {path}"
    write(root, path, text.replace(old, new))


def state(root: Path) -> dict[str, bytes]:
    """Every file the tool manages (and any it should not have made)."""
    files = sorted((root / "etc/pam.d").iterdir()) + sorted((root / "var/lib/pam").iterdir())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root as after installing the packages: the postinst's `--package --force`."""
    import debroot

    root = tmp_path_factory.mktemp("pam") / "root"
    try:
        debroot.build_root(root, PACKAGES, shared=debroot.SharedFiles())
    except debroot.DebError as exc:
        pytest.fail(f"cannot build a root from Debian packages: {exc}")
    real_tool(root, "--package", "--force")
    assert (root / "etc/pam.d/common-auth").is_file()
    return root


def ours(root: Path, enable: list[str]) -> None:
    for path, data in update(root, enable).items():
        target = root / str(path).lstrip("/")
        target.unlink(missing_ok=True)
        target.write_bytes(data)


def compare(tmp_path: Path, base: Path, prepare: Callable[[Path], None], enable: list[str]) -> Path:
    """Prepare a copy of base, then run both tools on copies of it; return ours."""
    start = tmp_path / "start"
    shutil.copytree(base, start, symlinks=True)
    prepare(start)
    theirs, mine = tmp_path / "theirs", tmp_path / "ours"
    shutil.copytree(start, theirs, symlinks=True)
    shutil.copytree(start, mine, symlinks=True)
    real_tool(theirs, "--package", "--enable", *enable)
    ours(mine, enable)
    assert state(mine) == state(theirs)
    assert state(mine) != state(start), "nothing changed: the case tests nothing"
    return mine


LATER = (  # unseen, Default: yes, a jump in the Additional block
    "Name: later\nDefault: yes\nPriority: 300\nSession-Type: Additional\n"
    "Session:\n\t[success=end default=ignore] pam_env.so\n"
)


def ltsp_primary(root: Path) -> None:
    write(root, "/usr/share/pam-configs/ltsp", profile("Primary"))


def test_primary_on_a_fresh_image(tmp_path: Path, base: Path) -> None:
    mine = compare(tmp_path, base, ltsp_primary, ["ltsp"])
    auth = (mine / "etc/pam.d/common-auth").read_text()
    assert "pam_exec.so expose_authtok seteuid stdout quiet /usr/lib/ltsp/ltsp login" in auth
    assert "ltsp\n" in (mine / "var/lib/pam/seen").read_text()
    # a second run (`ltsp init --root` twice on one tree) changes nothing, as the tool's
    first = state(mine)
    ours(mine, ["ltsp"])
    real_tool(tmp_path / "theirs", "--package", "--enable", "ltsp")
    assert state(mine) == first == state(tmp_path / "theirs")


def test_additional_beside_sss_and_ldap_already_enabled(tmp_path: Path, base: Path) -> None:
    def prepare(root: Path) -> None:
        real_tool(root, "--package", "--enable", "mkhomedir")
        real_tool(root, "--package", "--disable", "capability")  # seen, must stay off
        write(root, "/usr/share/pam-configs/ltsp", profile("Additional"))

    compare(tmp_path, base, prepare, ["ltsp"])


def test_admin_changed_options_are_merged(tmp_path: Path, base: Path) -> None:
    def prepare(root: Path) -> None:
        edit(root, "/etc/pam.d/common-auth", "pam_unix.so nullok", "pam_unix.so debug")
        edit(root, "/etc/pam.d/common-password", "yescrypt", "yescrypt rounds=8")
        edit(root, "/etc/pam.d/common-session", "pam_systemd.so", "pam_systemd.so debug")
        ltsp_primary(root)

    mine = compare(tmp_path, base, prepare, ["ltsp"])
    assert "pam_unix.so debug" in (mine / "etc/pam.d/common-auth").read_text()


def test_admin_lines_outside_the_blocks_are_kept(tmp_path: Path, base: Path) -> None:
    def prepare(root: Path) -> None:
        edit(
            root,
            "/etc/pam.d/common-auth",
            "# here are the",
            "auth optional pam_faildelay.so\n# here are the",
        )
        ltsp_primary(root)

    mine = compare(tmp_path, base, prepare, ["ltsp"])
    assert "pam_faildelay.so" in (mine / "etc/pam.d/common-auth").read_text()


def test_profile_changed_since_the_last_run(tmp_path: Path, base: Path) -> None:
    """An image that had our profile enabled as Primary; this boot makes it Additional."""

    def prepare(root: Path) -> None:
        ltsp_primary(root)
        real_tool(root, "--package", "--enable", "ltsp")
        write(root, "/usr/share/pam-configs/ltsp", profile("Additional"))
        write(root, "/usr/share/pam-configs/later", LATER)
        (root / "usr/share/pam-configs/sss").unlink()

    compare(tmp_path, base, prepare, ["ltsp"])


def test_a_line_the_tool_did_not_write_needs_the_tool(tmp_path: Path, base: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(base, root, symlinks=True)
    fallback = "# here's the fallback"
    edit(root, "/etc/pam.d/common-auth", fallback, f"auth\toptional\tpam_mine.so\n{fallback}")
    ltsp_primary(root)
    before = state(root)
    with pytest.raises(ToolNeededError, match="common-auth differs"):
        update(root, ["ltsp"])
    assert "Local modifications" in real_tool(root, "--package", "--enable", "ltsp")
    assert state(root) == before  # and the real tool, too, changes nothing
