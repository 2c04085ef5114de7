"""The parameter table: every upstream parameter of spec §2.10, typed."""

from __future__ import annotations

from ltsp_client.config.params import KNOWN_PARAMS, Param, find_param, register_params

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
    register_params([Param("ZZ_TEST_PARAM", "bool", "0", "test only")])
    try:
        assert find_param("ZZ_TEST_PARAM") is not None
    finally:
        KNOWN_PARAMS.pop("ZZ_TEST_PARAM")
