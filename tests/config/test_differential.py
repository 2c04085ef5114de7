"""Differential tests: our evaluation against upstream LTSP's shell evaluation.

Fails when Debian's `ltsp` package is not installed (scripts/deps/apt-config.txt
lists it; CI installs it). Each case is a small ltsp.conf; upstream really runs raw shell lines,
so the cases only use harmless ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsp_client.config import Identity

from .upstream import compare

PC01 = Identity("52:54:00:12:34:56", "192.168.67.20", "pc01")

CASES: dict[str, str] = {
    "precedence": (
        "A=unnamed\n[clients]\nA=clients\nB=$A\n[common]\nA=common\n[server]\nA=server\n"
        "[52:54:00:12:34:56]\nC=$A-mac\n[192.168.67.20]\nD=$C-ip\n[pc01]\nE=$D-host\n"
        "[init/]\nF=$E-applet\n[init/52:54:00:12:34:56]\nG=1\n[init/192.168.67.*]\nH=1\n"
        "[init/pc01]\nI=$H\n"
    ),
    "first_match_wins": "[52:54:00:*]\nA=wild\n[52:54:00:12:34:56]\nA=exact\nB=1\n",
    "duplicate_names_last_definition_runs": "[pc01]\nA=first\nB=1\n[pc01]\nA=second\n",
    "ident_collision": "[a-b]\nA=dash\n[a_b]\nA=underscore\n[pc01]\nINCLUDE=a-b\n",
    "include_inline": "[pc01]\nA=before\nINCLUDE=extra\nB=after\n[extra]\nA=extra\nB=extra\n",
    "include_guard": "[pc01]\nINCLUDE=x\nA=1\nINCLUDE=x\n[x]\nA=x\nN=${N}n\n",
    "include_by_pattern": "[*]\nA=star\n[foo]\nA=foo\n[pc01]\nINCLUDE=foo\n",
    "star_captures_common": "[*]\nA=star\n[common]\nA=common\n",
    "hostname_from_mac": (
        "[52:54:00:12:34:56]\nHOSTNAME=lab07\n[lab*]\nA=lab\n[init/lab07]\nB=init\n"
    ),
    "alternatives": "[x|192.168.67.2?|y]\nA=alt\n",
    "question_mark": "[pc0?]\nA=q\n",
    "header_trailing_text": "[pc] 01\nA=trailing\n[pc01]\nA=plain\n",
    "header_comment": "[pc01] # the teacher's PC\nA=1\n",
    "header_strange_chars": "[P C!0$1]\nA=1\n",
    "unnamed_named_section": "A=top\n[unnamed]\nB=named\n",
    "list_section": "[pc01]\nINCLUDE=list\nA=1\n[list]\nB=list\n",
    "empty_include_matches_star": "[pc01]\nINCLUDE=\n[*]\nA=star\n",
    "quotes": (
        'A=\'x y\'\nB="a\\"b"\nC=a\\ b\nD="$A"\'$A\'\nE=a#b\nF=a #c\nG=\nH=""\n'
        "I='it'\\''s'\nJ=\"back\\\\slash\"\nK=\"dollar\\$\"\nL=a\\\\b\n"
    ),
    "param_forms": (
        "A='x/y/z w'\nB=${A##*/}\nC=${A%% *}\nD=${#A}\nE=${UNSET:-def}\nF=${UNSET-d2}\n"
        "G=${A:+set}\nH=${A#x}\nI=${A%z*}\nJ=${EMPTY-e}\nEMPTY=\nK=${EMPTY-e}${EMPTY:-f}\n"
        "L=${UNSET:=assigned}\n"
    ),
    "multiline_value": (
        'A="line one\nline two"\nB=1\nCRONTAB_01="* * * * * root true\nx [not a header]\n"\n'
    ),
    "several_assignments_per_line": 'A=1 B=$A C="$B$A"\nD=1; E=2\n',
    "spaces_around_equals": 'A = 1\nB  =  "two words"\nC= x\nD =\n',
    "include_case_and_comment": "[pc01]\nInclude = Extra # comment\n[extra]\nA=1\n",
    "tilde": "A=~/x\nB=~\nC='~'\n",
    "guard_variable": "section_pc01=1\n[pc01]\nA=1\n",
    "positional": '[pc01]\nA="$1 $#"\n[init/]\nB="$1|$2|$#|$*"\n',
    "locals_are_lost": "config=1\nsection=2\nKEEP=$applet\n",
    "lists": "[clients]\nCRONTAB_01='a'\nCRONTAB_02='b'\n[pc01]\nCRONTAB_01=\n",
    "percent_kept": 'HOSTNAME=pc%{IP}\nPWMERGE_SUR=".*%{HOSTNAME#pc}"\n',
    "env_and_defaults": "A=$HOME:$BASE_DIR:$TFTP_DIR:$HOME_DIR:$MAC_ADDRESS:$IP_ADDRESS\n",
    "tab_before_equals_is_shell": "A\t=1\nB=2\n",
    "indented_header_with_tab_is_shell": "[pc01]\nA=1\n\t[init/]\nB=2\n",
    "command_in_value_not_assigned": "A=b true\nB=1\n",
    "empty_mac_section": "[*]\nA=1\n",
    "indented_assignments": "[pc01]\n  A=1\n\tB=$A; C=2 # c\n  # note\n\n  INCLUDE=x\n[x]\nD=1\n",
    "arithmetic": 'N=3\nA=$((N*2+1))\nB=$(( ($N+1) % 3 ))\nC="$((0x10-010)) $((N>2?7:8))"\n',
}

SERVER_CASES: dict[str, str] = {
    "server_sections": "[clients]\nA=clients\n[server]\nA=server\nB=1\n[common]\nC=1\n",
    "server_mac": "[52:54:00:12:34:56]\nA=mac\n[dnsmasq/]\nB=dnsmasq\n",
}


def _write(tmp_path: Path, text: str) -> Path:
    # upstream 23.02 generates broken shell for a file without any section header
    # (an empty `section_list`), so every case gets a harmless unused one
    (tmp_path / "ltsp.conf").write_text(text + "\n[zz-unused]\n")
    return tmp_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_upstream_on_client(tmp_path: Path, name: str) -> None:
    _ours, theirs, diffs = compare(
        _write(tmp_path, CASES[name]), applet="init", identity=PC01, is_client=True
    )
    assert not theirs.died, theirs.stderr
    assert diffs == []


@pytest.mark.parametrize("name", sorted(SERVER_CASES))
def test_same_as_upstream_on_server(tmp_path: Path, name: str) -> None:
    _ours, theirs, diffs = compare(
        _write(tmp_path, SERVER_CASES[name]), applet="dnsmasq", identity=PC01, is_client=False
    )
    assert not theirs.died, theirs.stderr
    assert diffs == []


def test_applet_conf_shares_the_guard(tmp_path: Path) -> None:
    _write(tmp_path, "A=main\n[common]\nB=main\n[pc01]\nC=main\n")
    (tmp_path / "ltsp-init.conf").write_text(
        "A=applet\n[common]\nB=applet\n[192.168.67.20]\nD=applet\n[pc01]\nC=applet\n"
    )
    ours, theirs, diffs = compare(tmp_path, applet="init", identity=PC01, is_client=True)
    assert not theirs.died
    assert diffs == []
    assert ours["A"] == "main" and ours["D"] == "applet" and ours["C"] == "main"


def test_bare_ltsp_skips_applet_sections(tmp_path: Path) -> None:
    _write(tmp_path, "[ltsp/]\nA=1\n[/]\nB=1\n[pc01]\nC=1\n")
    ours, theirs, diffs = compare(tmp_path, applet="", identity=PC01, is_client=False)
    assert not theirs.died
    assert diffs == []
    assert "A" not in ours and ours["C"] == "1"


def test_empty_identity_values_are_matched(tmp_path: Path) -> None:
    _write(tmp_path, "[clients]\nA=1\n[*]\nB=star\n[init/]\nC=1\n[init/*]\nD=1\n")
    ident = Identity("52:54:00:12:34:56", "", "")
    _ours, theirs, diffs = compare(tmp_path, applet="init", identity=ident, is_client=True)
    assert not theirs.died
    assert diffs == []
