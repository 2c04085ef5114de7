"""Edit INI-style files (LightDM, GDM3, SDDM, slick-greeter) keeping comments and order.

The only configobj user (an untyped library kept behind this one function).
configobj re-spaces assignments as `key = value`, which these programs read
the same; comments, blank lines, and the order of sections and keys are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import files

if TYPE_CHECKING:
    from configobj import ConfigObj, Section

# Section "" means the keys before the first [section].
IniChanges = Mapping[str, Mapping[str, str | None]]


def edit_ini(root: Path, path: str | PurePosixPath, changes: IniChanges, mode: int) -> Path:
    """Set (or with None, remove) `changes[section][key]` in `path`, creating what is missing."""
    from configobj import ConfigObj, ConfigObjError  # only when a plugin edits INI files

    old = files.read_text(root, path) or ""
    try:
        ini = ConfigObj(
            old.splitlines(),
            interpolation=False,
            list_values=False,
            write_empty_values=True,
            raise_errors=True,
        )
    except ConfigObjError as exc:
        raise LtspError(
            f"{path}: cannot read it as an INI file: {exc}",
            hint="fix the line (duplicate keys or sections, or a line without `=`)",
        ) from None
    for section, values in changes.items():
        if section == "":
            target = ini
        else:
            if section not in ini.sections:
                ini[section] = {}
                if ini.scalars or len(ini.sections) > 1:
                    ini.comments[section] = [""]  # a blank line before the new header
            target = ini[section]
        for key, value in values.items():
            if value is None:
                _remove(ini, target, key)
            elif key in target.scalars:
                target[key] = value
            else:
                above = _trailing_comments(ini, target)
                target[key] = value
                target.comments[key] = above
    text = "".join(line + "\n" for line in ini.write())
    return files.write_file(root, path, text, mode)


def _trailing_comments(ini: ConfigObj, section: Section) -> list[str]:
    """Take the comment lines that follow `section`'s last key (up to the blank lines
    before the next header): configobj ties them to the next header, but in the
    file they end this section, so a new key goes after them."""
    if section is ini:
        if not ini.sections:
            kept = list(ini.final_comment)
            cut = _last_text(kept)
            ini.final_comment = kept[cut:]
            return kept[:cut]
        holder, name = ini.comments, ini.sections[0]
    else:
        names = section.parent.sections
        following = names[names.index(section.name) + 1 :]
        if not following:
            kept = list(ini.final_comment)
            cut = _last_text(kept)
            ini.final_comment = kept[cut:]
            return kept[:cut]
        holder, name = section.parent.comments, following[0]
    lines = list(holder.get(name, []))
    cut = _last_text(lines)
    holder[name] = lines[cut:]
    return lines[:cut]


def _last_text(lines: list[str]) -> int:
    """The index after the last non-blank line."""
    for index in range(len(lines), 0, -1):
        if lines[index - 1].strip():
            return index
    return 0


def _remove(ini: ConfigObj, section: Section, key: str) -> None:
    """Remove `key`, keeping the comment lines above it (configobj ties them to the key)."""
    if key not in section.scalars:
        return
    kept = section.comments.get(key, [])
    keys = section.scalars
    after = keys[keys.index(key) + 1 :]
    del section[key]
    if not kept:
        return
    if after:
        section.comments[after[0]] = kept + section.comments.get(after[0], [])
        return
    parent = section.parent if section is not ini else None
    names = parent.sections if parent is not None else []
    following = names[names.index(section.name) + 1 :] if parent is not None else []
    if parent is not None and following:
        parent.comments[following[0]] = kept + parent.comments.get(following[0], [])
    elif section is ini and ini.sections:
        first = ini.sections[0]
        ini.comments[first] = kept + ini.comments.get(first, [])
    else:
        ini.final_comment = kept + list(ini.final_comment)
