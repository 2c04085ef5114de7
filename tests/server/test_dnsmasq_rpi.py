"""`ltsp dnsmasq` answers a Raspberry Pi's PXE request: the generated config in a real
dnsmasq, asked by busybox udhcpc sending what the Pi bootloaders send (vendor class
PXEClient:Arch:00000, client-arch 0) from each Pi MAC prefix, in a network namespace."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_dnsmasq import generate

from ltsp_client.server import dnsmasq

RPI_MENU_HEX = b"Raspberry Pi Boot   ".hex()
# dump what the DHCP answer carried (udhcpc passes unknown options as optNN=hex)
DUMP = '#!/bin/sh\n[ "$1" = bound ] && env > "$(dirname "$0")/answer-$ANSWER"\nexit 0\n'
PC_MAC = "52:54:00:12:34:56"


def ask(tmp_path: Path, conf: Path, macs: list[str]) -> dict[str, dict[str, str]]:
    """One DHCP exchange per MAC with the generated config; each client's view of it."""
    for tool in ("dnsmasq", "busybox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: install it (scripts/deps/apt-base.txt)")
    script = tmp_path / "dump.sh"
    script.write_text(DUMP)
    script.chmod(0o755)
    clients = "".join(
        f"""
ip link set lb down && ip link set lb address {mac} && ip link set lb up
ANSWER={number} busybox udhcpc -i lb -n -q -f -t 5 -T 1 -s {script} -O 43 \\
    -V PXEClient:Arch:00000:UNDI:002001 -x 0x5d:0000 || true
"""
        for number, mac in enumerate(macs)
    )
    shell = f"""
ip link add la type veth peer name lb
ip link set la up
ip addr add 192.168.67.1/24 dev la
dnsmasq --conf-file={conf} --pid-file={tmp_path}/pid --dhcp-leasefile={tmp_path}/leases \\
    --user=root --group=root --interface=la --bind-interfaces --no-ping
trap 'kill $(cat {tmp_path}/pid)' EXIT
export ANSWER
{clients}"""
    result = subprocess.run(
        ["unshare", "-n", "sh", "-ec", shell],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    answers = {}
    for number, mac in enumerate(macs):
        answer = tmp_path / f"answer-{number}"
        assert answer.exists(), f"{mac}: no answer\n{result.stdout}{result.stderr}"
        lines = answer.read_text().splitlines()
        answers[mac] = dict(line.split("=", 1) for line in lines if "=" in line)
    return answers


def test_every_raspberry_pi_oui_gets_the_pi_boot_menu_and_a_pc_does_not(
    tmp_path: Path,
) -> None:
    generate(tmp_path, "", "--dns-server=192.0.2.53")
    pis = [f"{oui}:12:34:56" for oui in dnsmasq.RPI_OUIS]
    answers = ask(tmp_path, tmp_path / "root" / dnsmasq.CONF_PATH, [*pis, PC_MAC])
    for mac in pis:
        got = answers[mac]
        assert got["ip"].startswith("192.168.67."), (mac, got)
        assert RPI_MENU_HEX in got.get("opt43", ""), (mac, got)  # the PXE menu, option 43
        assert got["siaddr"] == "192.168.67.1", (mac, got)  # the TFTP server it then asks
    pc = answers[PC_MAC]
    assert RPI_MENU_HEX not in pc.get("opt43", ""), pc
    assert pc["boot_file"] == "ltsp/undionly.kpxe", pc
