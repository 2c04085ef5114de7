"""`ltsp config check`: find what upstream would choke on or silently misread.

Errors are what breaks evaluation or changes meaning (a value that would run as
a command, a header the shell reads as a command, a boolean that is neither 0
nor 1); warnings are legal but suspicious (unknown names, which may be the
admin's own variables, shell code this implementation does not run).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ltsp_client.config.loader import (
    Assignment,
    ConfFile,
    Include,
    Section,
    ShellLine,
    parse_bytes,
)
from ltsp_client.config.model import FALSE_WORDS, TRUE_WORDS
from ltsp_client.config.params import KNOWN_PARAMS, Param, find_param
from ltsp_client.config.sections import pattern_regex
from ltsp_client.config.shellwords import (
    Lit,
    Part,
    Statement,
    Subst,
    Word,
    assignment_words,
    is_literal,
    word_text,
)
from ltsp_client.config.shellwords import (
    Param as ParamPart,
)
from ltsp_client.errors import ConfigError

IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LOOKS_LIKE_ASSIGNMENT_RE = re.compile(r"^([^\s=#\[\]\"'$`;|&<>()]+)\s*=")
INDENTED_ASSIGNMENT_RE = re.compile(r"^\s+([A-Za-z_][A-Za-z0-9_]*)\s*=")
UNCLOSED_HEADER_RE = re.compile(r"^\s*\[[^\]]*$")
TAB_HEADER_RE = re.compile(r"^\s*\t\s*\[[^\]]*\]")
SECTION_CALL_RE = re.compile(r"section_[a-z0-9_]+")
INT_RE = re.compile(r"-?[0-9]+")
# Names upstream declares `local` around the evaluation: assignments to them are lost.
UPSTREAM_LOCALS = frozenset(
    {"config", "applet", "clients_section", "server_section", "sub_dir", "section"}
)
# ... and these two make upstream's error wrapper abort the applet when changed.
UPSTREAM_FATAL_LOCALS = frozenset({"want", "got"})


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    param: str
    message: str
    hint: str = ""
    error: bool = True

    def render(self) -> str:
        where = f"{self.file}:{self.line}" + (f": {self.param}" if self.param else "")
        kind = "error" if self.error else "warning"
        text = f"{where}: {kind}: {self.message}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


def check_bytes(data: bytes, path: str) -> tuple[ConfFile | None, list[Problem]]:
    """Parse and check one file; a parse error is returned as the only problem."""
    try:
        conf = parse_bytes(data, path)
    except ConfigError as exc:
        line = exc.line or 1
        return None, [Problem(path, line, exc.param, exc.message, exc.hint)]
    return conf, check_conf(conf)


def check_conf(conf: ConfFile) -> list[Problem]:
    problems: list[Problem] = []
    path = conf.path
    for number in conf.bad_utf8_lines:
        problems.append(Problem(path, number, "", "invalid UTF-8", "save the file as UTF-8 text"))
    called = set(SECTION_CALL_RE.findall("\n".join(conf.lines)))
    for section in conf.sections:
        problems += _check_section(conf, section, called)
    problems += _check_headers(conf)
    return sorted(problems, key=lambda p: (p.line, not p.error))


def _check_section(conf: ConfFile, section: Section, called: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    path = conf.path
    if section.ident == "section_call":
        problems.append(
            Problem(
                path,
                section.line,
                "",
                f"section [{section.name}] can never work",
                "upstream names its dispatcher section_call: the section calls itself "
                "forever; rename it",
            )
        )
    elif section.ident == "section_list":
        problems.append(
            Problem(
                path,
                section.line,
                "",
                f"section [{section.name}] never runs",
                "upstream replaces it with its own section_list function; rename it",
                error=False,
            )
        )
    for item in section.items:
        if isinstance(item, Assignment) and item.indented:
            problems.append(_indented_problem(path, item))
        if isinstance(item, Assignment):
            for statement in item.statements:
                problems += _check_statement(path, item.line, statement)
        elif isinstance(item, ShellLine):
            problems += _check_shell_line(path, item, section, called)
        elif isinstance(item, Include) and not item.value:
            problems.append(
                Problem(
                    path,
                    item.line,
                    "INCLUDE",
                    "INCLUDE with an empty section name",
                    "write INCLUDE=name_of_a_section",
                    error=False,
                )
            )
    return problems


def _indented_problem(path: str, item: Assignment) -> Problem:
    first = item.statements[0].words[0] if item.statements[0].words else ()
    name = word_text(first).split("=", 1)[0]
    if name.upper() == "INCLUDE":
        return Problem(
            path,
            item.line,
            name,
            "an indented INCLUDE is a variable, not an include",
            "remove the indentation",
        )
    return Problem(
        path,
        item.line,
        name,
        "indented assignment: read like upstream's shell, "
        "but only while its section has no shell commands",
        "remove the indentation",
        error=False,
    )


def _check_statement(path: str, line: int, statement: Statement) -> list[Problem]:
    pairs = assignment_words(statement)
    if pairs is None:
        return [_command_problem(path, line, statement)]
    problems: list[Problem] = []
    for name, value in pairs:
        problems += _check_value(path, line, name, value)
    return problems


def _command_problem(path: str, line: int, statement: Statement) -> Problem:
    words = [word_text(w) for w in statement.words]
    first = statement.words[0] if statement.words else ()
    head = word_text(first)
    if statement.operators:
        ops = " ".join(sorted(set(statement.operators)))
        return Problem(
            path,
            line,
            head.split("=", 1)[0],
            f"shell operators ({ops}) in an assignment line",
            "quote the value; to run commands use a PRE_/POST_ hook",
        )
    if first and not _assignment_head(first):
        name = head.split("=", 1)[0]
        return Problem(
            path,
            line,
            name,
            f"{name!r} is not a shell variable name",
            "names may use only letters, digits and _, and not start with a digit",
        )
    command = next(
        (w for w in words if not IDENTIFIER_RE.match(w.split("=", 1)[0]) or "=" not in w), ""
    )
    name = head.split("=", 1)[0]
    value = head.split("=", 1)[1] if "=" in head else ""
    return Problem(
        path,
        line,
        name,
        f"unquoted space: the shell would run {command!r} as a command and not set {name}",
        f'quote the value: {name}="{value} {" ".join(words[1:])}"',
    )


def _assignment_head(word: Word) -> bool:
    return (
        bool(word)
        and isinstance(word[0], Lit)
        and not word[0].quoted
        and bool(re.match(r"[A-Za-z_][A-Za-z0-9_]*=", word[0].text))
    )


def _check_value(path: str, line: int, name: str, value: Word) -> list[Problem]:
    problems: list[Problem] = []
    for part in _flatten(value):
        if isinstance(part, Subst):
            problems.append(
                Problem(
                    path,
                    line,
                    name,
                    f"{part.text} is kept as written, not run",
                    "ltsp never runs commands while reading ltsp.conf; use a PRE_/POST_ hook",
                    error=False,
                )
            )
        elif isinstance(part, ParamPart) and part.op in (":?", "?"):
            problems.append(
                Problem(
                    path, line, name, f"${{{part.name}{part.op}...}} aborts when unset", error=False
                )
            )
    if name in UPSTREAM_FATAL_LOCALS:
        problems.append(
            Problem(
                path,
                line,
                name,
                f"upstream LTSP aborts every applet when {name} is set",
                "its error wrapper uses this name; rename the variable",
            )
        )
    elif name in UPSTREAM_LOCALS:
        problems.append(
            Problem(
                path,
                line,
                name,
                f"upstream LTSP forgets {name} after reading ltsp.conf",
                "its evaluation uses this name for itself; rename the variable",
                error=False,
            )
        )
    param = find_param(name)
    if param is None:
        if name not in UPSTREAM_LOCALS | UPSTREAM_FATAL_LOCALS:
            problems.append(_unknown(path, line, name))
    elif is_literal(value):
        text = "".join(p.text for p in value if isinstance(p, Lit))
        problems += _check_type(path, line, name, param, text)
    return problems


def _flatten(word: Word) -> list[Part]:
    out: list[Part] = []
    for part in word:
        out.append(part)
        if isinstance(part, ParamPart):
            out += _flatten(part.arg)
    return out


def _unknown(path: str, line: int, name: str) -> Problem:
    hint = ""
    if name.upper() in KNOWN_PARAMS and name != name.upper():
        hint = f"did you mean {name.upper()}? names are case-sensitive"
    else:
        close = difflib.get_close_matches(name, list(KNOWN_PARAMS), n=1, cutoff=0.8)
        if close:
            hint = f"did you mean {close[0]}?"
    return Problem(
        path,
        line,
        name,
        f"unknown parameter {name}",
        hint or "fine if it is your own variable",
        error=False,
    )


def _check_type(path: str, line: int, name: str, param: Param, text: str) -> list[Problem]:
    if text == "" or "%{" in text:
        return []
    if param.kind == "bool":
        if text in ("0", "1"):
            return []
        if text.lower() in TRUE_WORDS | FALSE_WORDS:
            return [
                Problem(
                    path,
                    line,
                    name,
                    f"{name}={text}: upstream LTSP expects 0 or 1",
                    f"write {name}={'1' if text.lower() in TRUE_WORDS else '0'}",
                    error=False,
                )
            ]
        return [
            Problem(
                path,
                line,
                name,
                f"{name} is a boolean, not {text!r}",
                f"write {name}=1 or {name}=0",
            )
        ]
    if param.kind == "int" and not INT_RE.fullmatch(text):
        return [
            Problem(
                path,
                line,
                name,
                f"{name} is a number, not {text!r}",
                f"default: {param.default}" if param.default else "",
            )
        ]
    if param.kind == "enum" and text not in param.choices:
        folded = {c.lower(): c for c in param.choices}
        if text.lower() in folded:
            return [
                Problem(
                    path,
                    line,
                    name,
                    f"{name}={text}: write it as {folded[text.lower()]}",
                    "upstream compares it exactly",
                )
            ]
        return [
            Problem(
                path,
                line,
                name,
                f"{name} must be one of {', '.join(param.choices)}",
                f"not {text!r}",
            )
        ]
    return []


def _check_shell_line(
    path: str, item: ShellLine, section: Section, called: set[str]
) -> list[Problem]:
    text = item.text
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return []
    if UNCLOSED_HEADER_RE.match(text):
        return [
            Problem(
                path,
                item.line,
                "",
                f"section header without a closing ]: {stripped!r}",
                "write it as [name]",
            )
        ]
    if TAB_HEADER_RE.match(text):
        return [
            Problem(
                path,
                item.line,
                "",
                "a tab before [ makes this shell code, not a section header",
                "remove the indentation",
            )
        ]
    match = INDENTED_ASSIGNMENT_RE.match(text)
    if match:
        return [
            Problem(
                path,
                item.line,
                match.group(1),
                "indented assignment in a section with shell commands: upstream "
                "runs it as shell code, this implementation does not read it",
                "remove the indentation",
            )
        ]
    match = LOOKS_LIKE_ASSIGNMENT_RE.match(text)
    if match and not IDENTIFIER_RE.fullmatch(match.group(1)):
        name = match.group(1)
        return [
            Problem(
                path,
                item.line,
                name,
                f"{name!r} is not a shell variable name",
                "names may use only letters, digits and _, and not start with a digit",
            )
        ]
    if section.ident in called:
        return []
    return [
        Problem(
            path,
            item.line,
            "",
            "shell code is not run while reading ltsp.conf",
            f"it runs only when a hook calls {section.ident}; for commands use a POST_INIT_x hook",
            error=False,
        )
    ]


def _check_headers(conf: ConfFile) -> list[Problem]:
    """Duplicate names, function-name collisions, sections shadowed by an earlier pattern."""
    problems: list[Problem] = []
    seen: dict[str, Section] = {}
    headers = [s for s in conf.sections if s.line > 0]
    for index, section in enumerate(headers):
        earlier = seen.get(section.ident)
        if earlier is not None:
            same = earlier.name == section.name
            what = "defined again" if same else f"shares its function name with [{earlier.name}]"
            problems.append(
                Problem(
                    conf.path,
                    section.line,
                    "",
                    f"[{section.name}] {what} (line {earlier.line})",
                    "upstream runs only the last one; merge them",
                    error=False,
                )
            )
        seen[section.ident] = section
        for alt in section.alternatives:
            if any(c in alt for c in "*?"):
                continue
            shadow = next(
                (
                    s
                    for s in headers[:index]
                    if s.ident != section.ident
                    and any(pattern_regex(a).fullmatch(alt) for a in s.alternatives)
                ),
                None,
            )
            if shadow is not None:
                problems.append(
                    Problem(
                        conf.path,
                        section.line,
                        "",
                        f"[{section.name}] is never matched "
                        f"for {alt}: [{shadow.name}] (line {shadow.line}) matches first",
                        "only the first matching section runs; move it above",
                        error=False,
                    )
                )
    for number, line in enumerate(conf.lines, 1):
        if line.endswith("\r"):
            problems.append(
                Problem(
                    conf.path,
                    number,
                    "",
                    "line ends with a carriage return (CRLF)",
                    "values keep the \\r; convert the file with dos2unix",
                    error=False,
                )
            )
    return problems


def annotate(conf_lines: list[str], problems: list[Problem]) -> str:
    """The file again, with `# E1,W2` markers on the lines and the messages at the end."""
    errors = [p for p in problems if p.error]
    warnings = [p for p in problems if not p.error]
    marks: dict[int, list[str]] = {}
    for prefix, group in (("E", errors), ("W", warnings)):
        for i, problem in enumerate(group, 1):
            marks.setdefault(problem.line, []).append(f"{prefix}{i}")
    out = []
    for number, line in enumerate(conf_lines, 1):
        mark = marks.pop(number, None)
        out.append(f"{line}\t\t# {','.join(mark)}" if mark else line)
    for prefix, title, group in (("E", "Errors", errors), ("W", "Warnings", warnings)):
        if not group:
            continue
        out.append("")
        out.append(f"# {title}: -------------")
        for i, problem in enumerate(group, 1):
            param = f"{problem.param}: " if problem.param else ""
            hint = f" (hint: {problem.hint})" if problem.hint else ""
            out.append(f"# {prefix}{i}: line {problem.line}: {param}{problem.message}{hint}")
    return "\n".join(out) + "\n"


def check_applet_conf(main: ConfFile, applet_conf: ConfFile) -> list[Problem]:
    """ltsp-APPLET.conf shares the once-per-process guard with ltsp.conf: its top part
    never runs (ltsp.conf's always did), nor does a section ltsp.conf already ran."""
    problems: list[Problem] = []
    defined = {s.ident: s for s in main.sections if s.line > 0}
    for section in applet_conf.sections:
        if section.line == 0:
            content = [i for i in section.items if not _is_blank_or_comment(i)]
            if content:
                problems.append(
                    Problem(
                        applet_conf.path,
                        _item_line(content[0]),
                        "",
                        "lines above the first section never run here: the top part of "
                        f"{main.path} already ran",
                        "put them in a section",
                        error=False,
                    )
                )
        elif section.ident in defined:
            twin = defined[section.ident]
            problems.append(
                Problem(
                    applet_conf.path,
                    section.line,
                    "",
                    f"[{section.name}] is skipped whenever [{twin.name}] of {main.path} "
                    f"(line {twin.line}) ran",
                    "each section runs once per process; "
                    "rename it or move its lines into ltsp.conf",
                    error=False,
                )
            )
    return problems


def _item_line(item: Assignment | Include | ShellLine) -> int:
    return item.line


def _is_blank_or_comment(item: Assignment | Include | ShellLine) -> bool:
    return isinstance(item, ShellLine) and (item.text.strip() + "#")[0] == "#"
