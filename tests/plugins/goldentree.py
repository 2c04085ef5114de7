"""Golden-tree helpers for plugin tests: a fake root compared as a whole tree, real
ltsp.conf evaluation, a strict fake runner. Import them from here
(`from goldentree import FakeRoot, apply_plugin, client_config`); the fixtures
are in conftest.py.

A plugin test builds a root (`fake_root`), takes a snapshot, applies the plugin
with real ltsp.conf text (`apply_plugin`), and compares every change
(`fake_root.changes_since(before)`): what was added or changed, and that
nothing else was touched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from ltsp_client.config import Identity, evaluate
from ltsp_client.config.model import Config
from ltsp_client.errors import CommandError
from ltsp_client.pluginkit import Plugin, PluginContext, StaticFacts
from ltsp_client.run import Result

# A school image's services, as Debian packages (debroot): what the system plugins act on.
SCHOOL_PACKAGES = (
    "systemd",
    "apt",
    "unattended-upgrades",
    "rsyslog",
    "rpcbind",
    "nfs-common",
    "openssh-server",
    "cron",
    "man-db",
    "logrotate",
)

# The boot NIC of the lab's first client.
FACTS = StaticFacts(
    device="ens3",
    ip_address="192.168.67.20",
    prefixlen=24,
    mac_address="52:54:00:ab:cd:0e",
    gateway="192.168.67.1",
)
Tree = dict[str, str]


def tree(root: Path) -> Tree:
    """Every file and symlink under root: relative path -> content, or `-> target` for a link.

    A file whose mode is not 0644 shows it first (`[0600] secret`); a file that
    is not UTF-8 shows as `<N bytes>`. Directories are not listed.
    """
    found: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]:
            path = here / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
                continue
            data = path.read_bytes()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = f"<{len(data)} bytes>"
            mode = path.stat().st_mode & 0o7777
            found[rel] = text if mode == 0o644 else f"[{mode:04o}] {text}"
    return found


class FakeRoot:
    """A directory standing for the client's `/`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def write(self, rel: str, content: str, mode: int = 0o644) -> Path:
        target = self.path / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        target.chmod(mode)
        return target

    def copy(self, rel: str, source: Path) -> Path:
        target = self.path / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        target.chmod(0o644)
        return target

    def link(self, rel: str, target: str) -> Path:
        path = self.path / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
        return path

    def tree(self) -> Tree:
        return tree(self.path)

    def changes_since(self, before: Tree) -> dict[str, str | None]:
        """Added or changed entries with their new value; removed ones as None."""
        after = self.tree()
        changed: dict[str, str | None] = {k: v for k, v in after.items() if before.get(k) != v}
        changed.update({k: None for k in before if k not in after})
        return changed


def client_config(
    tmp_path: Path, text: str, facts: StaticFacts = FACTS, applet: str = "init"
) -> Config:
    """Evaluate real ltsp.conf text with the real loader, as `ltsp init` does."""
    directory = tmp_path / "etc-ltsp"
    directory.mkdir(exist_ok=True)
    (directory / "ltsp.conf").write_text(text, encoding="utf-8")
    return evaluate(
        applet=applet,
        identity=Identity(facts.mac_address.lower(), facts.ip_address, facts.hostname),
        is_client=True,
        config_dir=directory,
        environ={},
    )


def apply_plugin(
    plugin: type[Plugin],
    root: FakeRoot | Path,
    config: Config,
    facts: StaticFacts = FACTS,
    *,
    runner: FakeRunner | None = None,
    stage: str = "init",
) -> PluginContext | None:
    """Run `plugin` on the root as the stage runner would, letting errors through.

    Returns the context (for `exports`), or None when `applies` said "not needed".
    """
    path = root.path if isinstance(root, FakeRoot) else root
    ctx = PluginContext(path, config, facts, runner or FakeRunner(), stage=stage)
    instance = plugin()
    if not instance.applies(ctx):
        return None
    instance.apply(ctx)
    return ctx


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
