"""validlft: expiring addresses of the boot NIC made permanent (only on a live boot)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FACTS, FakeRoot, FakeRunner, apply_plugin, client_config

from ltsp_client.pluginkit import PluginContext
from ltsp_client.plugins.validlft import ValidLifetime, changes
from ltsp_client.run import Result

SHOW = ("ip", "-4", "-oneline", "address", "show", "dev", "ens3")
# `ip -4 -oneline address show dev ens3` after dracut's DHCP (finite) and a static address
DRACUT = (
    "2: ens3    inet 192.168.67.20/24 brd 192.168.67.255 scope global dynamic ens3\\"
    "       valid_lft 43187sec preferred_lft 43187sec\n"
    "2: ens3    inet 10.0.0.20/8 brd 10.255.255.255 scope global ens3\\"
    "       valid_lft forever preferred_lft forever\n"
)
FOREVER = ("valid_lft", "forever", "preferred_lft", "forever")
ADDRESS = ["192.168.67.20/24", "broadcast", "192.168.67.255", "dev", "ens3"]
CHANGE = ("ip", "-4", "address", "change", *ADDRESS, *FOREVER)


def test_finite_addresses_only() -> None:
    assert changes(DRACUT, "ens3") == [list(CHANGE)]


def test_live_boot_changes_the_expiring_address(tmp_path: Path) -> None:
    """The root is `/` (the client itself): commands go through the runner, no file is written."""
    runner = FakeRunner({SHOW: Result(SHOW, 0, DRACUT, ""), CHANGE: Result(CHANGE, 0, "", "")})
    ctx = PluginContext(Path("/"), client_config(tmp_path, ""), FACTS, runner)
    assert ctx.is_live
    ValidLifetime().apply(ctx)
    assert runner.calls == [SHOW, CHANGE]


def test_not_live_runs_nothing_and_changes_nothing(
    debroot: Callable[..., Path], tmp_path: Path
) -> None:
    root = FakeRoot(debroot())
    before = root.tree()
    runner = FakeRunner()
    ctx = apply_plugin(ValidLifetime, root, client_config(tmp_path, ""), runner=runner)
    assert ctx is not None
    assert runner.calls == []
    assert root.changes_since(before) == {}


def test_fedora_ifcfg_dhcp_is_left_alone(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot())
    root.write("/etc/sysconfig/network-scripts/ifcfg-ens3", "DEVICE=ens3\nBOOTPROTO=dhcp\n")
    assert apply_plugin(ValidLifetime, root, client_config(tmp_path, "")) is None
