"""Admin drop-ins (add, replace, mask, broken) and per-client omission."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ltsp_client.config.model import Config
from ltsp_client.pluginkit.loader import builtin_registry, load, omitted

DROPIN = '''
from ltsp_client.pluginkit import Plugin, PluginContext


class {cls}(Plugin, name="{name}", order={order}):
    """An admin's plugin."""

    def apply(self, ctx: PluginContext) -> None:
        ctx.path("/etc/{name}.done").write_text("yes")
'''


def plugins_dir(root: Path) -> Path:
    path = root / "etc/ltsp/plugins"
    path.mkdir(parents=True)
    return path


def test_no_dropin_dir_gives_the_builtins(tmp_path: Path) -> None:
    loaded = load(tmp_path)
    assert loaded.registry.names() == builtin_registry().names()
    assert loaded.problems == () and loaded.masked == ()


def test_dropin_adds_a_plugin(tmp_path: Path) -> None:
    path = plugins_dir(tmp_path) / "wallpaper.py"
    path.write_text(DROPIN.format(cls="Wallpaper", name="wallpaper", order=99))
    loaded = load(tmp_path)
    cls = loaded.registry.get("wallpaper")
    assert cls is not None and cls.order == 99 and cls.source == str(path)
    assert loaded.registry.names()[-1] == "wallpaper"
    assert "hostname" in loaded.registry
    assert "wallpaper" not in builtin_registry(), "a drop-in never leaks into the built-ins"


def test_dropin_replaces_builtin_of_same_name(tmp_path: Path) -> None:
    path = plugins_dir(tmp_path) / "my-hostname.py"
    path.write_text(DROPIN.format(cls="MyHostname", name="hostname", order=12))
    loaded = load(tmp_path)
    cls = loaded.registry.get("hostname")
    assert cls is not None and cls.source == str(path) and cls.order == 12
    assert loaded.registry.names().count("hostname") == 1
    assert loaded.dropins == {"hostname": path}


def test_empty_file_masks(tmp_path: Path) -> None:
    (plugins_dir(tmp_path) / "hostname.py").write_text("")
    loaded = load(tmp_path)
    assert "hostname" not in loaded.registry
    assert loaded.masked == ("hostname",)


def test_dev_null_symlink_masks(tmp_path: Path) -> None:
    os.symlink("/dev/null", plugins_dir(tmp_path) / "hostname.py")
    loaded = load(tmp_path)
    assert "hostname" not in loaded.registry and loaded.masked == ("hostname",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("def broken(:\n", "syntax error at line 1"),
        ("import no_such_module_plg\n", "failed to import: ModuleNotFoundError"),
        ("raise SystemExit(3)\n", "failed to import: SystemExit"),
        ("X = 1\n", "defines no Plugin subclass"),
    ],
)
def test_broken_dropin_is_a_recorded_problem(tmp_path: Path, text: str, message: str) -> None:
    directory = plugins_dir(tmp_path)
    (directory / "10-bad.py").write_text(text)
    (directory / "20-good.py").write_text(DROPIN.format(cls="Good", name="good", order=55))
    loaded = load(tmp_path)
    assert len(loaded.problems) == 1
    problem = loaded.problems[0]
    assert problem.file == directory / "10-bad.py"
    assert message in problem.message
    assert problem.hint
    assert "good" in loaded.registry and "hostname" in loaded.registry


def test_other_files_are_ignored(tmp_path: Path) -> None:
    directory = plugins_dir(tmp_path)
    (directory / "README").write_text("not python")
    (directory / "hostname.py.disabled").write_text("")
    assert load(tmp_path).registry.names() == builtin_registry().names()


def config(**values: str) -> Config:
    return Config(assigned=values)


# upstream's 45-networking.sh became several plugins; its names omit all of them
NETWORKING = tuple(c.name for c in builtin_registry() if "networking_main" in c.aliases)


@pytest.mark.parametrize(
    ("values", "reason", "names"),
    [
        ({"OMIT_PLUGINS": "cups hostname"}, "OMIT_PLUGINS", ("hostname",)),
        ({"OMIT_FUNCTIONS": "hostname_main"}, "OMIT_FUNCTIONS (hostname_main)", ("hostname",)),
        (
            {"OMIT_FUNCTIONS": "frobnicate_main networking_main"},
            "OMIT_FUNCTIONS (networking_main)",
            NETWORKING,
        ),
        ({"OMIT_FUNCTIONS": "config_hostname"}, "OMIT_FUNCTIONS (config_hostname)", ("hostname",)),
        ({"OMIT_FUNCTIONS": "hostname"}, "OMIT_FUNCTIONS (hostname)", ("hostname",)),
        ({"LTSP_SKIP_SCRIPTS": "snap,networking"}, "LTSP_SKIP_SCRIPTS (networking)", NETWORKING),
        ({"LTSP_SKIP_SCRIPTS": " hostname , x"}, "LTSP_SKIP_SCRIPTS (hostname)", ("hostname",)),
    ],
)
def test_omission_knobs(values: dict[str, str], reason: str, names: tuple[str, ...]) -> None:
    assert "hostname" in NETWORKING and "dns" in NETWORKING
    result = omitted(builtin_registry(), config(**values))
    # cups and snap are named too: the system plugins of those names go as well
    assert {k: v for k, v in result.items() if k not in ("cups", "snap")} == dict.fromkeys(
        names, reason
    )


def test_skip_scripts_from_environment() -> None:
    result = omitted(builtin_registry(), config(), {"LTSP_SKIP_SCRIPTS": "networking"})
    assert result == dict.fromkeys(NETWORKING, "LTSP_SKIP_SCRIPTS (networking)")


def test_upstream_function_names_omit_every_plugin_of_that_script() -> None:
    various = omitted(builtin_registry(), config(OMIT_FUNCTIONS="various_main"))
    assert {"fstab", "cups", "machine-id", "logs", "motd"} <= set(various)
    assert set(omitted(builtin_registry(), config(OMIT_FUNCTIONS="config_motd"))) == {"motd"}


def test_nothing_omitted_by_default_or_by_other_names() -> None:
    registry = builtin_registry()
    assert omitted(registry, config()) == {}
    assert omitted(registry, config(OMIT_FUNCTIONS="no_such_main config_nothing")) == {}
    assert omitted(registry, config(OMIT_PLUGINS="no-such-plugin")) == {}


def test_dropin_may_use_dataclasses(tmp_path: Path) -> None:
    text = '''
from __future__ import annotations

from dataclasses import dataclass

from ltsp_client.pluginkit import Plugin, PluginContext


@dataclass(frozen=True)
class Setting:
    name: str


class Kiosk(Plugin, name="kiosk", order=56):
    """Uses a dataclass, which needs the module in sys.modules."""

    def apply(self, ctx: PluginContext) -> None:
        ctx.path("/etc/kiosk").write_text(Setting("on").name)
'''
    (plugins_dir(tmp_path) / "kiosk.py").write_text(text)
    loaded = load(tmp_path)
    assert loaded.problems == ()
    assert "kiosk" in loaded.registry
