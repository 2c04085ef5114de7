"""Fixtures for plugin tests: events and logs kept in tmp_path, a strict fake runner."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from ltsp_client import log as ltsp_log
from ltsp_client.errors import CommandError
from ltsp_client.run import Result


class FakeRunner:
    """Answers only the commands a test expects; anything else fails the test."""

    def __init__(self, expected: Mapping[tuple[str, ...], Result] | None = None) -> None:
        self.expected = dict(expected or {})
        self.calls: list[tuple[str, ...]] = []

    def __call__(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 60.0,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Result:
        key = tuple(argv)
        self.calls.append(key)
        if key not in self.expected:
            raise AssertionError(f"unexpected command: {key}")
        result = self.expected[key]
        if check and not result.ok:
            raise CommandError(f"{key[0]}: exit status {result.returncode}")
        return result


@pytest.fixture
def fake_runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture(autouse=True)
def events_file(tmp_path: Path) -> Iterator[Path]:
    """Step events go to tmp_path, never to the host's /run/ltsp."""
    path = tmp_path / "events.jsonl"
    saved_path, saved_stage = ltsp_log.events.path, ltsp_log.events.stage
    saved_handlers = list(logging.getLogger().handlers)
    ltsp_log.events.path = path
    yield path
    ltsp_log.events.path, ltsp_log.events.stage = saved_path, saved_stage
    logging.getLogger().handlers[:] = saved_handlers
