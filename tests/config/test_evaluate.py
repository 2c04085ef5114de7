"""One test per evaluation rule of spec §2.4-§2.7 (each quirk on its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsp_client.config import Identity, Origin, evaluate
from ltsp_client.errors import ConfigError

from .helpers import PC01, ev


def test_missing_ltsp_conf_gives_an_empty_config(tmp_path: Path) -> None:
    config = evaluate(applet="init", identity=PC01, is_client=True, config_dir=tmp_path)
    assert dict(config) == {} and config.sections_run == ()


def test_only_assigned_variables_are_returned_not_the_environment(tmp_path: Path) -> None:
    config = ev(tmp_path, "A=$HOME\n")
    assert dict(config) == {"A": "/root"}


def test_unnamed_part_is_evaluated_first(tmp_path: Path) -> None:
    config = ev(tmp_path, "A=top\n[clients]\nB=$A\n")
    assert config["B"] == "top" and config.sections_run[:2] == ("unnamed", "clients")


def test_common_is_applied_after_clients(tmp_path: Path) -> None:
    config = ev(tmp_path, "[common]\nA=common\n[clients]\nA=clients\n")
    assert config["A"] == "common"


def test_server_section_only_on_the_server(tmp_path: Path) -> None:
    text = "[server]\nA=server\n[clients]\nB=clients\n"
    assert dict(ev(tmp_path, text, applet="dnsmasq", is_client=False)) == {"A": "server"}
    assert dict(ev(tmp_path, text, applet="dnsmasq", is_client=True)) == {"B": "clients"}


def test_server_section_is_never_evaluated_on_a_client_even_for_server_applets(
    tmp_path: Path,
) -> None:
    # upstream's latent bug (§2.4.7), kept: a server applet on a client skips [server]
    assert "A" not in ev(tmp_path, "[server]\nA=1\n", applet="image", is_client=True)


def test_mac_section_applies_to_the_server_too(tmp_path: Path) -> None:
    config = ev(tmp_path, "[52:54:00:12:34:56]\nA=mac\n", applet="dnsmasq", is_client=False)
    assert config["A"] == "mac"


def test_precedence_mac_ip_hostname_then_applet_sections(tmp_path: Path) -> None:
    text = (
        "[init/pc01]\nA=init-host\n[init/192.168.67.20]\nA=init-ip\nB=init-ip\n"
        "[init/52:54:00:12:34:56]\nA=init-mac\nB=init-mac\nC=init-mac\n"
        "[init/]\nA=init\nB=init\nC=init\nD=init\n"
        "[pc01]\nA=host\nB=host\nC=host\nD=host\nE=host\n"
        "[192.168.67.20]\nA=ip\nB=ip\nC=ip\nD=ip\nE=ip\nF=ip\n"
        "[52:54:00:12:34:56]\nA=mac\nB=mac\nC=mac\nD=mac\nE=mac\nF=mac\nG=mac\n"
    )
    config = ev(tmp_path, text)
    assert [config[k] for k in "ABCDEFG"] == [
        "init-host",
        "init-ip",
        "init-mac",
        "init",
        "host",
        "ip",
        "mac",
    ]


def test_only_the_first_matching_section_runs_per_value(tmp_path: Path) -> None:
    config = ev(tmp_path, "[52:54:00:*]\nA=wild\n[52:54:00:12:34:56]\nA=exact\nB=1\n")
    assert config["A"] == "wild" and "B" not in config


def test_alternatives_with_pipe(tmp_path: Path) -> None:
    assert ev(tmp_path, "[10.0.0.1|192.168.67.*]\nA=1\n")["A"] == "1"


def test_question_mark_matches_one_character(tmp_path: Path) -> None:
    assert ev(tmp_path, "[pc0?]\nA=1\n[pc?]\nB=1\n").get_str("B") == ""
    assert ev(tmp_path, "[pc0?]\nA=1\n")["A"] == "1"


def test_section_runs_once_even_if_matched_again(tmp_path: Path) -> None:
    # [*] matches "unnamed"? no: unnamed is special; it matches clients, common, MAC...
    config = ev(tmp_path, "[*]\nN=${N}x\n[common]\nC=1\n")
    assert config["N"] == "x" and "C" not in config


def test_include_runs_inline_so_later_lines_override(tmp_path: Path) -> None:
    text = "[pc01]\nA=before\nINCLUDE=extra\nB=after\n[extra]\nA=extra\nB=extra\n"
    config = ev(tmp_path, text)
    assert (config["A"], config["B"]) == ("extra", "after")


def test_include_goes_through_pattern_matching(tmp_path: Path) -> None:
    config = ev(tmp_path, "[f*]\nA=pattern\n[foo]\nA=foo\n[pc01]\nINCLUDE=foo\n")
    assert config["A"] == "pattern"


def test_include_twice_runs_once(tmp_path: Path) -> None:
    config = ev(tmp_path, "[pc01]\nINCLUDE=x\nINCLUDE=x\n[x]\nN=${N}x\n")
    assert config["N"] == "x"


def test_include_value_is_normalised_like_a_header(tmp_path: Path) -> None:
    assert ev(tmp_path, '[pc01]\ninclude = "Crt Monitor" # old\n[crtmonitor]\nA=1\n')["A"] == "1"


def test_hostname_set_by_a_mac_section_selects_hostname_sections(tmp_path: Path) -> None:
    text = "[52:54:00:12:34:56]\nHOSTNAME=lab07\n[pc01]\nA=old\n[lab07]\nA=new\n[init/lab07]\nB=1\n"
    config = ev(tmp_path, text)
    assert (config["HOSTNAME"], config["A"], config["B"]) == ("lab07", "new", "1")


def test_empty_values_are_still_matched(tmp_path: Path) -> None:
    config = ev(tmp_path, "[clients]\n[*]\nA=star\n", identity=Identity("", "", ""))
    assert config["A"] == "star"


def test_applet_sections_need_an_applet(tmp_path: Path) -> None:
    assert "A" not in ev(tmp_path, "[ltsp/]\nA=1\n[/]\nA=2\n", applet="")
    assert "A" not in ev(tmp_path, "[ltsp/]\nA=1\n[/]\nA=2\n", applet="ltsp")
    assert ev(tmp_path, "[service/]\nA=1\n", applet="service")["A"] == "1"


def test_applet_conf_is_evaluated_after_with_the_shared_guard(tmp_path: Path) -> None:
    config = ev(
        tmp_path,
        "A=main\n[pc01]\nB=main\n",
        applet_conf="A=applet\n[pc01]\nB=applet\n[192.168.67.20]\nC=applet\n",
    )
    assert (config["A"], config["B"], config["C"]) == ("main", "main", "applet")


def test_applet_conf_alone_is_evaluated(tmp_path: Path) -> None:
    (tmp_path / "ltsp-init.conf").write_text("[clients]\nA=1\n")
    config = evaluate(applet="init", identity=PC01, is_client=True, config_dir=tmp_path)
    assert config["A"] == "1"


def test_duplicate_section_name_runs_the_last_definition(tmp_path: Path) -> None:
    config = ev(tmp_path, "[pc01]\nA=first\nB=first\n[pc01]\nA=second\n")
    assert config["A"] == "second" and "B" not in config


def test_sections_with_the_same_function_name_collide(tmp_path: Path) -> None:
    # [a-b] and [a_b] both become section_a_b: the later body wins for both patterns
    config = ev(tmp_path, "[pc01]\nINCLUDE=a-b\n[a-b]\nA=dash\n[a_b]\nA=underscore\n")
    assert config["A"] == "underscore"


def test_a_section_named_unnamed_replaces_the_top_part(tmp_path: Path) -> None:
    config = ev(tmp_path, "A=top\n[unnamed]\nB=named\n")
    assert "A" not in config and config["B"] == "named"


def test_section_named_list_never_runs(tmp_path: Path) -> None:
    assert "A" not in ev(tmp_path, "[pc01]\nINCLUDE=list\n[list]\nA=1\n")


def test_section_named_call_is_an_error_when_reached(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="call"):
        ev(tmp_path, "[pc01]\nINCLUDE=call\n[call]\nA=1\n")


def test_guard_variable_set_by_the_admin_skips_a_section(tmp_path: Path) -> None:
    assert "A" not in ev(tmp_path, "section_pc01=1\n[pc01]\nA=1\n")


def test_uppercase_hostname_matches_lowercase_section(tmp_path: Path) -> None:
    # our decision (docs/compatibility.md): upstream never matches an uppercase hostname
    ident = Identity("52:54:00:12:34:56", "192.168.67.20", "PC01")
    config = ev(tmp_path, "[pc01]\nA=1\n[init/pc01]\nB=1\n", identity=ident)
    assert (config["A"], config["B"]) == ("1", "1")
    assert "HOSTNAME" not in config  # the value itself is not changed


def test_uppercase_mac_matches(tmp_path: Path) -> None:
    ident = Identity("52:54:00:AB:CD:EF", "", "")
    assert ev(tmp_path, "[52:54:00:ab:cd:ef]\nA=1\n", identity=ident)["A"] == "1"


def test_values_expand_with_the_values_current_at_that_point(tmp_path: Path) -> None:
    config = ev(tmp_path, "A=1\nB=$A\nA=2\nC=${A}\n[pc01]\nD=$A$IP_ADDRESS\n")
    assert (config["B"], config["C"], config["D"]) == ("1", "2", "2192.168.67.20")


def test_defaults_of_the_directories_are_visible(tmp_path: Path) -> None:
    assert ev(tmp_path, "A=$BASE_DIR/images\n")["A"] == "/srv/ltsp/images"


def test_percent_is_kept_for_later(tmp_path: Path) -> None:
    assert ev(tmp_path, "HOSTNAME=pc%{IP}\n")["HOSTNAME"] == "pc%{IP}"


def test_list_params_sorted_by_name_and_emptied_by_later_sections(tmp_path: Path) -> None:
    text = "[clients]\nCRONTAB_02=b\nCRONTAB_01=a\nCRONTAB_10=c\n[pc01]\nCRONTAB_02=\n"
    assert ev(tmp_path, text).list_values("CRONTAB_") == ["a", "c"]


def test_pre_and_post_params_are_plain_values(tmp_path: Path) -> None:
    config = ev(tmp_path, '[init/]\nPOST_INIT_X="section_fix"\nPRE_INIT_A="echo a"\n')
    assert config.list_values("POST_INIT_") == ["section_fix"]
    assert config["PRE_INIT_A"] == "echo a"


def test_omit_functions_is_kept_as_a_value(tmp_path: Path) -> None:
    config = ev(tmp_path, '[clients]\nOMIT_FUNCTIONS="pam_main local_swap"\n')
    assert config.words("OMIT_FUNCTIONS") == ["pam_main", "local_swap"]


def test_kernel_vars_are_applied_last(tmp_path: Path) -> None:
    config = ev(
        tmp_path,
        "IMAGE=a\n[initrd-bottom/]\nIMAGE=b\n",
        applet="initrd-bottom",
        kernel_vars={"IMAGE": "c"},
    )
    assert config["IMAGE"] == "c"
    assert config.origins["IMAGE"].file == "/proc/cmdline"


def test_origins_name_file_line_and_section(tmp_path: Path) -> None:
    config = ev(tmp_path, "A=1\n[pc01]\n\nA=2\n")
    assert config.origins["A"] == Origin(str(tmp_path / "ltsp.conf"), 4, "pc01")


def test_assigned_keeps_assignment_order(tmp_path: Path) -> None:
    assert list(ev(tmp_path, "B=1\nA=1\nB=2\n")) == ["A", "B"]


def test_section_bodies_keep_shell_for_hooks(tmp_path: Path) -> None:
    config = ev(tmp_path, "[fix]\nsed -i s/a/b/ /etc/x\nA = 1\nINCLUDE = other\n")
    assert config.section_bodies["fix"] == 'sed -i s/a/b/ /etc/x\nA=1\nsection_call "other"'
    assert "fix" not in config.sections_run


def test_raw_shell_lines_are_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    config = ev(tmp_path, f"touch {marker}\nA=$(touch {marker})\nB=`touch {marker}`\n")
    assert not marker.exists()
    assert config["A"] == f"$(touch {marker})"


def test_unquoted_space_assigns_nothing(tmp_path: Path) -> None:
    # the shell would run `baz` with A=bar in its environment only
    assert "A" not in ev(tmp_path, "A=bar baz\nB=1\n")


def test_indented_assignments_are_read_in_a_section_without_commands(tmp_path: Path) -> None:
    config = ev(tmp_path, "[pc01]\n  A=1\n\tB=$A; C=2 # c\n  # note\n\n  INCLUDE=x\n[x]\nD=1\n")
    assert dict(config) == {"A": "1", "B": "1", "C": "2", "INCLUDE": "x"}


@pytest.mark.parametrize("command", ["echo hi", "if true; then", "  A='open", "\t[ -f x ] && A=3"])
def test_indented_assignments_are_not_read_next_to_shell_commands(
    tmp_path: Path, command: str
) -> None:
    assert "A" not in ev(tmp_path, f"[pc01]\n  A=1\n{command}\n  A=2\n")


def test_positional_parameters_are_the_dispatched_values(tmp_path: Path) -> None:
    config = ev(tmp_path, '[init/]\nA="$1 $#"\n')
    assert config["A"] == "init/ 4"


def test_upstream_local_names_are_forgotten(tmp_path: Path) -> None:
    config = ev(tmp_path, "config=1\nsection=2\nB=$applet\n")
    assert dict(config) == {"B": "init"}


def test_assignment_in_a_parameter_expansion(tmp_path: Path) -> None:
    config = ev(tmp_path, "A=${B:=dflt}\n")
    assert (config["A"], config["B"]) == ("dflt", "dflt")


def test_unset_required_parameter_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ev(tmp_path, "\nA=${NOPE?set NOPE first}\n")
    assert info.value.line == 2


def test_environment_is_read_from_the_process_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LTSP_TEST_VALUE", "fromenv")
    (tmp_path / "ltsp.conf").write_text("A=$LTSP_TEST_VALUE\n")
    config = evaluate(applet="init", identity=PC01, is_client=True, config_dir=tmp_path)
    assert config["A"] == "fromenv"


def test_indented_multiline_value(tmp_path: Path) -> None:
    config = ev(tmp_path, '[pc01]\n  A="one\n  two"\n  B=$A\n')
    assert (config["A"], config["B"]) == ("one\n  two", "one\n  two")
    assert config.origins["B"].line == 4
