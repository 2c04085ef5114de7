"""ltsp.conf as the server applets see it, and the small file helpers they share.

A server applet sees ltsp.conf as the dispatcher evaluated it for this host
(`[server]`, `[APPLET/]` and the server's own MAC/IP/hostname sections apply,
never `[clients]`), then re-applies the global command-line options on top, as
upstream does (`Context.with_config`).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ltsp_client.appcontext import Context
from ltsp_client.config.model import Config, Identity
from ltsp_client.config.sections import Result, conf_files, conf_paths, evaluate_files
from ltsp_client.errors import LtspError
from ltsp_client.paths import live_etc_dir

log = logging.getLogger(__name__)

DEFAULT_ETC = Path("/etc/ltsp")


@dataclass(frozen=True)
class ServerConfig:
    """The evaluated ltsp.conf of one server applet, and the context with it applied."""

    ctx: Context
    result: Result
    etc: Path
    overrides: Mapping[str, str] = field(default_factory=dict)  # applet options win

    @property
    def config(self) -> Config:
        return self.result.config().with_values(self.overrides)

    def with_options(self, options: Mapping[str, str | None]) -> ServerConfig:
        """Applet options given on the command line, over ltsp.conf."""
        given = {k: v for k, v in options.items() if v is not None}
        return replace(self, overrides={**self.overrides, **given})

    def text(self, name: str) -> str:
        """The value as written ("" when unset), for str, words and NAME_x list items."""
        return self.config.get_str(name)

    def flag(self, name: str) -> bool:
        """A declared bool parameter, its default from the parameter table."""
        return self.config.flag(name)

    def overwrite_refused(self) -> bool:
        """OVERWRITE=0 (from -o0, the environment or ltsp.conf): keep existing files."""
        return (self.ctx.overwrite or "").strip() == "0"


def load(ctx: Context, applet: str, etc: Path = DEFAULT_ETC) -> ServerConfig:
    """ETC/ltsp.conf (and ltsp-APPLET.conf) for this server applet: the dispatcher's evaluation
    when it read the same files (with this host's MAC/IP/hostname, as upstream), else
    evaluated here for the server (`--etc` elsewhere, or no dispatcher: no identity)."""
    result = ctx.evaluation
    if not (isinstance(result, Result) and ctx.applet == applet and _read(result, etc, applet)):
        result = evaluate_files(
            applet=applet, identity=Identity(), is_client=False, files=conf_files(etc, applet)
        )
    return ServerConfig(ctx=ctx.with_config(result.config()), result=result, etc=etc)


def _read(result: Result, etc: Path, applet: str) -> bool:
    """Whether `result` evaluated the files this applet reads from `etc`."""
    return [Path(f.path) for f in result.files] == conf_paths(etc, applet)


def write_atomic(path: Path, data: str | bytes, *, mode: int = 0o644) -> None:
    """Write a temp file next to `path`, then rename it over: readers see old or new, whole."""
    raw = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def refuse_overwrite(settings: ServerConfig, *paths: Path) -> None:
    """With OVERWRITE=0 an existing target is an error (upstream's template installer);
    applets call this before they change anything."""
    for path in paths:
        if path.exists() and settings.overwrite_refused():
            raise LtspError(
                f"{path} exists and OVERWRITE=0",
                hint="run `ltsp --overwrite ...` to replace it, or remove it",
            )


def install_config(path: Path, text: str, settings: ServerConfig, *, mode: int = 0o644) -> None:
    """Install a generated configuration file atomically (OVERWRITE=0: see refuse_overwrite)."""
    refuse_overwrite(settings, path)
    try:
        write_atomic(path, text, mode=mode)
    except OSError as exc:
        raise LtspError(f"cannot write {path}: {exc.strerror or exc}") from exc
    log.info("installed %s", path)
    print(f"Installed {path}")


def bool_option(value: str) -> str:
    """argparse type of upstream's `--dns=0|1` style options."""
    if value not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"use 0 or 1, not {value!r}")
    return value


def add_etc_option(parser: argparse.ArgumentParser) -> None:
    """--etc, ltsp.conf's directory: /etc/ltsp, or $LTSP_ETC_DIR as the dispatcher reads it."""
    default = live_etc_dir()
    help_text = f"ltsp.conf's dir (default {default})"
    parser.add_argument("--etc", type=Path, default=default, metavar="DIR", help=help_text)


def add_target_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    """--etc (ltsp.conf's directory), --root (where /etc/... is written) and --no-restart."""
    add_etc_option(parser)
    parser.add_argument(
        "--root", type=Path, default=Path("/"), metavar="DIR", help="write under DIR (default /)"
    )
    parser.add_argument(
        "--no-restart", action="store_true", help=f"do not restart {what} (never under --root)"
    )
