"""Shell words in values: quotes, escapes, comments, expansions; nothing is executed."""

from __future__ import annotations

import pytest

from ltsp_client.config.shellwords import (
    Expander,
    IncompleteError,
    ShellSyntaxError,
    assignment_words,
    lex,
)

VARS = {"A": "x/y/z w", "EMPTY": "", "HOME": "/root", "N": "3"}


def value(text: str, variables: dict[str, str] | None = None) -> str:
    (statement,) = lex(text)
    pairs = assignment_words(statement)
    assert pairs is not None, text
    expander = Expander((variables if variables is not None else VARS).get)
    return expander.word(pairs[0][1], tilde=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("V=plain", "plain"),
        ("V='single $A \\n'", "single $A \\n"),
        ('V="double $N \\$ \\" \\\\ \\n"', 'double 3 $ " \\ \\n'),
        ("V=a\\ b", "a b"),
        ("V=a#b", "a#b"),
        ("V=a #comment", "a"),
        ("V=", ""),
        ("V=''", ""),
        ("V='it'\\''s'", "it's"),
        ("V=$N$N", "33"),
        ("V=${N}x", "3x"),
        ("V=$UNSET.", "."),
        ("V=${UNSET:-d}", "d"),
        ("V=${EMPTY:-d}${EMPTY-e}", "d"),
        ("V=${A:+set}", "set"),
        ("V=${#A}", "7"),
        ("V=${A#*/}", "y/z w"),
        ("V=${A##*/}", "z w"),
        ("V=${A%/*}", "x/y"),
        ("V=${A%%/*}", "x"),
        ('V=${A#"x/"}', "y/z w"),
        ("V=${A#x?}", "y/z w"),
        ("V=${A%[a-z] w}", "x/y/"),
        ("V=~/bin", "/root/bin"),
        ("V='~'/bin", "~/bin"),
        ("V=$", "$"),
        ("V=a$%b", "a$%b"),
        ("V=%{HOSTNAME}", "%{HOSTNAME}"),
        ("V=$(date +%s)", "$(date +%s)"),
        ("V=`date`", "`date`"),
        ("V=$$", "$$"),
        ('V="a\nb"', "a\nb"),
        ("V=a\\\nb", "ab"),
    ],
)
def test_value_expansion(text: str, expected: str) -> None:
    assert value(text) == expected


def test_command_substitution_is_reported_not_run() -> None:
    (statement,) = lex("V=$(reboot)")
    pairs = assignment_words(statement)
    assert pairs is not None
    expander = Expander(VARS.get)
    assert expander.word(pairs[0][1]) == "$(reboot)"
    assert expander.unexpanded == ["$(reboot)"]


def test_several_assignments_and_statements() -> None:
    statements = lex("A=1 B=2; C=3")
    assert [[n for n, _ in assignment_words(s) or []] for s in statements] == [["A", "B"], ["C"]]


@pytest.mark.parametrize("text", ["A=b c", "A=1 >file", "A=1 | cat", "A=1 && B=2", "'A'=1"])
def test_not_pure_assignments(text: str) -> None:
    assert any(assignment_words(s) is None for s in lex(text))


@pytest.mark.parametrize("text", ["A='x", 'A="x', "A=${x", "A=$(x", "A=`x", "A=x\\"])
def test_incomplete(text: str) -> None:
    with pytest.raises(IncompleteError):
        lex(text)


@pytest.mark.parametrize("text", ["A=${a b}", "A=${}", "A=1;;", "; A=1", "A=${#a:-x}"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(ShellSyntaxError):
        lex(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("V=$((1+2))", "3"),
        ("V=$((N*1000))", "3000"),
        ("V=$(( -7 / 2 ))$((-7%3))", "-3-1"),
        ('V="$(($N<<2)) ${N}"', "12 3"),
        ("V=$((0x10 + 010))", "24"),
        ("V=$((N > 2 ? 1 : 0))", "1"),
        ("V=$((1<<63))", "-9223372036854775808"),
        ("V=$((1/0))", "$((1/0))"),  # the shell aborts; we keep the text
        ("V=$((N=4))", "$((N=4))"),  # assignments are not supported
    ],
)
def test_arithmetic(text: str, expected: str) -> None:
    assert value(text) == expected
