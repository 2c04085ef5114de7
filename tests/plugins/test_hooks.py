"""PRE_/POST_ hooks through a real `sh`: order, environment, section calls, failures."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from goldentree import FACTS as LAB_FACTS

from ltsp_client.config.model import Config
from ltsp_client.pluginkit.hooks import HookResult, applet_key, hook_lines, run_hooks
from ltsp_client.run import run

FACTS = replace(LAB_FACTS, device="eth0", mac_address="52:54:00:12:34:56", hostname="pc20")


def hooks(
    config: Config, tmp_path: Path, phase: str = "POST", applet: str = "init"
) -> HookResult | None:
    return run_hooks(
        phase,
        applet=applet,
        root=tmp_path,
        config=config,
        facts=FACTS,
        runner=run,
        exports={"HOSTNAME": "exported20"},
        output=tmp_path / "hooks.log",
    )


def test_applet_key() -> None:
    assert applet_key("initrd-bottom") == "INITRD_BOTTOM"
    assert applet_key("init") == "INIT"


def test_sorted_by_name_non_empty_values_joined(tmp_path: Path) -> None:
    out = tmp_path / "order"
    config = Config(
        assigned={
            "POST_INIT_b": f"echo b >> {out}",
            "POST_INIT_A": f"echo A >> {out}",
            "POST_INIT_10": f"echo 10 >> {out}",
            "POST_INIT_EMPTY": "",
            "PRE_INIT_X": f"echo pre >> {out}",
            "POST_INITRD_BOTTOM_X": f"echo other >> {out}",
        }
    )
    result = hooks(config, tmp_path)
    assert result is not None and result.ok and result.lines == 3
    assert out.read_text().split() == ["10", "A", "b"]


def test_no_hooks_no_run(tmp_path: Path) -> None:
    assert hooks(Config(assigned={"POST_INIT_X": ""}), tmp_path) is None


def test_initrd_excludes_initrd_bottom_hooks() -> None:
    config = Config(assigned={"PRE_INITRD_X": "a", "PRE_INITRD_BOTTOM_X": "b"})
    assert hook_lines(config, "PRE", "initrd") == ["a"]
    assert hook_lines(config, "PRE", "initrd-bottom") == ["b"]


def test_documented_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    script = (
        'printf \'{"stage":"%s","target":"%s","root":"%s","host":"%s",'
        '"mac":"%s","ip":"%s","server":"%s","mine":"%s","dev":"%s"}\' '
        '"$LTSP_STAGE" "$LTSP_TARGET" "$LTSP_ROOT" "$HOSTNAME" "$MAC_ADDRESS" '
        f'"$IP_ADDRESS" "$SERVER" "$MY_SETTING" "$DEVICE" > {out}'
    )
    config = Config(assigned={"PRE_INIT_1": script, "SERVER": "192.168.67.1", "MY_SETTING": "a b"})
    result = hooks(config, tmp_path, phase="PRE")
    assert result is not None and result.ok
    assert json.loads(out.read_text()) == {
        "stage": "init",
        "target": "PRE_INIT",
        "root": str(tmp_path),
        "host": "exported20",
        "mac": "52:54:00:12:34:56",
        "ip": "192.168.67.20",
        "server": "192.168.67.1",
        "mine": "a b",
        "dev": "eth0",
    }


def test_hook_calls_a_section_once(tmp_path: Path) -> None:
    out = tmp_path / "calls"
    config = Config(
        assigned={"POST_INIT_X": "section_set_root_hash\nsection_set_root_hash\nsection_clients"},
        section_bodies={
            "clients": f"echo clients >> {out}",
            "set_root_hash": f'HASH=abc\necho "hash $HASH $MAC_ADDRESS" >> {out}',
        },
        sections_run=("clients",),
    )
    result = hooks(config, tmp_path)
    assert result is not None and result.ok, result
    # [clients] already ran while ltsp.conf was evaluated: a no-op, as upstream
    assert out.read_text() == "hash abc 52:54:00:12:34:56\n"


def test_include_inside_a_called_section(tmp_path: Path) -> None:
    out = tmp_path / "calls"
    config = Config(
        assigned={"POST_INIT_X": "section_outer"},
        section_bodies={
            "outer": f'echo outer >> {out}\nsection_call "crt_*"',
            "crt_*": f"echo crt >> {out}",
        },
    )
    result = hooks(config, tmp_path)
    assert result is not None and result.ok, result
    assert out.read_text().split() == ["outer", "crt"]


def test_failure_is_returned_with_hint_and_output_logged(tmp_path: Path) -> None:
    config = Config(assigned={"POST_INIT_X": "echo about to fail\nexit 3"})
    result = hooks(config, tmp_path)
    assert result is not None and not result.ok and result.error is not None
    assert "POST_INIT_* hooks failed" in result.error.message
    assert "exit status 3" in result.error.message
    assert "ltsp.conf" in result.error.hint
    assert "about to fail" in (tmp_path / "hooks.log").read_text()


def test_timeout(tmp_path: Path) -> None:
    config = Config(assigned={"POST_INIT_X": "sleep 20", "HOOK_TIMEOUT": "1"})
    start = time.monotonic()
    result = hooks(config, tmp_path)
    assert time.monotonic() - start < 10
    assert result is not None and result.error is not None
    assert "timed out" in result.error.message


def test_background_process_does_not_hold_us(tmp_path: Path) -> None:
    config = Config(assigned={"POST_INIT_X": "sleep 8 &\necho started"})
    start = time.monotonic()
    result = hooks(config, tmp_path)
    assert result is not None and result.ok
    assert time.monotonic() - start < 6
    assert "started" in (tmp_path / "hooks.log").read_text()


def test_events_recorded(tmp_path: Path, events_file: Path) -> None:
    hooks(Config(assigned={"POST_INIT_X": "true"}), tmp_path)
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [(e["step"], e["event"]) for e in events] == [
        ("hooks:POST_INIT", "start"),
        ("hooks:POST_INIT", "end"),
    ]


def test_sections_of_a_real_ltsp_conf(tmp_path: Path) -> None:
    """Section bodies as the real loader gives them: shell lines, assignments, INCLUDE."""
    from ltsp_client.config import Identity, evaluate

    out = tmp_path / "calls"
    (tmp_path / "ltsp.conf").write_text(
        "[clients]\n"
        'POST_INIT_X="section_set_root_hash"\n'
        "\n"
        "[set_root_hash]\n"
        "GREETING=hello\n"
        f'echo "$GREETING $HOSTNAME" >> {out}\n'
        "INCLUDE=crt_monitor\n"
        "\n"
        "[crt_monitor]\n"
        f"echo crt >> {out}\n"
    )
    config = evaluate(
        applet="init",
        identity=Identity(mac=FACTS.mac_address, ip=FACTS.ip_address),
        is_client=True,
        config_dir=tmp_path,
        environ={},
    )
    result = hooks(config, tmp_path)
    assert result is not None and result.ok, result
    assert out.read_text() == "hello exported20\ncrt\n"
