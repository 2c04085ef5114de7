"""Suite policy for tests/ and qemu-tests/: a skipped test is a failed test, and the host's
/run/ltsp and /etc/ltsp are left as they were.

CI installs every tool the tests need (scripts/deps/apt-*.txt), so a test
that skips has lost its meaning; reporting it as a failure keeps the suite
honest. `--require-groups=qemu,freeze,quick` (used by `make test`) fails the
run when one of those groups selected no test at all, so a wrong `-m` or a
collection mistake cannot pass CI with a green "0 tests".

Every `ltsp` the tests start (in-process or as a child) finds its /run/ltsp and
/etc/ltsp in a temp dir through $LTSP_RUN_DIR and $LTSP_ETC_DIR; a run that
still changed a file under `--host-dirs` (default: the real ones; as root the
run sees empty tmpfs copies of them in its own mount namespace) fails.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

GROUPS = ("qemu", "freeze")  # marked slow groups; everything else is "quick"
QUICK = "not (qemu or freeze)"  # pyproject.toml's -m: the quick suite
_group_counts: dict[str, int] = {}
HOST_DIRS = "/run/ltsp,/etc/ltsp"
CLONE_NEWNS = 0x00020000
Snapshot = dict[str, tuple[int, int]]
_host_dirs = pytest.StashKey[tuple[list[Path], Snapshot, str | None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-groups",
        default="",
        metavar="G1,G2",
        help="fail unless each group (qemu, freeze, quick) selected at least one test",
    )
    parser.addoption(
        "--host-dirs",
        default=HOST_DIRS,
        metavar="D1,D2",
        help=f"fail the run when a test changed a file under these ({HOST_DIRS})",
    )


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which acts on -n
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The whole quick suite (`python3 -m pytest`, no paths, no -m, no -n) runs on one worker
    per core (at most 4): half its time is spent waiting on subprocesses and sleeps. Anything
    narrower, `make test` (QEMU boots share the machine: one at a time) and -n0 stay serial."""
    whole_quick_suite = (
        config.pluginmanager.hasplugin("xdist")
        and not hasattr(config, "workerinput")  # a worker never starts workers of its own
        and "PYTEST_XDIST_WORKER" not in os.environ
        and config.getoption("numprocesses", None) is None
        and config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and config.getoption("markexpr") == QUICK
        and not config.getoption("usepdb")
        and not config.getoption("collectonly")
    )
    if whole_quick_suite and (cores := len(os.sched_getaffinity(0))) > 1:
        config.option.numprocesses = min(cores, 4)


def snapshot(dirs: list[Path]) -> Snapshot:
    """Size and mtime of every file (not directory) under `dirs`."""
    found: Snapshot = {}
    for top in dirs:
        for parent, _dirs, files in os.walk(top):
            for name in files:
                path = os.path.join(parent, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                found[path] = (st.st_size, st.st_mtime_ns)
    return found


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def isolate(dirs: list[Path]) -> bool:
    """As root: this process and its children get their own mount namespace in which each of
    `dirs` is an empty tmpfs. A test that writes there misses the host (and is still caught);
    what other processes write meanwhile (another checkout's QEMU lab) is not seen."""
    if os.geteuid() != 0:
        return False
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNS) != 0:
        return False  # e.g. a container without CAP_SYS_ADMIN: the real dirs are compared
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    for top in dirs:
        top.mkdir(parents=True, exist_ok=True)
        opts = "mode=0755,size=64m"
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "ltsp-test", str(top)], check=True)
    return True


def pytest_configure(config: pytest.Config) -> None:
    """Point every `ltsp` of this run (children inherit it) at a temp /run/ltsp and /etc/ltsp;
    isolate the real ones, remember what they hold. xdist workers inherit all of it."""
    # Started in the background by a shell without job control, the run inherits SIGINT
    # ignored, and so would every child: the tests that press Ctrl-C on a child (a publish,
    # the lab) need it delivered. A handler, unlike SIG_IGN, is reset to default at exec.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    own = None
    if "LTSP_RUN_DIR" not in os.environ:
        own = tempfile.mkdtemp(prefix="ltsp-test-host-")
        os.environ["LTSP_RUN_DIR"] = os.path.join(own, "run-ltsp")
        os.environ["LTSP_ETC_DIR"] = os.path.join(own, "etc-ltsp")
        os.mkdir(os.environ["LTSP_ETC_DIR"])
    dirs = [Path(d.strip()) for d in str(config.getoption("--host-dirs")).split(",") if d.strip()]
    if not hasattr(config, "workerinput"):
        isolate(dirs)
    config.stash[_host_dirs] = (dirs, snapshot(dirs), own)


def pytest_unconfigure(config: pytest.Config) -> None:
    _dirs, _before, own = config.stash.get(_host_dirs, ([], {}, None))
    if own is not None:
        shutil.rmtree(own, ignore_errors=True)
        os.environ.pop("LTSP_RUN_DIR", None)
        os.environ.pop("LTSP_ETC_DIR", None)


def group_of(item: pytest.Item) -> str:
    for group in GROUPS:
        if item.get_closest_marker(group) is not None:
            return group
    return "quick"


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    _group_counts.clear()
    for item in session.items:
        group = group_of(item)
        _group_counts[group] = _group_counts.get(group, 0) + 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"this test skipped ({reason}); skips fail in this suite: install what it needs "
            "(Debian packages in scripts/deps/apt-*.txt, `make deps`) or run it as root"
        )
    return report  # type: ignore[return-value]


def missing_groups(required: str, counts: dict[str, int]) -> list[str]:
    wanted = [g.strip() for g in required.split(",") if g.strip()]
    return [g for g in wanted if counts.get(g, 0) == 0]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    required = str(session.config.getoption("--require-groups"))
    missing = missing_groups(required, _group_counts)
    if missing or exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        counts = ", ".join(f"{g}={n}" for g, n in sorted(_group_counts.items())) or "none"
        print(
            f"\nsuite policy: no test selected in group(s) {', '.join(missing) or 'any'} "
            f"(selected: {counts}); check -m and the markers"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    dirs, before, _own = session.config.stash[_host_dirs]
    if hasattr(session.config, "workerinput"):
        return  # the controller checks once for the whole run
    if written := changed(before, snapshot(dirs)):
        print(
            f"\nsuite policy: the run changed the host's {', '.join(written)}; a test (or an "
            "`ltsp` it started) must use tmp dirs ($LTSP_RUN_DIR, $LTSP_ETC_DIR, --etc, --root)"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
