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
    subdirectories and /var/crash/*, and empty the /var/log files bigger than 1 KiB.

    Example::

        # keep the image's logs
        [clients]
        OMIT_PLUGINS=logs
    """

    aliases = ("various_main", "config_logs")

    def applies(self, ctx: PluginContext) -> bool:
        remove, empty = old_logs(ctx)
        return bool(remove or empty)

    def apply(self, ctx: PluginContext) -> None:
        remove, empty = old_logs(ctx)
        for entry in remove:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for entry in empty:
            entry.open("wb").close()  # O_TRUNC like upstream's `tee`: owner and mode stay


def old_logs(ctx: PluginContext) -> tuple[list[Path], list[Path]]:
    """(what to remove, what to empty) under /var/log and /var/crash."""
    remove: list[Path] = []
    empty: list[Path] = []
    crash, logs = ctx.path("/var/crash"), ctx.path("/var/log")
    remove += sorted(crash.iterdir()) if crash.is_dir() else []
    for entry in sorted(logs.iterdir()) if logs.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            remove += sorted(entry.iterdir())
        elif ROTATED.search(entry.name):
            remove.append(entry)
        elif entry.is_file() and not entry.is_symlink() and entry.stat().st_size > KEEP_BYTES:
            empty.append(entry)
    return remove, empty
