"""sysbus: our blocking D-Bus call, against a real dbus-daemon (fakebus's systemd stand-in)."""

from __future__ import annotations

from pathlib import Path

import fakebus
import pytest

from ltsp_client.login import sysbus


def test_transient_unit_arrives_intact_then_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # odd lengths and non-ASCII: every string, array and struct needs its padding right
    argv = ["/usr/lib/ltsp/ltsp", "login", "--keep-home", "ζωή-ü", "x" * 7]
    with fakebus.fake_system_bus(tmp_path) as (address, system):
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        assert sysbus.start_transient_service("a-b.service", argv, "keep é") is True
        assert sysbus.start_transient_service("a-b.service", argv, "keep é") is False
        # the slice once (it exists the second time), then the service in it
        ((slice_name, slice_properties), (name, properties)) = system.systemd1.started
    assert name == "a-b.service"
    assert dict(properties) == {
        "Description": "keep é",
        "ExecStart": [[argv[0], argv, False]],
        "Nice": 19,
        "Slice": "ltsp.slice",
        "CollectMode": "inactive-or-failed",
    }
    # a top-level slice (no dash: a sibling of system.slice and user.slice) of least weight;
    # 64-bit values (D-Bus "t") arrive intact after 8-byte alignment
    assert slice_name == "ltsp.slice"
    weights = {k: v for k, v in slice_properties if k.endswith("Weight")}
    assert weights == {"CPUWeight": 1, "IOWeight": 1}


def test_uint64_marshals_aligned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fakebus.fake_system_bus(tmp_path) as (address, system):
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        big = [("Description", ("s", "x")), ("MemoryMax", ("t", 2**40 + 3))]
        sysbus.call(
            sysbus.SYSTEMD, "StartTransientUnit", "ssa(sv)a(sa(sv))", "y.slice", "fail", big, []
        )
        ((_name, properties),) = system.systemd1.started
    assert dict(properties)["MemoryMax"] == 2**40 + 3


def test_a_dbus_error_names_the_call_and_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fakebus.fake_system_bus(tmp_path) as (address, _system):
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        with pytest.raises(sysbus.BusError) as caught:
            sysbus.call(sysbus.SYSTEMD, "NoSuchMethod", "su", "x", 1)
    assert caught.value.name == "org.freedesktop.DBus.Error.UnknownMethod"
    assert "org.freedesktop.systemd1.Manager.NoSuchMethod" in str(caught.value)


def test_no_bus_is_an_os_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'none'}")
    with pytest.raises(OSError):
        sysbus.start_transient_service("x.service", ["/bin/true"], "x")
