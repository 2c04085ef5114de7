"""Line grammar (spec §2.2): classes, names, INCLUDE, assignments, syntax errors."""

from __future__ import annotations

import pytest

from ltsp_client.config.loader import (
    Assignment,
    Include,
    ShellLine,
    classify,
    normalise_name,
    parse_bytes,
    parse_text,
    section_ident,
)
from ltsp_client.config.model import Identity
from ltsp_client.config.sections import evaluate_files
from ltsp_client.errors import ConfigError


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("[pc01]", "header"),
        ("   [pc01] trailing", "header"),
        ("\t[pc01]", "shell"),  # only spaces may indent a header
        ("[pc01", "shell"),
        ("INCLUDE=x", "include"),
        ("include =x", "include"),
        (" INCLUDE=x", "shell"),
        ("A=1", "assignment"),
        ("A   = 1", "assignment"),
        ("1A=1", "assignment"),  # upstream's pattern allows it; the shell then fails
        ("=1", "assignment"),
        ("A\t=1", "shell"),
        ("  A=1", "shell"),
        ("A-B=1", "shell"),
        ("# A=1", "shell"),
        ("", "shell"),
        ("[x]=1", "header"),  # header beats assignment
        ("include=[x]", "include"),
    ],
)
def test_line_classes_in_upstream_priority(line: str, kind: str) -> None:
    assert classify(line) == kind


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("[PC01]", "pc01"),
        ("[pc01] # teacher", "pc01"),
        ("[pc] 01", "pc01"),  # the whole line is used, not just the brackets
        ("[b8:27:eb:*|dc:a6:32:*]", "b8:27:eb:*|dc:a6:32:*"),
        ("[Init/Library*]", "init/library*"),
        ("[P C!0$1]", "pc01"),
        ("[pc[0-9]]", "pc0-9"),  # shell classes cannot be written
        ("[a.b-c_d@e?]", "a.b-c_d@e?"),
        ("[ÄPC01]", "pc01"),  # non-ASCII letters vanish, never fold to ASCII
        ("[\u212apc]", "pc"),  # KELVIN SIGN is not a k
    ],
)
def test_section_name_normalisation(header: str, name: str) -> None:
    assert normalise_name(header) == name


def test_function_identifier() -> None:
    assert section_ident("init/52:54:00:*") == "section_init_52_54_00__"


def test_sections_and_items() -> None:
    conf = parse_text("A=1\n[pc01]\nB = 2\nINCLUDE = Other # c\necho hi\n")
    top, pc01 = conf.sections
    assert (top.name, top.line) == ("unnamed", 0)
    assert pc01.name == "pc01" and pc01.line == 2
    b, inc, shell = pc01.items
    assert isinstance(b, Assignment) and b.text == "B=2"
    assert isinstance(inc, Include) and inc.value == "other"
    assert isinstance(shell, ShellLine) and shell.text == "echo hi"


def test_spaces_removed_only_around_the_first_equals() -> None:
    item = parse_text("A = 'x = y'\n").sections[0].items[0]
    assert isinstance(item, Assignment) and item.text == "A='x = y'"


def test_a_quoted_value_may_span_lines() -> None:
    conf = parse_text('A="one\ntwo = three\n"\nB=1\n')
    first = conf.sections[0].items[0]
    assert isinstance(first, Assignment)
    assert (first.line, first.end_line) == (1, 3)
    assert first.text == 'A="one\ntwo=three\n"'  # upstream rewrites the middle line too


def test_crlf_is_kept_in_values() -> None:
    item = parse_text("A=1\r\n").sections[0].items[0]
    assert isinstance(item, Assignment) and item.text == "A=1\r"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('A="open\n', 1, "unterminated double quote"),
        ("\nA='open\n[pc01]\n'\n", 2, "unterminated single quote"),
        ('A="x\nINCLUDE=y\n"\n', 1, "unterminated double quote"),
        ("A=${B\n", 1, "unterminated ${"),
        ("A=$(echo\n", 1, "unterminated $("),
        ("A=`x\n", 1, "unterminated backquote"),
        ("A=x\\", 1, "unterminated backslash"),
        ("A=${B C}\n", 1, "bad substitution"),
        ("A=1;;\n", 1, "case"),
        ("[]\n", 1, "empty section name"),
        ("x\n[!!]\n", 2, "empty section name"),
        ("[a||b]\n", 1, "empty pattern"),
        ("[|a]\n", 1, "empty pattern"),
        ("[esac]\n", 1, "esac"),
        ("A=1\0\n", 1, "NUL"),
    ],
)
def test_syntax_errors_have_a_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("$", r"\$").replace("(", r"\(")) as info:
        parse_text(text, "/etc/ltsp/ltsp.conf")
    assert info.value.line == line
    assert str(info.value.file) == "/etc/ltsp/ltsp.conf"


def test_error_names_the_parameter() -> None:
    with pytest.raises(ConfigError) as info:
        parse_text("\n\nLIGHTDM_CONF='x\n")
    assert info.value.param == "LIGHTDM_CONF" and info.value.line == 3


def test_invalid_utf8_is_kept_and_listed() -> None:
    conf = parse_bytes(b"A=1\n# caf\xe9\nB=\xff\n", "x")
    assert conf.bad_utf8_lines == (2, 3)
    item = conf.sections[0].items[2]
    assert isinstance(item, Assignment) and item.text == "B=\udcff"


@pytest.mark.parametrize(
    "value",
    ["${a:-" * 500 + "}" * 500, "$((" * 500 + "1" + "))" * 500, "$((" + "-" * 5000 + "1))"],
)
def test_deep_nesting_is_refused_or_kept_never_a_recursion_error(value: str) -> None:
    try:
        conf = parse_text(f"A={value}\n")
        evaluate_files(applet="init", identity=Identity(), is_client=True, files=[conf], environ={})
    except ConfigError as exc:
        assert exc.line == 1


def test_long_include_chains_work() -> None:
    text = "[pc01]\nINCLUDE=s0\n" + "".join(
        f"[s{i}]\nV{i}=1\nINCLUDE=s{i + 1}\n" for i in range(150)
    )
    conf = parse_text(text)
    result = evaluate_files(
        applet="", identity=Identity("", "", "pc01"), is_client=True, files=[conf], environ={}
    ).config()
    assert result["V149"] == "1"
