"""`ltsp image`'s settings: ltsp.conf, its defaults from the parameter table, options on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsp_client.config.model import Config
from ltsp_client.server import publish
from ltsp_client.server.image import image_settings, parse_args


def settings_for(conf: dict[str, str], *argv: str) -> tuple[bool, int]:
    got = image_settings(Config(conf), parse_args(list(argv)), Path("/etc/ltsp"))
    return got.cleanup, got.keep


def test_defaults_backup_and_cleanup_on() -> None:
    assert settings_for({}) == (True, publish.DEFAULT_KEEP)


def test_ltsp_conf_turns_them_off() -> None:
    assert settings_for({"BACKUP": "0", "CLEANUP": "0"}) == (False, 1)


def test_options_win_over_ltsp_conf() -> None:
    assert settings_for({"BACKUP": "0", "CLEANUP": "0"}, "-b", "1", "-c", "1") == (
        True,
        publish.DEFAULT_KEEP,
    )
    assert settings_for({}, "-b0", "-c0") == (False, 1)


def test_option_takes_only_0_or_1() -> None:
    with pytest.raises(SystemExit):
        parse_args(["-b", "yes"])
