"""PASSWORDS_x into the shadow field of server users."""

from __future__ import annotations

from base64 import b64encode

from ltsp_client.users.passwords import apply_passwords, parse_items
from ltsp_client.users.pwdb import Shadow


def shadow() -> list[Shadow]:
    return [
        Shadow("root", "!"),
        Shadow("guest01", "pamltsp"),
        Shadow("guest02", "pamltsp"),
        Shadow("kiosk", "pamltsp"),
        Shadow("local", "$y$j9T$hash"),
    ]


def test_slash_in_base64_is_kept_whole() -> None:
    """Upstream took the text after the LAST `/`: `??>` encodes to `Pz8+`, `???` to `Pz8/`."""
    encoded = b64encode(b"???~").decode()
    assert "/" in encoded
    items, warnings = parse_items([f"kiosk/{encoded}"])
    assert not warnings
    entries, warnings = apply_passwords(shadow(), items)
    assert not warnings
    assert {s.name: s.password for s in entries}["kiosk"] == f"pamltsp={encoded}"


def test_guests_regex_and_local_users_untouched() -> None:
    items, _ = parse_items(["guest0[1-9]/ lo.*/c2VjcmV0", "root/c2VjcmV0"])
    entries, warnings = apply_passwords(shadow(), items)
    got = {s.name: s.password for s in entries}
    assert got == {
        "root": "!",
        "guest01": "pamltsp=",
        "guest02": "pamltsp=",
        "kiosk": "pamltsp",
        "local": "$y$j9T$hash",
    }
    assert warnings == [
        "PASSWORDS_x: no server user matches 'lo.*'",
        "PASSWORDS_x: no server user matches 'root'",
    ]


def test_bad_items_are_warnings() -> None:
    items, warnings = parse_items(["nouser", "/c2VjcmV0", "x(/c2VjcmV0", "kiosk/not:base64"])
    assert items == []
    assert len(warnings) == 4
    assert "not base64" in warnings[3]
