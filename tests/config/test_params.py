"""The parameter table: every upstream parameter of spec §2.10, typed, each declared once,
and every parameter the code reads is in it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ltsp_client.config.params import (
    KNOWN_PARAMS,
    DuplicateParamError,
    Param,
    find_param,
    register_params,
)
from ltsp_client.pluginkit import Plugin
from ltsp_client.pluginkit.base import collecting
from ltsp_client.pluginkit.loader import builtin_registry

PACKAGE = Path(__file__).resolve().parents[2] / "ltsp_client"
# Methods that read a parameter by name (Config, PluginContext, the initramfs stage).
READERS = {
    "get_str",
    "get_bool",
    "words",
    "list_values",
    "setting",
    "flag",
    "number",
    "text",
    "words_of",
    "list_of",
    "items",
    "raw",
    "value",
}
NAME = re.compile(r"[A-Z][A-Z0-9_]*")

UPSTREAM = (
    "BASE_DIR",
    "TFTP_DIR",
    "HOME_DIR",
    "OVERWRITE",
    "DEBUG_SHELL",
    "DEBUG_LOG",
    "LTSP_DEBUG",
    "LTSP_SKIP_SCRIPTS",
    "OMIT_FUNCTIONS",
    "LTSP_DIR",
    "ALL_IMAGES",
    "DEVICE",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "GATEWAY",
    "IMAGE",
    "IMAGE_TO_RAM",
    "OVERLAY",
    "READ_AHEAD_KB",
    "BLACKLIST_MODULES",
    "ADMINISTRATIVE_CLIENT",
    "SERVER",
    "HOSTNAME",
    "SEARCH_DOMAIN",
    "DNS_SERVER",
    "DNS",
    "PAM_AUTH_TYPE",
    "SSH_SERVER",
    "SSH_OPTIONS",
    "PWMERGE_SUR",
    "PWMERGE_SGR",
    "PWMERGE_DUR",
    "PWMERGE_DGR",
    "SSHFS",
    "MKHOMEDIR",
    "AUTOLOGIN",
    "RELOGIN",
    "RELOGIN_TIMEOUT",
    "GDM3_CONF",
    "LIGHTDM_CONF",
    "SDDM_CONF",
    "SLICK_CONF",
    "LTSPDM_USERS",
    "X_DRIVER",
    "X_HORIZSYNC",
    "X_VERTREFRESH",
    "X_PREFERREDMODE",
    "X_MODELINE",
    "X_VIRTUAL",
    "X_MODES",
    "MULTISEAT",
    "CUPS_SERVER",
    "IGNORE_EPOPTES",
    "REMOTEAPPS",
    "LOCAL_SWAP",
    "SYMLINK_SNAPS",
    "DISABLE_SYSTEM_SERVICES",
    "KEEP_SYSTEM_SERVICES",
    "MASK_SYSTEM_SERVICES",
    "DISABLE_SESSION_SERVICES",
    "KEEP_SESSION_SERVICES",
    "MASK_SESSION_SERVICES",
    "LANG",
    "LANGUAGE",
    "BACKUP",
    "CLEANUP",
    "IONICE",
    "KERNEL_INITRD",
    "MKSQUASHFS_PARAMS",
    "REVERT",
    "ADD_IMAGE_EXCLUDES",
    "OMIT_IMAGE_EXCLUDES",
    "RPI_IMAGE",
    "BINARIES",
    "DEFAULT_IMAGE",
    "KERNEL_PARAMETERS",
    "MENU_TIMEOUT",
    "PROXY_DHCP",
    "REAL_DHCP",
    "TFTP",
    "NFS_HOME",
    "NFS_TFTP",
    "NAT",
)
LISTS = ["CRONTAB_", "FSTAB_", "HOSTS_", "PASSWORDS_", "UDEV_SEAT_", "PRE_", "POST_", "IPXE_"]


@pytest.fixture(autouse=True)
def builtins_loaded() -> None:
    """Plugins declare their own parameters: the whole table needs them imported."""
    builtin_registry()


def test_every_upstream_parameter_is_declared_with_help() -> None:
    missing = [k for k in UPSTREAM if k not in KNOWN_PARAMS]
    assert missing == []
    assert all(KNOWN_PARAMS[k].help for k in UPSTREAM)


def test_list_prefixes() -> None:
    assert all(KNOWN_PARAMS[k].is_list for k in LISTS)
    assert find_param("CRONTAB_01") == KNOWN_PARAMS["CRONTAB_"]
    assert find_param("POST_INIT_X") == KNOWN_PARAMS["POST_"]
    assert find_param("NOT_A_PARAM") is None


def test_kinds_and_defaults() -> None:
    assert KNOWN_PARAMS["READ_AHEAD_KB"].kind == "int"
    assert KNOWN_PARAMS["READ_AHEAD_KB"].default == "128"
    assert KNOWN_PARAMS["IMAGE_TO_RAM"].kind == "bool"
    assert KNOWN_PARAMS["PAM_AUTH_TYPE"].choices == ("0", "Primary", "Additional")
    assert KNOWN_PARAMS["HOSTNAME"].default == "ltsp%{IP}"


def test_plugins_register_their_own() -> None:
    register_params([Param("ZZ_TEST_PARAM", "bool", "0", "test only")], owner="zz")
    try:
        assert find_param("ZZ_TEST_PARAM") == Param(
            "ZZ_TEST_PARAM", "bool", "0", "test only", owner="zz"
        )
    finally:
        KNOWN_PARAMS.pop("ZZ_TEST_PARAM")


def test_every_parameter_has_an_owner() -> None:
    assert [p.name for p in KNOWN_PARAMS.values() if not p.owner] == []
    assert KNOWN_PARAMS["HOSTNAME"].owner == "hostname"
    assert KNOWN_PARAMS["HOOK_TIMEOUT"].owner == "framework"
    assert KNOWN_PARAMS["REBOOT_TIMEOUT"].owner == "initrd-bottom"


def test_a_parameter_declared_twice_is_an_error() -> None:
    with pytest.raises(DuplicateParamError, match="X_DRIVER is declared by display-manager"):
        register_params([Param("X_DRIVER", "str", "", "again")], owner="display-manager")
    assert KNOWN_PARAMS["X_DRIVER"].owner == "xorg", "unchanged"


def test_a_plugin_declaring_a_table_parameter_fails_at_import() -> None:
    with collecting(), pytest.raises(DuplicateParamError, match="CRONTAB_"):

        class Cron(Plugin, name="zz-cron", order=30):
            params = (Param("CRONTAB_", help="lines for cron.d"),)


def test_the_same_owner_may_declare_again() -> None:
    """A drop-in replacing a built-in plugin of the same name, or a module imported twice."""
    before = KNOWN_PARAMS["HOSTNAME"]
    try:
        register_params([Param("HOSTNAME", default="pc%{IP}", help="x")], owner="hostname")
        assert KNOWN_PARAMS["HOSTNAME"].default == "pc%{IP}"
    finally:
        KNOWN_PARAMS["HOSTNAME"] = before


def test_list_names_and_kinds_are_checked() -> None:
    assert Param("ZZ_").is_list
    with pytest.raises(ValueError, match="ends in `_`"):
        Param("ZZ", is_list=True)
    with pytest.raises(ValueError, match="kind"):
        Param("ZZ", kind="float")  # type: ignore[arg-type]


def reads() -> list[tuple[str, int, str]]:
    """(file, line, NAME) of every literal parameter name passed to a reader method."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in READERS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and NAME.fullmatch(node.args[0].value)
            ):
                found.append((str(path.relative_to(PACKAGE)), node.lineno, node.args[0].value))
    return found


def test_every_parameter_the_code_reads_is_declared() -> None:
    found = reads()
    assert {name for _, _, name in found} >= {"HOOK_TIMEOUT", "REBOOT_TIMEOUT", "HOSTNAME"}
    assert [r for r in found if find_param(r[2]) is None] == []
