"""ltsp.service (written and enabled at boot) and the `ltsp service` applet that it runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.errors import LtspError
from ltsp_client.init.service import Deps, Options, parse_args, serve
from ltsp_client.plugins.ltsp_service import BINARY, UNIT_TEXT, LtspService
from ltsp_client.run import run


@pytest.fixture
def client(debroot: Callable[..., Path]) -> FakeRoot:
    root = FakeRoot(debroot("systemd"))
    root.write(BINARY, "#!/bin/sh\n", 0o755)
    return root


def test_unit_written_enabled_and_valid(client: FakeRoot, tmp_path: Path) -> None:
    before = client.tree()
    apply_plugin(LtspService, client, client_config(tmp_path, "[clients]\n"))
    assert client.changes_since(before) == {
        "etc/systemd/system/ltsp.service": UNIT_TEXT,
        "etc/systemd/system/multi-user.target.wants/ltsp.service": (
            "-> /etc/systemd/system/ltsp.service"
        ),
    }
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd")
    verify = subprocess.run(
        ["systemd-analyze", f"--root={client.path}", "verify", "ltsp.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr


def test_not_needed_without_our_binary(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = debroot("systemd")
    assert apply_plugin(LtspService, root, client_config(tmp_path, "[clients]\n")) is None


def test_options() -> None:
    assert parse_args(["-s"]) == Options()
    assert parse_args(["--root", "/tmp"]) == Options(Path("/tmp"))
    with pytest.raises(LtspError, match="unknown option '--dry-run'"):
        parse_args(["--dry-run"])


def test_applet_runs_the_service_stage_and_hooks(
    fake_root: FakeRoot, capsys: pytest.CaptureFixture[str]
) -> None:
    """No NIC with a device here, so flow-control is "not needed"; the hooks run."""
    fake_root.write("/run/ltsp/client/.keep", "")
    fake_root.write(
        "/etc/ltsp/ltsp.conf",
        "[clients]\nPOST_SERVICE_X='echo done >\"$LTSP_ROOT/run/ltsp/post\"'\n",
    )
    fake_root.write("/sys/class/net/lo/type", "772\n")
    status = serve(Options(fake_root.path), Deps(runner=run, environ={}))  # runs the hook
    assert status == 0
    out = capsys.readouterr().out
    assert out == "ltsp service: 2 not needed\n"  # flow-control, nfs-read-ahead; no init plugin
    names = [e["step"] for e in map(json.loads, (fake_root.path / "run/ltsp/events.jsonl").open())]
    assert "hooks:POST_SERVICE" in names and not any(n.startswith("plugin:") for n in names)
    assert (fake_root.path / "run/ltsp/post").read_text() == "done\n"
    events = [json.loads(line) for line in (fake_root.path / "run/ltsp/events.jsonl").open()]
    assert {e["stage"] for e in events} == {"service"}
