"""Suite policy for tests/ and qemu-tests/: a skipped test is a failed test.

CI installs every tool the tests need (scripts/deps/apt-*.txt), so a test
that skips has lost its meaning; reporting it as a failure keeps the suite
honest. `--require-groups=qemu,freeze,quick` (used by `make test`) fails the
run when one of those groups selected no test at all, so a wrong `-m` or a
collection mistake cannot pass CI with a green "0 tests".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

GROUPS = ("qemu", "freeze")  # marked slow groups; everything else is "quick"
_group_counts: dict[str, int] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-groups",
        default="",
        metavar="G1,G2",
        help="fail unless each group (qemu, freeze, quick) selected at least one test",
    )


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
