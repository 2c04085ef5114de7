"""conftest.py (the suite policy), the Makefile's test target and CI's command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = """
import pytest

def test_needs_a_tool():
    pytest.skip("frobtool is not installed")

@pytest.mark.skipif(True, reason="never here")
def test_skipif():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_known_bug():
    assert False

@pytest.mark.qemu
def test_boot():
    pass
"""


def pytest_run(
    tmp_path: Path, *args: str, sample: str = SAMPLE
) -> subprocess.CompletedProcess[str]:
    """pytest on `sample` with the suite policy (conftest.py), not this run's $LTSP_* dirs."""
    (tmp_path / "test_sample.py").write_text(sample)
    argv = [sys.executable, "-m", "pytest", "-c", os.devnull, "--rootdir", str(tmp_path)]
    argv += ["-p", "conftest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
    argv += ["-W", "ignore::pytest.PytestUnknownMarkWarning", *args, str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTSP_")}
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_skips_fail_and_empty_groups_fail_the_run(tmp_path: Path) -> None:
    proc = pytest_run(tmp_path, "-m", "not freeze", "--require-groups=quick,freeze")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in out, out  # skipif: at setup
    assert "this test skipped (Skipped: frobtool is not installed); skips fail" in out, out
    assert "this test skipped (Skipped: never here)" in out, out
    assert "suite policy: no test selected in group(s) freeze (selected: qemu=1, quick=3)" in out


def test_nothing_collected_is_a_failure_not_exit_5(tmp_path: Path) -> None:
    proc = pytest_run(tmp_path, "-m", "freeze")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "suite policy: no test selected in group(s) any" in proc.stdout


def test_ci_runs_make_test_and_make_test_runs_every_group() -> None:
    ci = (ROOT / ".ci/run").read_text().splitlines()
    assert [line for line in ci if line and not line.startswith(("#", "set ", "cd "))] == [
        "make test"
    ]
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test: deps\n\t(.*)$", makefile, re.M)
    assert recipe is not None and recipe.group(1) == "$(PYTHON) -m pytest $(ALL_TESTS)"
    assert (
        "ALL_TESTS = -m 'qemu or freeze or not (qemu or freeze)' "
        "--require-groups=quick,freeze,qemu" in makefile
    )
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "addopts = \"-m 'not (qemu or freeze)' -ra\"" in pyproject  # the quick suite


WRITER = """
import os, subprocess, sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

def test_a_child_ltsp_writes_its_log_in_the_runs_own_dir():
    run_dir = Path(os.environ["LTSP_RUN_DIR"])
    assert run_dir != Path("/run/ltsp") and os.environ["LTSP_ETC_DIR"] != "/etc/ltsp"
    code = "from ltsp_client import log; log.setup('x'); log.events.write(step='s')"
    subprocess.run([sys.executable, "-c", code], check=True, cwd={root!r})
    assert (run_dir / "events.jsonl").is_file() and (run_dir / "ltsp.log").is_file()

def test_writes_under_the_host_dir():
    (Path({host!r}) / "events.jsonl").write_text("{{}}\\n")
"""


def test_a_run_that_writes_the_hosts_run_ltsp_fails(tmp_path: Path) -> None:
    host = tmp_path / "host-run-ltsp"
    host.mkdir()
    (host / "ltsp.log").write_text("untouched\n")
    sample = WRITER.format(root=str(ROOT), host=str(host))
    proc = pytest_run(tmp_path, f"--host-dirs={host},{tmp_path}/missing", sample=sample)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "2 passed" in out, out
    assert f"suite policy: the run changed the host's {host}/events.jsonl;" in out, out
    assert "ltsp.log" not in out.split("suite policy:")[1], out  # an unchanged file is fine


def workers_for(policy: Any, args_source: str = "TESTPATHS", **given: object) -> object:
    """The -n that conftest.py's pytest_cmdline_main picks for a run with these options."""
    options: dict[str, object] = {
        "numprocesses": None,
        "markexpr": policy.QUICK,
        "usepdb": False,
        "collectonly": False,
    }
    options.update(given)

    class Config:
        option = SimpleNamespace(numprocesses=None)
        pluginmanager = SimpleNamespace(hasplugin=lambda name: name == "xdist")

        def __init__(self) -> None:
            self.args_source = getattr(pytest.Config.ArgsSource, args_source)

        def getoption(self, name: str, default: object = None) -> object:
            return options.get(name, default)

    config = Config()
    policy.pytest_cmdline_main(config)
    return config.option.numprocesses


def test_only_the_whole_quick_suite_runs_on_workers(
    monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config
) -> None:
    policy = pytestconfig.pluginmanager.get_plugin(str(ROOT / "conftest.py"))
    assert policy is not None
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert workers_for(policy) == 4  # one per core, at most 4
    assert workers_for(policy, "ARGS") is None  # a file or a test named
    assert workers_for(policy, markexpr="qemu") is None  # QEMU boots, make test: one at a time
    assert workers_for(policy, numprocesses=0) is None and workers_for(policy, usepdb=True) is None
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert workers_for(policy) is None  # a worker, or a pytest a test starts in one
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert workers_for(policy) is None
