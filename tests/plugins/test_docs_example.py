"""The plugin and the test shown in docs/plugins.md work as shown."""

from __future__ import annotations

import inspect
import re
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from goldentree import FakeRoot

from ltsp_client.config.params import KNOWN_PARAMS
from ltsp_client.pluginkit.base import collecting

DOC = Path(__file__).resolve().parents[2] / "docs/plugins.md"
MODULE = "ltsp_client.plugins.motd"


def blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Writing a plugin") :]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)[:2]


@pytest.fixture
def doc_tests() -> Iterator[dict[str, object]]:
    plugin_code, test_code = blocks()
    module = types.ModuleType(MODULE)
    sys.modules[MODULE] = module
    try:
        with collecting() as found:
            exec(compile(plugin_code, f"{DOC}:plugin", "exec"), module.__dict__)
        assert [cls.name for cls in found] == ["motd"]
        namespace: dict[str, object] = {"__name__": "doc_tests"}
        exec(compile(test_code, f"{DOC}:test", "exec"), namespace)
        yield namespace
    finally:
        del sys.modules[MODULE]
        KNOWN_PARAMS.pop("MOTD", None)


def test_the_documented_tests_pass(
    doc_tests: dict[str, object],
    debroot: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tests = {k: v for k, v in doc_tests.items() if k.startswith("test_") and callable(v)}
    assert len(tests) == 2
    for name, function in tests.items():
        tmp = tmp_path_factory.mktemp(name)  # each one fresh, as pytest would give
        available = {
            "debroot": lambda *packages, n=name: debroot(*packages, name=f"deb-{n}"),
            "fake_root": FakeRoot(tmp / "root"),
            "tmp_path": tmp,
        }
        arguments = inspect.signature(function).parameters
        function(**{a: available[a] for a in arguments})
