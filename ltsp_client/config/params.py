"""Typed parameter declarations: one table drives validation, `ltsp config check` and docs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ParamKind = Literal["str", "bool", "int", "enum", "words", "path"]


@dataclass(frozen=True)
class Param:
    """One ltsp.conf parameter. `key` ending in `_` with `is_list` means a `KEY_x` list."""

    key: str
    kind: ParamKind = "str"
    default: str = ""
    help: str = ""
    choices: tuple[str, ...] = ()
    is_list: bool = False
