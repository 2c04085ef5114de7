"""Linters as tests: ruff (lint + import bans), ruff format, mypy --strict, shellcheck."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = run(sys.executable, "-m", "mypy", "--strict", "ltsp_client")
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: apt-get install shellcheck (scripts/deps/apt-base.txt)")
    scripts = [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts and _is_shell(p)]
    assert scripts, "expected shell scripts to check"
    result = run("shellcheck", "-s", "sh", *map(str, scripts))
    assert result.returncode == 0, result.stdout + result.stderr


def _is_shell(path: Path) -> bool:
    if path.suffix == ".sh":
        return True
    try:
        with path.open("rb") as f:
            first = f.readline(64)
    except OSError:
        return False
    return first.startswith((b"#!/bin/sh", b"#!/usr/bin/env sh"))


def test_ruff_format() -> None:
    result = run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr
