"""Which plugins a client runs: the built-ins, admin drop-ins, masks and per-client omission.

Admin drop-ins live in `/etc/ltsp/plugins/*.py` (shipped to clients in ltsp.img):
- a file defining a `Plugin` subclass adds it, or replaces the built-in of the same name;
- an empty file, or a symlink to /dev/null, named after a plugin masks it
  (`hostname.py` masks `hostname`);
- a file that fails to import is reported (file + hint) and skipped, never a crash.

Per-client omission (any ltsp.conf section): `OMIT_PLUGINS` (our plugin names,
space separated), upstream's `OMIT_FUNCTIONS` (space separated; `display_manager_main`
style names, upstream helper names a plugin lists as aliases, or our names) and
`LTSP_SKIP_SCRIPTS` (comma separated upstream script names like `snap,multiseat`).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import pkgutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ltsp_client.config.model import Config
from ltsp_client.paths import ADMIN_PLUGINS_DIR, inside
from ltsp_client.pluginkit.base import BUILTINS, Plugin, Registry, collecting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadProblem:
    """A drop-in that could not be used: where, what, and what to do."""

    file: Path
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


@dataclass(frozen=True)
class Loaded:
    registry: Registry
    problems: tuple[LoadProblem, ...] = ()
    masked: tuple[str, ...] = ()
    dropins: Mapping[str, Path] = field(default_factory=dict)


BUILTIN_PACKAGE = "ltsp_client.plugins"


def builtin_modules(package: str = BUILTIN_PACKAGE) -> list[str]:
    """The modules of the built-in plugin package, by name (one plugin each).

    pkgutil also lists them in the frozen binary: the spec bundles every
    ltsp_client module and keeps PyInstaller's pkgutil runtime hook.
    """
    path = importlib.import_module(package).__path__
    return sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(path) if not m.ispkg)


def builtin_registry() -> Registry:
    """Every built-in plugin: each module of ltsp_client.plugins, imported once."""
    for module in builtin_modules():
        importlib.import_module(module)
    return BUILTINS.copy()


def module_problems(package: str, registry: Registry) -> list[str]:
    """Modules of `package` that do not register exactly one plugin of `registry`."""
    by_module: dict[str, list[str]] = {m: [] for m in builtin_modules(package)}
    for cls in registry:
        if cls.__module__ in by_module:
            by_module[cls.__module__].append(cls.name)
    return [
        f"{module} registers {len(names)} plugins {names}, not one"
        for module, names in by_module.items()
        if len(names) != 1
    ]


def load(root: Path, *, builtins: Registry | None = None) -> Loaded:
    """Built-ins, then the drop-ins of `<root>/etc/ltsp/plugins` in file name order."""
    registry = (builtins if builtins is not None else builtin_registry()).copy()
    directory = inside(root, ADMIN_PLUGINS_DIR)
    problems: list[LoadProblem] = []
    masked: list[str] = []
    dropins: dict[str, Path] = {}
    try:
        files = sorted(p for p in directory.iterdir() if p.name.endswith(".py"))
    except FileNotFoundError:
        files = []
    except OSError as exc:
        problems.append(LoadProblem(directory, f"cannot list admin plugins: {exc.strerror}"))
        files = []
    for path in files:
        name = plugin_name(path.stem)
        if _is_mask(path):
            if name not in registry:
                log.warning("%s masks %s, which is not a known plugin", path, name)
            registry.remove(name)
            masked.append(name)
            continue
        found, problem = _import_dropin(path)
        if problem is not None:
            problems.append(problem)
            continue
        for cls in found:
            if cls.name in dropins:
                log.warning("%s replaces plugin %s from %s", path, cls.name, dropins[cls.name])
            cls.source = str(path)
            registry.add(cls)
            dropins[cls.name] = path
    return Loaded(registry, tuple(problems), tuple(masked), dropins)


def _is_mask(path: Path) -> bool:
    if path.is_symlink():
        return os.readlink(path) == "/dev/null"
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def _import_dropin(path: Path) -> tuple[list[type[Plugin]], LoadProblem | None]:
    module_name = "ltsp_dropin_" + path.stem.replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        return [], LoadProblem(path, "cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    # registered like any import, so dataclasses and pickling in the drop-in work
    sys.modules[module_name] = module
    with collecting() as found:
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            del sys.modules[module_name]
            return [], LoadProblem(
                path,
                f"syntax error at line {exc.lineno}: {exc.msg}",
                hint=f"fix it, or check it with `python3 -m py_compile {path.name}`",
            )
        except (Exception, SystemExit) as exc:
            del sys.modules[module_name]
            return [], LoadProblem(
                path,
                f"failed to import: {type(exc).__name__}: {exc}",
                hint="admin plugins may import only the standard library and ltsp_client",
            )
    if not found:
        return [], LoadProblem(
            path,
            "defines no Plugin subclass",
            hint='define `class X(Plugin, name="...", order=NN)`, '
            "or leave the file empty to mask a plugin",
        )
    return found, None


def plugin_name(word: str) -> str:
    """A plugin name from a file stem or an admin's word: `display_manager` -> `display-manager`."""
    return word.strip().lower().replace("_", "-")


def _function_key(word: str) -> str:
    """Compare upstream function/script names and ours: lowercase, `_`, no `_main` suffix."""
    key = word.strip().lower().replace("-", "_")
    return key.removesuffix("_main")


def omitted(
    registry: Registry, config: Config, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Plugin name -> which knob omits it, for this client's config."""
    env = environ or {}
    reasons: dict[str, str] = {}
    known = {_function_key(cls.name): cls for cls in registry}
    aliases: dict[str, list[type[Plugin]]] = {}
    for cls in registry:
        for alias in cls.aliases:
            aliases.setdefault(_function_key(alias), []).append(cls)

    def matches(word: str) -> list[type[Plugin]]:
        key = _function_key(word)
        found = [known[key]] if key in known else []
        return found + [c for c in aliases.get(key, []) if c not in found]

    for word in config.words("OMIT_PLUGINS"):
        if plugin_name(word) in registry:
            reasons.setdefault(plugin_name(word), "OMIT_PLUGINS")
        else:
            log.warning("OMIT_PLUGINS names %s, which is not a plugin: %s", word, registry.names())
    for word in config.words("OMIT_FUNCTIONS"):
        for cls in matches(word):
            reasons.setdefault(cls.name, f"OMIT_FUNCTIONS ({word})")
    skip = config.get_str("LTSP_SKIP_SCRIPTS") or env.get("LTSP_SKIP_SCRIPTS", "")
    for word in filter(None, (w.strip() for w in skip.split(","))):
        for cls in matches(word):
            reasons.setdefault(cls.name, f"LTSP_SKIP_SCRIPTS ({word})")
    return reasons
