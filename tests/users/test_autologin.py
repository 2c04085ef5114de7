"""AUTOLOGIN resolution: a user name, or a sed `pattern/replacement` applied to HOSTNAME."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltsp_client.users.autologin import autologin_name, autologin_user


@pytest.mark.parametrize(
    ("value", "hostname", "expected"),
    [
        ("", "pc01", ""),
        ("guest", "pc01", "guest"),
        ("pc/guest", "pc01", "guest01"),
        ("pc/guest", "lab01", "lab01"),  # no match: the hostname itself
        (r"pc\([0-9]*\)/user\1x", "pc07", "user07x"),
        ("^.*/&-auto", "pc07", "pc07-auto"),
        ("a/b/c", "pc01", "a/b/c"),  # not one `/`: a literal name, as sed's error
        ("p+c/x", "p+c1", "x1"),  # `+` is literal in a basic regex
        ("[0-9]/N", "pc42", "pcN2"),  # first match only
    ],
)
def test_autologin_name(value: str, hostname: str, expected: str) -> None:
    assert autologin_name(value, hostname) == expected


def test_unknown_user_disables_autologin() -> None:
    assert autologin_user("pc/guest", "pc01", {"guest01"}) == "guest01"
    assert autologin_user("pc/guest", "pc02", {"guest01"}) == ""


SED_PATTERNS = st.sampled_from(
    ["pc", "^pc", "[0-9]", "[0-9]*$", r"\([a-z]*\)\([0-9]*\)", "c.", "x*", ".$", "[^0-9]"]
)
REPLACEMENTS = st.sampled_from(["guest", "&&", r"\2\1", "u&", r"\1-", "", "a\\&b"])


@settings(max_examples=80, deadline=None)
@given(SED_PATTERNS, REPLACEMENTS, st.from_regex(r"[a-z]{1,4}[0-9]{0,3}", fullmatch=True))
def test_same_as_sed(pattern: str, replacement: str, hostname: str) -> None:
    """Differential test against GNU sed, which upstream runs."""
    sed = shutil.which("sed")
    assert sed, "sed is required"
    if r"\2" in replacement and r"\(" not in pattern:
        return  # sed rejects it (invalid reference); we are not asked for that case
    if r"\1" in replacement and r"\(" not in pattern:
        return
    done = subprocess.run(
        [sed, f"s/{pattern}/{replacement}/"],
        input=hostname + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert autologin_name(f"{pattern}/{replacement}", hostname) == done.stdout.rstrip("\n")
