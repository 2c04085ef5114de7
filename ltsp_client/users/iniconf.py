"""LIGHTDM_CONF, GDM3_CONF, SDDM_CONF, SLICK_CONF: a file's content or literal INI text."""

from __future__ import annotations

from collections.abc import Callable

from ltsp_client.errors import LtspError

IniChanges = dict[str, dict[str, str | None]]


def conf_text(value: str, read: Callable[[str], str | None]) -> str:
    """The text of VALUE: the file it names (an absolute path that exists), else VALUE itself."""
    if value.startswith("/") and "\n" not in value:
        text = read(value)
        if text is not None:
            return text
    return value


def parse_ini(text: str, param: str) -> IniChanges:
    """`[section]` and `key=value` lines (comments and blanks skipped) as changes."""
    changes: IniChanges = {}
    section = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            changes.setdefault(section, {})
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise LtspError(
                f"{param}, line {number}: {raw!r} is neither [section] nor key=value",
                hint=f"{param} is a file path or INI text such as `[Seat:*]` / `key=value`",
            )
        changes.setdefault(section, {})[key.strip()] = value.strip()
    return changes


def merged(base: IniChanges, extra: IniChanges) -> IniChanges:
    """`base` with `extra`'s keys set after it (extra wins, as upstream's appended text)."""
    out: IniChanges = {section: dict(values) for section, values in base.items()}
    for section, values in extra.items():
        out.setdefault(section, {}).update(values)
    return out
