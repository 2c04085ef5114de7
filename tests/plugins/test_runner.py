"""The stage runner: order, failure isolation, strict mode, omission, exports, events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from goldentree import FakeRunner

from ltsp_client.config.model import Config
from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import Plugin, PluginContext, StaticFacts
from ltsp_client.pluginkit.base import Registry, collecting
from ltsp_client.pluginkit.runner import StageError, run_plugins

ran: list[str] = []


def registry() -> Registry:
    with collecting() as found:

        class Exporter(Plugin, name="exporter", order=5):
            """Exports a value."""

            def apply(self, ctx: PluginContext) -> None:
                ran.append(self.name)
                ctx.export("COMPUTED", "42")

        class Broken(Plugin, name="broken", order=10):
            """Fails like a plugin should: with a hint."""

            def apply(self, ctx: PluginContext) -> None:
                ran.append(self.name)
                raise LtspError("cannot do it", hint="do this instead")

        class Buggy(Plugin, name="buggy", order=20):
            """Fails like a bug."""

            def apply(self, ctx: PluginContext) -> None:
                ran.append(self.name)
                raise KeyError("oops")

        class Idle(Plugin, name="idle", order=30):
            """Only works when asked."""

            def applies(self, ctx: PluginContext) -> bool:
                return ctx.config.get_bool("IDLE_WORK")

            def apply(self, ctx: PluginContext) -> None:
                ran.append(self.name)

        class Reader(Plugin, name="reader", order=90):
            """Sees what earlier plugins exported."""

            def apply(self, ctx: PluginContext) -> None:
                ran.append(f"{self.name}:{ctx.config.get_str('COMPUTED')}")
                ctx.path("/etc/reader").parent.mkdir(parents=True)
                ctx.path("/etc/reader").write_text("ok")

    result = Registry()
    for cls in found:
        result.add(cls)
    return result


@pytest.fixture(autouse=True)
def clear_ran() -> None:
    ran.clear()


def context(tmp_path: Path) -> PluginContext:
    return PluginContext(tmp_path, Config(), StaticFacts(), FakeRunner())


def test_failures_are_isolated_and_recorded(tmp_path: Path, events_file: Path) -> None:
    between: list[int] = []
    summary = run_plugins(registry(), context(tmp_path), between=lambda: between.append(len(ran)))
    assert ran == ["exporter", "broken", "buggy", "reader:42"]
    assert [(o.name, o.status) for o in summary.outcomes] == [
        ("exporter", "ok"),
        ("broken", "failed"),
        ("buggy", "failed"),
        ("idle", "not needed"),
        ("reader", "ok"),
    ]
    broken, buggy = summary.outcomes[1], summary.outcomes[2]
    assert (broken.detail, broken.hint) == ("cannot do it", "do this instead")
    assert buggy.detail == "KeyError: 'oops'" and "bug in the plugin" in buggy.hint
    assert summary.failed == ["broken", "buggy"]
    assert summary.exports == {"COMPUTED": "42"}
    assert (tmp_path / "etc/reader").read_text() == "ok"
    assert between == [1, 2, 3, 4]
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [(e["step"], e["event"]) for e in events] == [
        ("plugin:exporter", "start"),
        ("plugin:exporter", "end"),
        ("plugin:broken", "start"),
        ("plugin:broken", "fail"),
        ("plugin:buggy", "start"),
        ("plugin:buggy", "fail"),
        ("plugin:reader", "start"),
        ("plugin:reader", "end"),
    ]


def test_strict_stops_at_the_first_failure(tmp_path: Path) -> None:
    with pytest.raises(StageError) as caught:
        run_plugins(registry(), context(tmp_path), strict=True)
    assert ran == ["exporter", "broken"]
    assert "broken failed (strict mode): cannot do it" in caught.value.message
    assert caught.value.hint == "do this instead"
    assert caught.value.summary.ran == ["exporter", "broken"]


def test_omitted_and_applies(tmp_path: Path) -> None:
    ctx = PluginContext(tmp_path, Config(assigned={"IDLE_WORK": "1"}), StaticFacts(), FakeRunner())
    summary = run_plugins(
        registry(), ctx, omit={"broken": "OMIT_PLUGINS", "buggy": "OMIT_FUNCTIONS (buggy_main)"}
    )
    assert ran == ["exporter", "idle", "reader:42"]
    assert summary.names("omitted") == ["broken", "buggy"]
    assert summary.outcomes[1].detail == "OMIT_PLUGINS"


def test_only_plugins_of_the_current_stage_run(tmp_path: Path) -> None:
    with collecting() as found:

        class Session(Plugin, name="session-only", order=70):
            """Runs in the user's session."""

            stages = ("session",)

            def apply(self, ctx: PluginContext) -> None:
                ran.append(self.name)

        class Both(Plugin, name="both", order=71):
            """Runs at init and in the session."""

            stages = ("init", "session")

            def apply(self, ctx: PluginContext) -> None:
                ran.append(f"{self.name}:{ctx.stage}")

    plugins = Registry({cls.name: cls for cls in found})
    init = run_plugins(plugins, context(tmp_path))
    assert ran == ["both:init"]
    assert [o.name for o in init.outcomes] == ["both"], "other stages' plugins are not listed"
    ran.clear()
    session = PluginContext(tmp_path, Config(), StaticFacts(), FakeRunner(), stage="session")
    run_plugins(plugins, session)
    assert ran == ["session-only", "both:session"]


def test_applies_sees_the_root(tmp_path: Path) -> None:
    with collecting() as found:

        class Dm(Plugin, name="dm", order=60):
            """Configures a display manager, if the image has one."""

            def applies(self, ctx: PluginContext) -> bool:
                return ctx.path("/usr/sbin/lightdm").exists()

            def apply(self, ctx: PluginContext) -> None:
                ran.append(self.name)

    plugins = Registry({cls.name: cls for cls in found})
    assert run_plugins(plugins, context(tmp_path)).names("not needed") == ["dm"]
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/lightdm").write_text("")
    assert run_plugins(plugins, context(tmp_path)).names("ok") == ["dm"]
    assert ran == ["dm"]


def test_unknown_stage_is_refused() -> None:
    with collecting(), pytest.raises(ValueError, match="stages"):

        class Bad(Plugin, name="bad-stage", order=20):
            """Wrong stage."""

            stages = ("boot",)
