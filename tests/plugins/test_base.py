"""The contract every registered plugin keeps, and how registration works."""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ltsp_client.config.model import Config
from ltsp_client.config.params import find_param
from ltsp_client.pluginkit import Plugin, PluginContext
from ltsp_client.pluginkit.base import BUILTINS, NAME_RE, Registry, collecting, order_band
from ltsp_client.pluginkit.loader import builtin_modules, builtin_registry, module_problems

PLUGINS = list(builtin_registry())


def test_every_builtin_module_registers_one_plugin() -> None:
    assert "ltsp_client.plugins.hostname" in builtin_modules()
    assert module_problems("ltsp_client.plugins", builtin_registry()) == []


@pytest.fixture
def fake_package(tmp_path: Path) -> Iterator[str]:
    """A package `fakeplugins` with one good module and one that registers nothing."""
    package = tmp_path / "fakeplugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text(
        "from ltsp_client.pluginkit import Plugin\n"
        "class Good(Plugin, name='fake-good', order=20):\n"
        "    'Good.'\n"
    )
    (package / "helpers.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    yield "fakeplugins"
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("fakeplugins")]:
        del sys.modules[name]


def test_a_module_without_a_plugin_is_reported(fake_package: str) -> None:
    with collecting() as found:
        for module in builtin_modules(fake_package):
            importlib.import_module(module)
    problems = module_problems(fake_package, Registry({c.name: c for c in found}))
    assert problems == ["fakeplugins.helpers registers 0 plugins [], not one"]


def test_there_are_builtin_plugins() -> None:
    assert "hostname" in [cls.name for cls in PLUGINS]


@pytest.mark.parametrize("cls", PLUGINS, ids=lambda c: c.name)
def test_name_order_and_docs(cls: type[Plugin]) -> None:
    assert NAME_RE.match(cls.name)
    band = order_band(cls.order)
    assert band != "admin", "orders 50-59 are left to admin plugins"
    assert inspect.getdoc(cls), "a plugin says what it does in its docstring"
    assert cls.apply is not Plugin.apply
    for param in cls.params:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", param.name), param.name
        assert len(param.help) > 10, f"{cls.name}: {param.name} needs a help text"


def docstring_example(cls: type[Plugin]) -> str:
    doc = inspect.getdoc(cls) or ""
    _, marker, rest = doc.partition("Example::")
    assert marker, f"{cls.name}: the docstring needs an `Example::` ltsp.conf block"
    return textwrap.dedent(rest).strip() + "\n"


@pytest.mark.parametrize("cls", PLUGINS, ids=lambda c: c.name)
def test_docstring_example_parses(cls: type[Plugin], tmp_path: Path) -> None:
    from ltsp_client import config

    evaluate = config.evaluate
    (tmp_path / "ltsp.conf").write_text(docstring_example(cls), encoding="utf-8")
    result = evaluate(
        applet="init",
        identity=config.Identity(mac="52:54:00:12:34:56", ip="192.168.67.20"),
        is_client=True,
        config_dir=tmp_path,
        environ={},
    )
    assert isinstance(result, Config)
    declared = {p.name for p in cls.params}
    own = [name for name in result.assigned if find_param(name) in cls.params]
    if declared:  # a plugin without parameters (validlft) shows how it is omitted instead
        assert own, "the example sets the plugin's own parameters"
    else:
        assert result.assigned, "the example sets something"


def test_subclassing_registers_and_orders() -> None:
    with collecting() as found:

        class Late(Plugin, name="zz-late", order=90):
            def apply(self, ctx: PluginContext) -> None:
                pass

        class Early(Plugin, name="aa-early", order=5):
            def apply(self, ctx: PluginContext) -> None:
                pass

        class SameOrder(Plugin, name="ab-same", order=5):
            def apply(self, ctx: PluginContext) -> None:
                pass

    assert found == [Late, Early, SameOrder]
    assert "zz-late" not in BUILTINS, "collected plugins stay out of the built-ins"
    registry = Registry()
    for cls in found:
        registry.add(cls)
    assert registry.names() == ["aa-early", "ab-same", "zz-late"]
    assert registry.get("ab-same") is SameOrder
    assert registry.get("missing") is None


@pytest.mark.parametrize(
    ("name", "order"), [("Bad_Name", 10), ("9lives", 10), ("ok", 100), ("ok", -1)]
)
def test_bad_names_and_orders_are_refused(name: str, order: int) -> None:
    with collecting(), pytest.raises(ValueError):

        class Bad(Plugin, name=name, order=order):
            pass


def test_order_bands() -> None:
    assert [order_band(n) for n in (0, 9, 10, 49, 50, 59, 60, 89, 90, 99)] == [
        "early",
        "early",
        "system",
        "system",
        "admin",
        "admin",
        "users and sessions",
        "users and sessions",
        "final",
        "final",
    ]


def test_params_are_known_to_the_config_checker() -> None:
    from ltsp_client.config.params import find_param

    for cls in PLUGINS:
        for param in cls.params:
            assert find_param(param.name) == param
    for key in ("LTSP_STRICT", "HOOK_TIMEOUT", "OMIT_PLUGINS", "OMIT_FUNCTIONS"):
        found = find_param(key)
        assert found is not None and found.help
