"""Property tests: any input parses or fails with a located ConfigError, never a traceback;
generated configs evaluate like upstream (when upstream is installed)."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ltsp_client.applets.config import shell_quote
from ltsp_client.cli import main
from ltsp_client.config import Identity, expand_percent, parse_kernel_vars
from ltsp_client.config.loader import parse_bytes
from ltsp_client.config.sections import evaluate_files
from ltsp_client.config.shellwords import Expander, assignment_words, lex
from ltsp_client.errors import ConfigError

from .helpers import FIXTURES, PC01
from .upstream import compare

SCHOOL = (FIXTURES / "school.conf").read_bytes()
SHELLISH = "\"'\\$`[]{}()#=|;&<>*?%~ \t\nAZaz09_-.:/@!"


def parse_and_evaluate(data: bytes) -> None:
    try:
        conf = parse_bytes(data, "fuzz.conf")
        for applet, client in (("init", True), ("dnsmasq", False)):
            evaluate_files(applet=applet, identity=PC01, is_client=client, files=[conf], environ={})
    except ConfigError as exc:
        assert exc.line is None or exc.line >= 1
        assert str(exc.file) == "fuzz.conf"
        assert exc.message


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_random_bytes(data: bytes) -> None:
    parse_and_evaluate(data)


@given(st.text(alphabet=st.sampled_from(SHELLISH), max_size=300))
@settings(max_examples=400, deadline=None)
def test_random_shellish_text(text: str) -> None:
    parse_and_evaluate(text.encode())


@st.composite
def mutated_school(draw: st.DrawFn) -> bytes:
    data = bytearray(SCHOOL)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "dup_line"]))
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "insert":
            data[pos:pos] = draw(st.sampled_from(SHELLISH)).encode()
        elif kind == "delete":
            del data[pos]
        elif kind == "replace":
            data[pos] = draw(st.integers(0, 255))
        else:
            end = data.find(b"\n", pos)
            start = data.rfind(b"\n", 0, pos) + 1
            data[start:start] = data[start : end + 1 if end >= 0 else len(data)]
    return bytes(data)


@given(mutated_school())
@settings(max_examples=300, deadline=None)
def test_mutated_realistic_file(data: bytes) -> None:
    parse_and_evaluate(data)


@given(st.one_of(st.binary(max_size=300), mutated_school()))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_check_command_never_prints_a_traceback(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ltsp.conf"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["config", "check", "--config", str(path)])
            annotated = main(["config", "check", "--config", str(path), "--annotate"])
    assert code in (0, 1) and annotated == code
    assert "Traceback" not in out.getvalue() + err.getvalue()


@given(st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"])))
def test_show_quoting_reads_back_as_the_same_value(value: str) -> None:
    (statement,) = lex("A=" + shell_quote(value))
    pairs = assignment_words(statement)
    assert pairs is not None
    assert Expander(lambda _name: None).word(pairs[0][1]) == value


PATTERNS = [
    "pc01",
    "pc*",
    "*",
    "52:54:00:*",
    "192.168.67.2?",
    "init/",
    "init/pc01",
    "clients",
    "common",
    "server",
    "extra",
    "x|pc01",
    "init/*",
]


@st.composite
def generated_conf(draw: st.DrawFn) -> str:
    """Headers, assignments and INCLUDEs only (upstream really runs anything else)."""
    names = ["A", "B", "HOSTNAME", "CRONTAB_01"]
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["header", "assign", "assign", "include"]))
        if kind == "header":
            lines.append(f"[{draw(st.sampled_from(PATTERNS))}]")
        elif kind == "include":
            lines.append(f"INCLUDE = {draw(st.sampled_from(PATTERNS))}")
        else:
            name = draw(st.sampled_from(names))
            value = draw(st.sampled_from(["x", "$A-y", "'$B z'", '"${A}w"', "lab07", "pc01", ""]))
            lines.append(f"{name}{draw(st.sampled_from(['=', ' = ']))}{value}")
    return "\n".join(lines) + "\n[zz-unused]\n"


@given(generated_conf(), st.booleans())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_configs_evaluate_like_upstream(text: str, client: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ltsp.conf").write_text(text)
        identity = Identity(PC01.mac, PC01.ip, "pc01")
        _ours, theirs, diffs = compare(
            Path(tmp), applet="init", identity=identity, is_client=client
        )
    assert not theirs.died, theirs.stderr
    assert diffs == []


@given(st.text(alphabet=st.sampled_from(SHELLISH + "%"), max_size=80))
@settings(max_examples=300, deadline=None)
def test_expand_percent_never_raises(template: str) -> None:
    assert isinstance(expand_percent(template, {"IP": "20", "HOSTNAME": "pc01"}), str)


@given(st.text(alphabet=st.sampled_from(SHELLISH + "ltsp.="), max_size=120))
@settings(max_examples=300, deadline=None)
def test_parse_kernel_vars_never_raises(cmdline: str) -> None:
    for name in parse_kernel_vars("ltsp.a=1 " + cmdline, {"HOME": "/root"}):
        assert name and name == name.upper() and "-" not in name
