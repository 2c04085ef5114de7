"""Start each client with empty logs and no crash reports (upstream's 55-various, logs part).

The image's logs are the build machine's history, copied into every client's
RAM. Big files are rewritten empty rather than truncated: truncating a file of
the lower layer misbehaves on overlayfs (LP #1494660).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ltsp_client.pluginkit import Plugin, PluginContext

ROTATED = re.compile(r"\.([1-9]|gz|old)$")
KEEP_BYTES = 1024


class Logs(Plugin, name="logs", order=45):
    """Remove rotated logs (*.1-9, *.gz, *.old), everything in /var/log's
    subdirectories and /var/crash/*, and empty the /var/log files bigger than 1 KiB."""

    aliases = ("various_main", "config_logs")

    def applies(self, ctx: PluginContext) -> bool:
        dirs = (ctx.path("/var/log"), ctx.path("/var/crash"))
        return any(d.is_dir() and any(d.iterdir()) for d in dirs)

    def apply(self, ctx: PluginContext) -> None:
        crash = ctx.path("/var/crash")
        for entry in sorted(crash.iterdir()) if crash.is_dir() else []:
            _remove(entry)
        logs = ctx.path("/var/log")
        for entry in sorted(logs.iterdir()) if logs.is_dir() else []:
            if entry.is_dir() and not entry.is_symlink():
                for inner in sorted(entry.iterdir()):
                    _remove(inner)
            elif ROTATED.search(entry.name):
                _remove(entry)
            elif entry.is_file() and not entry.is_symlink() and entry.stat().st_size > KEEP_BYTES:
                entry.open("wb").close()  # O_TRUNC like upstream's `tee`: owner and mode stay


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()
