"""docs/parameters.md is the parameter table, generated; it fails here when stale."""

from __future__ import annotations

from pathlib import Path

from ltsp_client.pluginkit.paramdoc import COMMAND, all_params, markdown

DOC = Path(__file__).resolve().parents[2] / "docs/parameters.md"


def test_parameters_md_is_up_to_date() -> None:
    expected = markdown(all_params())
    assert DOC.read_text(encoding="utf-8") == expected, (
        f"docs/parameters.md is stale: run `{COMMAND}`"
    )


def test_it_lists_plugin_and_table_parameters() -> None:
    text = markdown(all_params())
    assert "| `HOSTNAME` | str | `ltsp%{IP}` | hostname |" in text
    assert "| `CRONTAB_x` | str |  | cron |" in text
    assert "| `IGNORE_EPOPTES` | bool |  | upstream: 55-various |" in text
    assert "| `PAM_AUTH_TYPE` | enum: 0, Primary, Additional |" in text
