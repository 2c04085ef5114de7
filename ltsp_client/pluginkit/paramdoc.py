"""The whole parameter table (upstream's, the framework's, every built-in plugin's) and
docs/parameters.md generated from it:

    python3 -m ltsp_client.pluginkit.paramdoc > docs/parameters.md
"""

from __future__ import annotations

import sys

from ltsp_client.config.params import KNOWN_PARAMS, Param
from ltsp_client.pluginkit.loader import builtin_registry

COMMAND = "python3 -m ltsp_client.pluginkit.paramdoc > docs/parameters.md"


def all_params() -> list[Param]:
    """Every declared parameter, by name (the built-in plugins are imported for theirs)."""
    builtin_registry()
    return sorted(KNOWN_PARAMS.values(), key=lambda p: p.name)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(params: list[Param]) -> str:
    lines = [
        "# Parameters",
        "",
        f"Generated from the parameter table by `{COMMAND}`;",
        "do not edit (tests/config/test_paramdoc.py fails when this file is stale).",
        "",
        "Every ltsp.conf, kernel (`ltsp.NAME=`) or environment variable the code reads.",
        "`NAME_` is a list: every `NAME_x` variable, by name. Booleans: `1`, `y`, `yes`,",
        "`true`, `on` (any case) are true, anything else is false (docs/config.md).",
        "Owner: the code that reads it; `upstream: SCRIPT` means nothing reads it yet",
        "(upstream's script did; a plugin taking it over declares it instead).",
        "",
        "| name | kind | default | owner | meaning |",
        "|---|---|---|---|---|",
    ]
    for p in params:
        name = f"`{p.name}x`" if p.is_list else f"`{p.name}`"
        kind = p.kind + (f": {', '.join(p.choices)}" if p.choices else "")
        default = f"`{_cell(p.default)}`" if p.default else ""
        lines.append(f"| {name} | {kind} | {default} | {_cell(p.owner)} | {_cell(p.help)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(markdown(all_params()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
