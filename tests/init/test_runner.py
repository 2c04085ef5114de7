"""The step runner both boot stages share: break points, timing, one FATAL format."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ltsp_client.errors import ConfigError, LtspError
from ltsp_client.init import emergency
from ltsp_client.init.runner import StepError, StepRunner, break_points


def runner(tmp_path: Path, applet: str, breaks: str, shells: list[str]) -> StepRunner:
    def shell(prompt: str) -> int:
        shells.append(prompt)
        return 0

    console = emergency.Console(out=io.StringIO(), kmsg=tmp_path / "kmsg")
    policy = emergency.Policy(console=console, shell=shell)
    return StepRunner(applet, policy, break_points(breaks))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", set()),
        ("mount", {"mount"}),
        ("mount,init/plugin:hostname", {"mount", "init/plugin:hostname"}),
        (" a , ,initrd-bottom/b ", {"a", "initrd-bottom/b"}),
    ],
)
def test_break_points(value: str, expected: set[str]) -> None:
    assert break_points(value) == expected


def test_breaks_by_name_or_by_this_stage_only(tmp_path: Path) -> None:
    shells: list[str] = []
    ours = runner(tmp_path, "init", "facts,initrd-bottom/mount,init/config", shells)
    assert ours.wants_break("facts") and ours.wants_break("config")
    assert not ours.wants_break("mount")
    theirs = runner(tmp_path, "initrd-bottom", "facts,initrd-bottom/mount,init/config", shells)
    assert theirs.wants_break("mount") and not theirs.wants_break("config")


def test_steps_run_in_order_with_a_shell_before_the_chosen_one(
    tmp_path: Path, event_file: Path
) -> None:
    shells: list[str] = []
    seen: list[str] = []
    steps = (("one", lambda n: n + 1), ("two", lambda n: n * 10), ("three", lambda n: n - 3))
    run = runner(tmp_path, "init", "two", shells)
    result = run.run_all(steps, 1, after=lambda name, state: seen.append(f"{name}={state}"))
    assert result == 17
    assert seen == ["one=2", "two=20", "three=17"]
    assert shells == ["(ltsp break two) # "]
    recorded = [
        (e["step"], e["event"]) for e in map(json.loads, event_file.read_text().splitlines())
    ]
    assert recorded[:3] == [("one", "start"), ("one", "end"), ("two", "break")]
    assert "ltsp.break: stopped before init/two" in run.policy.console.out.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("error", "message", "hint"),
    [
        (LtspError("no image", hint="check IMAGE"), "no image", "check IMAGE"),
        (
            ConfigError("bad quote", file="/etc/ltsp/ltsp.conf", line=3, hint="close it"),
            "/etc/ltsp/ltsp.conf:3: bad quote",
            "close it",
        ),
        (FileNotFoundError(2, "No such file or directory", "/x"), "[Errno 2]", ""),
        (ZeroDivisionError("boom"), "internal error: ZeroDivisionError: boom", "a bug in ltsp"),
    ],
)
def test_a_failing_step_is_named_and_described(
    tmp_path: Path, error: Exception, message: str, hint: str
) -> None:
    def fails(state: int) -> int:
        raise error

    run = runner(tmp_path, "initrd-bottom", "", [])
    with pytest.raises(StepError) as caught:
        run.run_all((("ok", lambda n: n), ("mount", fails), ("never", lambda n: 1 // 0)), 0)
    assert caught.value.step == "mount"
    assert caught.value.message.startswith(message)
    assert caught.value.hint.startswith(hint)


def test_both_stages_report_in_one_format(tmp_path: Path) -> None:
    """`FATAL: ltsp <applet>: <step>: <message>`, the hint, the log: console and kmsg."""
    for applet in ("initrd-bottom", "init"):
        run = runner(tmp_path, applet, "", [])
        run.report(StepError("config", "bad", hint="fix it"), then="and then")
        console = run.policy.console.out.getvalue()  # type: ignore[attr-defined]
        assert console == (
            f"FATAL: ltsp {applet}: config: bad\n  hint: fix it\n"
            "  log: /run/ltsp/ltsp.log; and then\n"
        )
    kmsg = (tmp_path / "kmsg").read_text().splitlines()
    assert kmsg[0] == "<2>ltsp: FATAL: ltsp initrd-bottom: config: bad"
    assert kmsg[3] == "<2>ltsp: FATAL: ltsp init: config: bad"
