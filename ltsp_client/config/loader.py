"""Read ltsp.conf text into sections, line by line, the way upstream classifies lines.

Upstream turns the file into shell with a line-based translator: a line is a
section header, an INCLUDE, an assignment or "anything else" (raw shell), in
that priority. We keep that grammar exactly, because an admin's existing file
must keep its meaning. configobj is not used: its grammar differs on nearly
every point that matters here (see docs/config.md, "Why not configobj").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.config.shellwords import (
    IncompleteError,
    ShellSyntaxError,
    Statement,
    assignment_words,
    lex,
)
from ltsp_client.errors import ConfigError

HEADER_RE = re.compile(r"^ *\[[^\]]*\]")
INCLUDE_RE = re.compile(r"^include *=")
INCLUDE_PREFIX_RE = re.compile(r"include *= *")
ASSIGNMENT_RE = re.compile(r"^[a-zA-Z0-9_]* *=")
FIRST_EQUALS_RE = re.compile(r" *= *")
NAME_FILTER_RE = re.compile(r"[^-*./:?@_|0-9a-z]")
IDENT_FILTER_RE = re.compile(r"[^a-z0-9]")
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
UNNAMED = "unnamed"
SECTION_PREFIX = "section_"
# Upstream defines these two helper functions after the sections, replacing any
# section that happens to get the same function name.
RESERVED_IDENTS = frozenset({"section_call", "section_list"})


@dataclass(frozen=True)
class Assignment:
    """An assignment line (joined with the lines a quoted value spans)."""

    line: int
    end_line: int
    text: str  # as upstream hands it to the shell: spaces around the first `=` removed
    statements: tuple[Statement, ...]
    indented: bool = False  # a shell line that is only assignments (see _promote)


@dataclass(frozen=True)
class Include:
    line: int
    value: str  # normalised like a section name; matched like any other value
    text: str


@dataclass(frozen=True)
class ShellLine:
    """Anything else: comments, blank lines, indented lines, commands. Never run here."""

    line: int
    text: str


Item = Assignment | Include | ShellLine


@dataclass(frozen=True)
class Section:
    name: str  # normalised: a shell `case` pattern
    ident: str  # the function name upstream gives it (collisions are possible)
    line: int  # header line; 0 for the unnamed top part
    items: tuple[Item, ...]

    @property
    def alternatives(self) -> tuple[str, ...]:
        return tuple(self.name.split("|"))

    def shell_body(self) -> str:
        """The section as shell code (what a hook calling `section_NAME` runs)."""
        out = []
        for item in self.items:
            if isinstance(item, Include):
                out.append(f'section_call "{item.value}"')
            else:
                out.append(item.text)
        return "\n".join(out)


@dataclass(frozen=True)
class ConfFile:
    path: str
    sections: tuple[Section, ...]  # the unnamed top part first, always
    lines: tuple[str, ...]
    bad_utf8_lines: tuple[int, ...] = ()


def lower_ascii(text: str) -> str:
    """awk's tolower in the C locale: only A-Z change (never a Unicode fold to ASCII)."""
    return text.translate(ASCII_LOWER)


def normalise_name(text: str) -> str:
    """Section header or INCLUDE value -> the normalised section name / pattern."""
    text = lower_ascii(text)
    text = text.split("#", 1)[0]
    return NAME_FILTER_RE.sub("", text)


def section_ident(name: str) -> str:
    return SECTION_PREFIX + IDENT_FILTER_RE.sub("_", name)


def classify(line: str) -> str:
    """One of "header", "include", "assignment", "shell" (upstream's priority)."""
    if HEADER_RE.match(line):
        return "header"
    if INCLUDE_RE.match(lower_ascii(line)):
        return "include"
    if ASSIGNMENT_RE.match(line):
        return "assignment"
    return "shell"


def translate_assignment(line: str) -> str:
    return FIRST_EQUALS_RE.sub("=", line, count=1)


def read_conf(path: Path) -> ConfFile:
    """Read and parse a file; invalid UTF-8 is kept (surrogate escapes) and listed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read: {exc.strerror}", file=path, hint="check the path and permissions"
        ) from exc
    return parse_bytes(data, str(path))


def parse_bytes(data: bytes, path: str) -> ConfFile:
    bad: list[int] = []
    raw_lines = data.split(b"\n")
    for number, raw in enumerate(raw_lines, 1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(number)
    text = data.decode("utf-8", errors="surrogateescape")
    conf = parse_text(text, path)
    return ConfFile(conf.path, conf.sections, conf.lines, tuple(bad))


def parse_text(text: str, path: str = "ltsp.conf") -> ConfFile:
    """Classify every line and build the sections; raises ConfigError for what would
    make upstream's generated shell fail to parse (so every applet would die)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sections: list[Section] = []
    name, header_line = UNNAMED, 0
    items: list[Item] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        number = index + 1
        if "\0" in line:
            raise ConfigError(
                "NUL byte in the file", file=path, line=number, hint="is this a text file?"
            )
        kind = classify(line)
        if kind == "header":
            sections.append(Section(name, section_ident(name), header_line, _promote(items)))
            name, header_line, items = _header_name(line, path, number), number, []
        elif kind == "include":
            value = normalise_name(INCLUDE_PREFIX_RE.sub("", lower_ascii(line), count=1))
            items.append(Include(number, value, line))
        elif kind == "assignment":
            item, index = _assignment(lines, index, path)
            items.append(item)
        else:
            items.append(ShellLine(number, line))
        index += 1
    sections.append(Section(name, section_ident(name), header_line, _promote(items)))
    return ConfFile(path, tuple(sections), tuple(lines))


def _promote(items: list[Item]) -> tuple[Item, ...]:
    """Shell lines that only assign (`    A=1`, `A=1; B=2` after a tab) run unconditionally
    in upstream's shell, so they count as assignments, but only when *every* shell
    line of the section is like that: a command, `if`, loop or unclosed quote anywhere
    makes the control flow unknowable and then none of them is read."""
    promoted: list[Item] = []
    index = 0
    while index < len(items):
        item = items[index]
        index += 1
        if not isinstance(item, ShellLine):
            promoted.append(item)
            continue
        text, end = item.text, item.line
        while True:
            try:
                statements = lex(text)
                break
            except IncompleteError:
                nxt = items[index] if index < len(items) else None
                if not isinstance(nxt, ShellLine):
                    return tuple(items)
                text, end, index = f"{text}\n{nxt.text}", nxt.line, index + 1
            except ShellSyntaxError:
                return tuple(items)
        if any(assignment_words(s) is None for s in statements):
            return tuple(items)
        if statements:
            promoted.append(Assignment(item.line, end, text, tuple(statements), True))
        else:
            promoted.append(item)
    return tuple(promoted)


def _header_name(line: str, path: str, number: int) -> str:
    name = normalise_name(line)
    alternatives = name.split("|")
    hint = "section names may use letters, digits and - * . / : ? @ _ | (| separates patterns)"
    if not name:
        raise ConfigError(
            f"empty section name in {line.strip()!r}", file=path, line=number, hint=hint
        )
    if "" in alternatives:
        raise ConfigError(
            f"empty pattern in section [{name}]", file=path, line=number, hint="remove the extra |"
        )
    if alternatives[0] == "esac":
        raise ConfigError(
            "a section may not be named [esac]",
            file=path,
            line=number,
            hint="upstream's shell translation breaks on it; rename the section",
        )
    return name


def _assignment(lines: list[str], index: int, path: str) -> tuple[Assignment, int]:
    """Lex an assignment; a value left open (quote, `${`, backslash) takes the next lines."""
    start = index
    text = translate_assignment(lines[index])
    while True:
        try:
            statements = lex(text)
        except IncompleteError as exc:
            index += 1
            follows = classify(lines[index]) if index < len(lines) else "eof"
            if follows in ("eof", "header", "include"):
                where = "the end of the file" if follows == "eof" else f"line {index + 1}"
                raise ConfigError(
                    f"unterminated {exc.what} (still open at {where})",
                    file=path,
                    line=start + 1,
                    param=_param_name(lines[start]),
                    hint="close the quote; a value may span lines but not a section header",
                ) from None
            nxt = lines[index]
            text += "\n" + (translate_assignment(nxt) if follows == "assignment" else nxt)
            continue
        except ShellSyntaxError as exc:
            raise ConfigError(
                f"shell syntax error: {exc}",
                file=path,
                line=start + 1,
                param=_param_name(lines[start]),
                hint="quote the value with single quotes to keep it literal",
            ) from None
        return Assignment(start + 1, index + 1, text, tuple(statements)), index


def _param_name(line: str) -> str:
    return line.split("=", 1)[0].strip()
