"""Deferred %{VAR} expansion (spec §2.5)."""

from __future__ import annotations

import pytest

from ltsp_client.config import expand_percent

VALUES = {"IP": "20", "MAC": "525400123456", "HOSTNAME": "pc07"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("ltsp%{IP}", "ltsp20"),
        ("pc-%{MAC}", "pc-525400123456"),
        (".*%{HOSTNAME#pc}", ".*07"),
        ("%{HOSTNAME%7}", "%{HOSTNAME%7}"),  # `%` inside becomes `$` too: bad, kept
        ("%HOSTNAME-x", "pc07-x"),
        ("%{UNSET}x", "x"),
        ("%{UNSET:-dflt}", "dflt"),
        ("'%{IP}'\"q\"", "'20'\"q\""),  # quotes stay literally
        ("50%", "50$"),  # every % becomes $; a lone one stays as $
        ("%(reboot)", "%(reboot)"),  # never run
        ("plain", "plain"),
        ("%{IP", "%{IP"),  # unfinished: kept as written
        ("%{UNSET?x}", "%{UNSET?x}"),
    ],
)
def test_expand_percent(template: str, expected: str) -> None:
    assert expand_percent(template, VALUES) == expected
