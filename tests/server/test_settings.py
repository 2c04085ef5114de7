"""settings.load: a server applet reuses the dispatcher's evaluation of ltsp.conf."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ltsp_client import cli
from ltsp_client.appcontext import Context
from ltsp_client.applet import Host
from ltsp_client.config import sections
from ltsp_client.pluginkit import StaticFacts
from ltsp_client.server import settings
from ltsp_client.server.settings import ServerConfig

SERVER = StaticFacts(
    device="eth0", ip_address="192.168.67.1", mac_address="52:54:00:00:00:01", hostname="srv"
)
CONF = "[server]\nX_SERVER=1\n[52:54:00:00:00:01]\nX_MAC=1\n[clients]\nX_CLIENT=1\n"


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The applet of every evaluate_files call (the dispatcher's and settings.load's)."""
    calls: list[str] = []
    real = sections.evaluate_files

    def counting(**kwargs: Any) -> sections.Result:
        calls.append(kwargs["applet"])
        return real(**kwargs)

    monkeypatch.setattr(sections, "evaluate_files", counting)
    monkeypatch.setattr(settings, "evaluate_files", counting)
    return calls


def dispatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, etc: Path, loads: str = "info"
) -> ServerConfig:
    """`ltsp info` through the dispatcher, its applet loading `loads`' settings from `etc`."""
    host = Host(
        etc_dir=tmp_path / "etc",
        run_dir=tmp_path / "run",
        environ={"PATH": "/usr/bin:/bin"},
        facts=lambda _host: SERVER,
    )
    seen: list[ServerConfig] = []

    def applet(ctx: Context, args: list[str]) -> int:
        seen.append(settings.load(ctx, loads, etc))
        return 0

    monkeypatch.setattr(cli, "resolve", lambda name: applet)
    assert cli.main(["info"], host=host) == 0
    return seen[0]


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/ltsp.conf").write_text(CONF)
    return tmp_path / "etc"


def test_the_dispatchers_evaluation_is_reused(
    tmp_path: Path, etc: Path, monkeypatch: pytest.MonkeyPatch, evaluations: list[str]
) -> None:
    got = dispatch(tmp_path, monkeypatch, etc)
    assert evaluations == ["info"]  # once, by the dispatcher
    assert (got.text("X_SERVER"), got.text("X_MAC"), got.text("X_CLIENT")) == ("1", "1", "")
    assert [Path(f.path) for f in got.result.files] == [etc / "ltsp.conf"]


def test_an_applet_conf_the_dispatcher_read_too(
    tmp_path: Path, etc: Path, monkeypatch: pytest.MonkeyPatch, evaluations: list[str]
) -> None:
    (etc / "ltsp-info.conf").write_text("[info/]\nX_APPLET=1\n")
    got = dispatch(tmp_path, monkeypatch, etc)
    assert evaluations == ["info"]
    assert got.text("X_APPLET") == "1" and got.text("X_MAC") == "1"


def test_another_etc_is_evaluated_for_the_server_alone(
    tmp_path: Path, etc: Path, monkeypatch: pytest.MonkeyPatch, evaluations: list[str]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "ltsp.conf").write_text(CONF.replace("X_SERVER=1", "X_SERVER=other"))
    got = dispatch(tmp_path, monkeypatch, other)
    assert evaluations == ["info", "info"]
    assert (got.text("X_SERVER"), got.text("X_MAC")) == ("other", "")  # no identity here
    assert [Path(f.path) for f in got.result.files] == [other / "ltsp.conf"]


def test_without_the_dispatcher_it_evaluates(etc: Path, evaluations: list[str]) -> None:
    ctx = Context.from_environment("info", {}, {})
    got = settings.load(ctx, "info", etc)
    assert evaluations == ["info"]
    assert (got.text("X_SERVER"), got.text("X_MAC")) == ("1", "")


def test_another_applets_evaluation_is_not_reused(
    tmp_path: Path, etc: Path, monkeypatch: pytest.MonkeyPatch, evaluations: list[str]
) -> None:
    dispatch(tmp_path, monkeypatch, etc, loads="ipxe")
    assert evaluations == ["info", "ipxe"]
