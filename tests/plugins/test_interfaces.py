"""ifupdown's configuration read as ifupdown reads it: sources, stanzas, what is not judged."""

from __future__ import annotations

from pathlib import Path

from ltsp_client.pluginkit.interfaces import Stanza, read_interfaces

OURS = "auto lo\niface lo inet loopback\n\nauto ens3\niface ens3 inet manual\n"


def write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_what_the_ifupdown_plugin_writes_is_idle(tmp_path: Path) -> None:
    write(tmp_path, "/etc/network/interfaces", "# a comment\n" + OURS)
    config = read_interfaces(tmp_path)
    assert config.auto == {"lo", "ens3"}
    assert config.stanzas == [
        Stanza("lo", "inet", "loopback"),
        Stanza("ens3", "inet", "manual"),
    ]
    assert config.ifup_all_is_idle("ens3")
    assert not config.others("ens3")
    assert not config.ifup_all_is_idle("eth0")  # another boot NIC: ens3 is raised for nothing


def test_no_configuration_raises_nothing(tmp_path: Path) -> None:
    config = read_interfaces(tmp_path)
    assert config.ifup_all_is_idle("ens3")
    assert not config.others("ens3")


def test_options_and_commands_make_ifup_do_something(tmp_path: Path) -> None:
    for stanza in (
        "iface ens3 inet manual\n  post-up /usr/local/sbin/tune ens3\n",
        "iface ens3 inet manual\n\tmtu 9000\n",
        "iface ens3 inet dhcp\n",
        "iface ens3 inet6 auto\n",
        "iface ens3 inet manual inherits base\n",
        "iface lo inet loopback\n  up ip addr add 10.9.9.9/32 dev lo\n",
    ):
        write(tmp_path, "/etc/network/interfaces", OURS + stanza)
        assert not read_interfaces(tmp_path).ifup_all_is_idle("ens3"), stanza


def test_sources_are_followed(tmp_path: Path) -> None:
    write(tmp_path, "/etc/network/interfaces", OURS + "source extra/*.cfg\nsource-directory dir\n")
    write(tmp_path, "/etc/network/extra/wired.cfg", "auto eth1\niface eth1 inet dhcp\n")
    write(tmp_path, "/etc/network/extra/.hidden.cfg", "auto eth8\n")
    write(tmp_path, "/etc/network/extra/skipped.txt", "auto eth9\n")
    write(tmp_path, "/etc/network/dir/wifi", "allow-hotplug \\\n  wlan0\n")
    write(tmp_path, "/etc/network/dir/wifi.bak", "auto eth7\n")
    config = read_interfaces(tmp_path)
    assert config.auto == {"lo", "ens3", "eth1"}
    assert config.hotplug == {"wlan0"}
    assert config.others("ens3") == {"eth1", "wlan0"}
    assert not config.ifup_all_is_idle("ens3")


def test_interfaces_d_is_read_even_when_not_sourced(tmp_path: Path) -> None:
    """Reading more can only keep more: an image's own file usually sources it."""
    write(tmp_path, "/etc/network/interfaces", OURS)
    write(
        tmp_path, "/etc/network/interfaces.d/wifi", "allow-hotplug wlan0\niface wlan0 inet dhcp\n"
    )
    config = read_interfaces(tmp_path)
    assert config.others("ens3") == {"wlan0"}
    assert config.ifup_all_is_idle("ens3")  # hotplug NICs are udev's ifup@ units, not `ifup -a`


def test_a_source_loop_ends(tmp_path: Path) -> None:
    write(tmp_path, "/etc/network/interfaces", OURS + "source /etc/network/interfaces\n")
    assert read_interfaces(tmp_path).ifup_all_is_idle("ens3")


def test_what_cannot_be_judged_keeps_the_units(tmp_path: Path) -> None:
    for extra in (
        "mapping ens3\n  script /usr/local/bin/map\n",
        "source /etc/*/more\n",
        "source ../../outside\n",
        "rename ens3=lan0\n",
    ):
        write(tmp_path, "/etc/network/interfaces", OURS + extra)
        config = read_interfaces(tmp_path)
        assert config.unknown, extra
        assert not config.ifup_all_is_idle("ens3"), extra
