"""`ltsp.*` kernel parameters (spec §2.8)."""

from __future__ import annotations

from ltsp_client.config.kernelvars import parse_kernel_vars


def test_names_are_uppercased_with_dashes_turned_to_underscores() -> None:
    cmdline = "BOOT_IMAGE=/vmlinuz ro ltsp.image=images/x.img ltsp.image-to-ram=1 quiet"
    assert parse_kernel_vars(cmdline) == {"IMAGE": "images/x.img", "IMAGE_TO_RAM": "1"}


def test_double_quotes_keep_spaces_and_are_removed_from_the_value() -> None:
    cmdline = 'ltsp.image="/path/to ltsp.vbox=1" ltsp.debug_shell=1'
    assert parse_kernel_vars(cmdline) == {"IMAGE": "/path/to ltsp.vbox=1", "DEBUG_SHELL": "1"}


def test_any_case_but_a_letter_first() -> None:
    found = parse_kernel_vars("LTSP.Overlay=0 ltsp.1a=2 ltsp.=3 ltsp.b 4ltsp.c=5")
    assert found == {"OVERLAY": "0"}


def test_only_a_dot_separates() -> None:
    """Upstream's unescaped `.` read `ltsp_debug=1` as DEBUG=1 (docs/compatibility.md)."""
    assert parse_kernel_vars("ltsp_debug=1 ltspxshell=1 ltsp-image=x") == {}
    assert parse_kernel_vars("ltsp_debug=1 ltsp.debug=2") == {"DEBUG": "2"}


def test_value_is_shell_evaluated_without_running_anything() -> None:
    cmdline = "ltsp.a='x' ltsp.b=$HOME/z ltsp.c=$(reboot) ltsp.d=a;b ltsp.e='x y'"
    found = parse_kernel_vars(cmdline, {"HOME": "/h"})
    # only double quotes protect spaces when splitting; an unusable value is kept as written
    assert found == {"A": "x", "B": "/h/z", "C": "$(reboot)", "D": "a;b", "E": "'x"}


def test_later_token_wins_and_empty_values() -> None:
    assert parse_kernel_vars("ltsp.a=1 ltsp.a=2 ltsp.b=") == {"A": "2", "B": ""}
