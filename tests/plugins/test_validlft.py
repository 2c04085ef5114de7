"""validlft: expiring addresses of the boot NIC made permanent (only on a live boot)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FakeRoot, FakeRunner, apply_plugin, client_config

from ltsp_client.plugins.validlft import ValidLifetime, changes
from ltsp_client.system import ifaddr
from ltsp_client.system.ifaddr import Ipv4Address

REPO = Path(__file__).resolve().parents[2]

FOREVER = ("valid_lft", "forever", "preferred_lft", "forever")
# after dracut's DHCP (finite) and a static address (forever)
DRACUT = [
    Ipv4Address("192.168.67.20", 24, "192.168.67.255", 43187),
    Ipv4Address("10.0.0.20", 8, "10.255.255.255", ifaddr.FOREVER),
]
CHANGE = (
    "ip",
    "-4",
    "address",
    "change",
    "192.168.67.20/24",
    "broadcast",
    "192.168.67.255",
    "dev",
    "ens3",
    *FOREVER,
)
# In a new network namespace: lo with a static address and one leased for 100 s, as a
# DHCP client leaves it; then the plugin, live, with the real runner; then `ip` again.
NETNS_SCRIPT = """
set -e
ip link set lo up
ip address add 10.9.9.9/8 broadcast 10.255.255.255 dev lo valid_lft 100 preferred_lft 100
ip address add 10.7.7.7/8 dev lo
python3 - <<'PY'
import json
from pathlib import Path
from ltsp_client.pluginkit import PluginContext, StaticFacts
from ltsp_client.plugins.validlft import ValidLifetime
from ltsp_client.run import run
from ltsp_client.system.ifaddr import ipv4_addresses
from goldentree import client_config
before = [a.__dict__ for a in ipv4_addresses("lo")]
ctx = PluginContext(Path("/"), client_config(Path("{tmp}"), ""), StaticFacts(device="lo"), run)
ValidLifetime().apply(ctx)
print(json.dumps(before))
PY
ip -4 -oneline address show dev lo
"""


def in_new_netns(tmp_path: Path) -> tuple[list[dict[str, object]], str]:
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install util-linux iproute2")
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'tests/plugins'}"}
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", NETNS_SCRIPT.replace("{tmp}", str(tmp_path))],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, _, rest = done.stdout.partition("\n")
    return json.loads(first), rest


def test_finite_addresses_only() -> None:
    assert changes(DRACUT, "ens3") == [list(CHANGE)]
    assert changes([Ipv4Address("10.1.1.1", 32, "", 600)], "ens3") == [
        ["ip", "-4", "address", "change", "10.1.1.1/32", "dev", "ens3", *FOREVER]
    ]


def test_lifetimes_from_the_kernel_and_the_expiring_one_made_permanent(tmp_path: Path) -> None:
    """rtnetlink read as `ip` reads it; the plugin's `ip address change` really resets it."""
    before, after = in_new_netns(tmp_path)
    leased = [a for a in before if a["address"] == "10.9.9.9"]
    static = [a for a in before if a["address"] == "10.7.7.7"]
    assert leased and 0 < int(str(leased[0]["valid_lft"])) <= 100
    assert leased[0]["prefixlen"] == 8 and leased[0]["broadcast"] == "10.255.255.255"
    assert static and static[0]["valid_lft"] == ifaddr.FOREVER
    lines = [x for x in after.splitlines() if " inet 10." in x]
    assert len(lines) == 2 and all("valid_lft forever preferred_lft forever" in x for x in lines)


def test_a_missing_nic_has_no_addresses() -> None:
    assert ifaddr.ipv4_addresses("no-such-nic0") == []


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
