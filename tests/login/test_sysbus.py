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
        ((name, properties),) = system.systemd1.started
    assert name == "a-b.service"
    assert dict(properties) == {
        "Description": "keep é",
        "ExecStart": [[argv[0], argv, False]],
        "Nice": 19,
        "CollectMode": "inactive-or-failed",
    }


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
