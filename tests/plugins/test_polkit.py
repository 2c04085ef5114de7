"""The polkit plugin on systemd's real login1 policy, with polkitd installed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.polkit import POLICY, Polkit

SLEEP = re.compile(r"org\.freedesktop\.login1\.(suspend|hibernate)")


def defaults(policy: str) -> dict[str, dict[str, str]]:
    """action id -> {allow_any: ..., ...}, parsed as XML."""
    found = {}
    for action in ET.fromstring(policy).iter("action"):
        element = action.find("defaults")
        found[action.get("id", "")] = {d.tag: d.text or "" for d in element or []}
    return found


def test_only_sleep_actions_change(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("systemd", "polkitd"))
    before = root.tree()
    apply_plugin(Polkit, root, client_config(tmp_path, "[clients]\n"))
    changes = root.changes_since(before)
    rel = POLICY.lstrip("/")
    assert list(changes) == [rel]
    old, new = defaults(before[rel]), defaults(changes[rel] or "")
    sleep = [action for action in old if SLEEP.match(action)]
    assert len(sleep) == 6
    for action, values in new.items():
        if action in sleep:
            assert values == {"allow_any": "no", "allow_inactive": "no", "allow_active": "no"}
        else:
            assert values == old[action]
    # Nothing else in the file moved: same lines apart from the allow_* of those actions.
    lines = zip(before[rel].splitlines(), str(changes[rel]).splitlines(), strict=True)
    changed = [(a, b) for a, b in lines if a != b]
    assert all("<allow_" in a and ">no<" in b for a, b in changed)


def test_not_needed_without_polkitd_or_twice(debroot: Callable[..., Path], tmp_path: Path) -> None:
    config = client_config(tmp_path, "[clients]\n")
    assert apply_plugin(Polkit, debroot("systemd", name="nopolkit"), config) is None
    root = debroot("systemd", "polkitd")
    assert apply_plugin(Polkit, root, config) is not None
    assert apply_plugin(Polkit, root, config) is None  # already done
