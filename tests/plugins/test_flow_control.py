"""The flow-control plugin (service stage): ethtool through the runner, on a fake sysfs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from goldentree import FakeRoot, FakeRunner, apply_plugin, client_config

from ltsp_client.plugins.flow_control import FlowControl
from ltsp_client.run import Result

ETHTOOL = "/usr/sbin/ethtool"


def pause(nic: str, rx: str) -> str:
    return f"Pause parameters for {nic}:\nAutonegotiate:\ton\nRX:\t\t{rx}\nTX:\t\t{rx}\n"


def show(nic: str, rx: str) -> tuple[tuple[str, ...], Result]:
    argv = (ETHTOOL, "--show-pause", nic)
    return argv, Result(argv, 0, pause(nic, rx), "")


class Sequenced(FakeRunner):
    """A FakeRunner whose answers to one command change after each call."""

    def __init__(self, answers: dict[tuple[str, ...], list[Result]]) -> None:
        super().__init__()
        self.answers = answers

    def __call__(self, argv, **kwargs):  # type: ignore[no-untyped-def]
        key = tuple(argv)
        queue = self.answers.get(key)
        if queue:
            self.expected[key] = queue.pop(0) if len(queue) > 1 else queue[0]
        return super().__call__(argv, **kwargs)


@pytest.fixture
def machine(fake_root: FakeRoot) -> FakeRoot:
    fake_root.write("/sys/class/net/enp1s0/device/vendor", "0x8086\n")
    fake_root.write("/sys/class/net/enp2s0/device/vendor", "0x10ec\n")
    fake_root.write("/sys/class/net/lo/type", "772\n")  # no device: skipped
    return fake_root


def test_autoneg_off_then_on(
    machine: FakeRoot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    machine.write(ETHTOOL, "", 0o755)
    off = (ETHTOOL, "--pause", "enp1s0", "autoneg", "off", "rx", "off")
    on = (ETHTOOL, "--pause", "enp1s0", "autoneg", "on", "rx", "off")
    off2 = (ETHTOOL, "--pause", "enp2s0", "autoneg", "off", "rx", "off")
    runner = Sequenced(
        {
            show("enp1s0", "on")[0]: [show("enp1s0", r)[1] for r in ("on", "on", "off")],
            show("enp2s0", "on")[0]: [show("enp2s0", r)[1] for r in ("on", "off")],
            off: [Result(off, 0, "", "")],
            on: [Result(on, 0, "", "")],
            off2: [Result(off2, 0, "", "")],
        }
    )
    config = client_config(tmp_path, "[clients]\n", applet="service")
    with caplog.at_level(logging.INFO):
        apply_plugin(FlowControl, machine, config, runner=runner, stage="service")
    assert runner.calls == [
        show("enp1s0", "")[0], off, show("enp1s0", "")[0], on, show("enp1s0", "")[0],
        show("enp2s0", "")[0], off2, show("enp2s0", "")[0],
    ]  # fmt: skip
    assert "flow control on enp1s0: turned off (autoneg on rx off)" in caplog.text
    assert "flow control on enp2s0: turned off (autoneg off rx off)" in caplog.text


def test_already_off_and_refused(
    machine: FakeRoot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    machine.write(ETHTOOL, "", 0o755)
    tries = [(ETHTOOL, "--pause", "enp2s0", "autoneg", a, "rx", "off") for a in ("off", "on")]
    runner = FakeRunner(
        {
            show("enp1s0", "")[0]: show("enp1s0", "off")[1],
            show("enp2s0", "")[0]: show("enp2s0", "on")[1],
            **{t: Result(t, 76, "", "Cannot set device pause parameters") for t in tries},
        }
    )
    config = client_config(tmp_path, "[clients]\n", applet="service")
    with caplog.at_level(logging.INFO):
        apply_plugin(FlowControl, machine, config, runner=runner, stage="service")
    assert "flow control on enp1s0: already off" in caplog.text
    assert "flow control on enp2s0: still on: the NIC refused every setting" in caplog.text


MII = """\
enp1s0: negotiated 100baseTx-FD flow-control, link ok
  product info: vendor 00:aa:00, model 56 rev 0
  basic mode:   autonegotiation enabled
  basic status: autonegotiation complete, link ok
  capabilities: 100baseTx-FD 100baseTx-HD 10baseT-FD 10baseT-HD
  advertising:  100baseTx-FD 100baseTx-HD 10baseT-FD 10baseT-HD flow-control
  link partner: 100baseTx-FD 100baseTx-HD 10baseT-FD 10baseT-HD flow-control
"""


def test_mii_tool_without_ethtool(
    machine: FakeRoot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    machine.write("/usr/sbin/mii-tool", "", 0o755)
    mii = "/usr/sbin/mii-tool"
    advertise = (mii, "-A", "100baseTx-FD,100baseTx-HD,10baseT-FD,10baseT-HD", "enp1s0")
    runner = FakeRunner(
        {
            (mii, "-v", "enp1s0"): Result((), 0, MII, ""),
            (mii, "-v", "enp2s0"): Result((), 0, MII.replace(" flow-control", ""), ""),
            advertise: Result(advertise, 0, "", ""),
        }
    )
    config = client_config(tmp_path, "[clients]\n", applet="service")
    with caplog.at_level(logging.INFO):
        apply_plugin(FlowControl, machine, config, runner=runner, stage="service")
    assert advertise in runner.calls
    assert "flow control on enp1s0: turned off (mii-tool)" in caplog.text
    assert "flow control on enp2s0: already off (mii-tool)" in caplog.text


def test_without_ethtool_it_says_so(
    machine: FakeRoot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = client_config(tmp_path, "[clients]\n", applet="service")
    apply_plugin(FlowControl, machine, config, stage="service")  # any command would fail
    assert "neither ethtool nor mii-tool is in the image" in caplog.text
    assert "enp1s0 enp2s0" in caplog.text


def test_not_needed_without_physical_nics(fake_root: FakeRoot, tmp_path: Path) -> None:
    fake_root.write("/sys/class/net/lo/type", "772\n")
    config = client_config(tmp_path, "[clients]\n", applet="service")
    assert apply_plugin(FlowControl, fake_root, config, stage="service") is None
