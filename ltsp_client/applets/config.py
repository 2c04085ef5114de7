"""`ltsp config show|check`: what ltsp.conf gives one client, and what is wrong in it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from ltsp_client.appcontext import Context
from ltsp_client.config.kernelvars import parse_kernel_vars
from ltsp_client.config.loader import read_conf
from ltsp_client.config.model import Identity
from ltsp_client.config.sections import evaluate_files
from ltsp_client.config.validate import Problem, annotate, check_applet_conf, check_bytes
from ltsp_client.errors import LtspError
from ltsp_client.pluginkit.paramdoc import all_params

DEFAULT_CONFIG = Path("/etc/ltsp/ltsp.conf")
# not __doc__: the frozen binary is built with optimize=2 (no docstrings)
DESCRIPTION = "what ltsp.conf gives one client (show), and what is wrong in it (check)"


class _HelpExitError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting (the same code runs as pid 1)."""

    def error(self, message: str) -> NoReturn:
        raise LtspError(message, hint="see `ltsp config --help`")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            _write(message)
        raise _HelpExitError


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ltsp config", description=DESCRIPTION)
    sub = parser.add_subparsers(
        dest="action", required=True, metavar="show|check", parser_class=_Parser
    )
    show = sub.add_parser("show", help="print the variables ltsp.conf sets for one client")
    show.add_argument("--config", type=Path, help="the ltsp.conf file (/etc/ltsp/ltsp.conf)")
    show.add_argument("--mac", required=True, help="the client's MAC address")
    show.add_argument("--ip", required=True, help="the client's IPv4 address")
    show.add_argument("--hostname", default="", help="the client's hostname before ltsp.conf")
    show.add_argument("--applet", default="", help="evaluate for this applet, e.g. init")
    show.add_argument("--server", action="store_true", help="evaluate as the server")
    show.add_argument(
        "--kernel-cmdline", default="", help="apply these ltsp.* kernel parameters last"
    )
    check = sub.add_parser("check", help="report errors and suspicious lines in ltsp.conf")
    check.add_argument("--config", type=Path, help="file to check (default: /etc/ltsp/*.conf)")
    check.add_argument("--annotate", action="store_true", help="reprint the file with markers")
    return parser


def main(ctx: Context, args: list[str]) -> int:
    del ctx
    try:
        options = _parser().parse_args(args)
    except _HelpExitError:
        return 0
    if options.action == "show":
        return show(options)
    return check(options)


def show(options: argparse.Namespace) -> int:
    conf_path: Path = options.config or DEFAULT_CONFIG
    if options.config and not conf_path.is_file():
        raise LtspError(f"{conf_path}: no such file", hint="check the --config path")
    files = [read_conf(conf_path)] if conf_path.is_file() else []
    applet_conf = conf_path.parent / f"ltsp-{options.applet}.conf"
    if options.applet and applet_conf.is_file():
        files.append(read_conf(applet_conf))
    result = evaluate_files(
        applet=options.applet,
        identity=Identity(options.mac.lower(), options.ip, options.hostname),
        is_client=not options.server,
        files=files,
        environ=os.environ,
        kernel_vars=parse_kernel_vars(options.kernel_cmdline) or None,
    )
    config = result.config()
    lines = [f"{name}={shell_quote(config[name])}" for name in sorted(config)]
    _write("".join(line + "\n" for line in lines))
    for note in result.notes:
        print(f"ltsp config: {note.file}:{note.line}: warning: {note.message}", file=sys.stderr)
    return 0


def shell_quote(value: str) -> str:
    """Always single quotes, `'` written as `'\\''` (like `set` in dash)."""
    return "'" + value.replace("'", "'\\''") + "'"


def check(options: argparse.Namespace) -> int:
    all_params()  # the built-in plugins declare theirs: check knows every one
    paths: list[Path] = [options.config] if options.config else _default_files()
    if not paths:
        print(f"ltsp config: no {DEFAULT_CONFIG}: nothing to check", file=sys.stderr)
        return 0
    errors = warnings = 0
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LtspError(f"cannot read {path}: {exc.strerror}", hint="check the path") from exc
        conf, problems = check_bytes(data, str(path))
        main_conf = path.parent / "ltsp.conf"
        if conf is not None and path.name.startswith("ltsp-") and main_conf.is_file():
            main_parsed, _ = check_bytes(main_conf.read_bytes(), str(main_conf))
            if main_parsed is not None:
                problems = sorted(
                    problems + check_applet_conf(main_parsed, conf),
                    key=lambda p: (p.line, not p.error),
                )
        errors += sum(p.error for p in problems)
        warnings += sum(not p.error for p in problems)
        if options.annotate:
            lines = data.decode("utf-8", "surrogateescape").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            _write(annotate(list(conf.lines) if conf else lines, problems))
        else:
            _write("".join(p.render() + "\n" for p in problems))
    summary = f"{errors} error(s), {warnings} warning(s) in {', '.join(map(str, paths))}"
    print(summary, file=sys.stderr)
    return 1 if errors else 0


def _default_files() -> list[Path]:
    """ltsp.conf and every ltsp-APPLET.conf that exist (none at all is not an error)."""
    if not DEFAULT_CONFIG.parent.is_dir():
        return []
    others = sorted(DEFAULT_CONFIG.parent.glob("ltsp-*.conf"))
    return [p for p in (DEFAULT_CONFIG, *others) if p.is_file()]


def _write(text: str) -> None:
    """Write keeping undecodable bytes from the file as they were (surrogate escapes)."""
    data = text.encode("utf-8", "surrogateescape")
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        sys.stdout.flush()
        buffer.write(data)
        buffer.flush()
    else:
        sys.stdout.write(data.decode("utf-8", "replace"))


__all__ = ["Problem", "main", "shell_quote"]
