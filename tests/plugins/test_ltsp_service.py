"""ltsp.service (written and enabled at boot) and the `ltsp service` applet that it runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FACTS, FakeRoot, apply_plugin, client_config

from ltsp_client.appcontext import Context
from ltsp_client.applet import Host, run_applet
from ltsp_client.errors import LtspError
from ltsp_client.init.service import Options, main, parse_args
from ltsp_client.plugins.ltsp_service import BINARY, UNIT_TEXT, LtspService


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


def test_multi_user_does_not_wait_for_the_tasks() -> None:
    # multi-user.target is ordered after what it wants: a oneshot would hold it for the
    # whole `ltsp service` run (8-19 s under QEMU, docs/benchmarks.md)
    service = UNIT_TEXT.split("[Service]")[1].split("[Install]")[0]
    assert "\nType=exec\n" in service and "RemainAfterExit=yes" in service
    assert "\nNice=19\n" in service  # never in the way of the units the boot waits for
    after = UNIT_TEXT.split("\nAfter=")[1].split("\n")[0].split()
    assert {"multi-user.target", "graphical.target"} <= set(after)  # started once they are


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
    """Through the dispatcher's glue, as `ltsp service` runs: ltsp.conf, hooks, plugins.

    No NIC has a device and no NFS volume is mounted: both service plugins have
    nothing to do, no init-stage plugin runs, the POST hook does."""
    fake_root.write("/run/ltsp/client/.keep", "")
    post = fake_root.path / "run/ltsp/post"  # hooks of applets act on / (LTSP_ROOT=/)
    fake_root.write("/etc/ltsp/ltsp.conf", f"[clients]\nPOST_SERVICE_X='echo done >{post}'\n")
    fake_root.write("/sys/class/net/lo/type", "772\n")
    run_dir = fake_root.path / "run/ltsp"
    host = Host(
        etc_dir=fake_root.path / "etc/ltsp",
        run_dir=run_dir,
        environ={},
        facts=lambda host: FACTS,
    )
    ctx = Context.from_environment("service", {}, environ={})
    status = run_applet(main, ctx, ["--root", str(fake_root.path)], host)
    assert status == 0
    assert capsys.readouterr().out == "ltsp service: 2 not needed\n"
    assert post.read_text() == "done\n"
    steps = [e["step"] for e in map(json.loads, (run_dir / "events.jsonl").open())]
    assert "plugins" in steps and not any(s.startswith("plugin:") for s in steps)


def test_the_unit_runs_the_binary_that_the_initramfs_installs() -> None:
    from ltsp_client.paths import LTSP_BINARY

    assert BINARY == LTSP_BINARY and f"ExecStart={LTSP_BINARY} service\n" in UNIT_TEXT
