# ruff: noqa: F821, N802, UP037  (dbus-next reads D-Bus signatures from string annotations)
"""A private dbus-daemon with stand-ins for logind and systemd's manager.

The bus is real (dbus-daemon); the two services answer the few calls
`ltsp login` makes (GetUser, User.Sessions, Session.TTY/Display,
StartTransientUnit) and emit
logind's real signals (SessionRemoved, UserRemoved), so the code under test
runs its real D-Bus path. The QEMU lab covers real logind and systemd.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dbus_next import BusType, DBusError, Variant
from dbus_next.aio import MessageBus
from dbus_next.service import PropertyAccess, ServiceInterface, dbus_property, method, signal


class User(ServiceInterface):
    def __init__(self, sessions: list[str]) -> None:
        super().__init__("org.freedesktop.login1.User")
        self.sessions = sessions

    @dbus_property(access=PropertyAccess.READ)
    def Sessions(self) -> "a(so)":
        return [[s, f"/org/freedesktop/login1/session/{s}"] for s in self.sessions]


class Session(ServiceInterface):
    def __init__(self, tty: str, display: str) -> None:
        super().__init__("org.freedesktop.login1.Session")
        self.tty = tty
        self.display = display

    @dbus_property(access=PropertyAccess.READ)
    def TTY(self) -> "s":
        return self.tty

    @dbus_property(access=PropertyAccess.READ)
    def Display(self) -> "s":
        return self.display


class Login1(ServiceInterface):
    def __init__(self, bus: MessageBus) -> None:
        super().__init__("org.freedesktop.login1.Manager")
        self.bus = bus
        self.users: dict[int, User] = {}

    @method()
    def GetUser(self, uid: "u") -> "o":
        if uid not in self.users:
            raise DBusError("org.freedesktop.login1.NoSuchUser", f"no user {uid}")
        return f"/org/freedesktop/login1/user/_{uid}"

    @signal()
    def SessionRemoved(self, sid: str, path: str) -> "so":
        return [sid, path]

    @signal()
    def UserRemoved(self, uid: int, path: str) -> "uo":
        return [uid, path]


class Systemd1(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.freedesktop.systemd1.Manager")
        self.started: list[tuple[str, list[Any]]] = []

    @method()
    def StartTransientUnit(
        self,
        name: "s",
        mode: "s",
        properties: "a(sv)",
        aux: "a(sa(sv))",
    ) -> "o":
        if any(n == name for n, _ in self.started):
            raise DBusError("org.freedesktop.systemd1.UnitExists", f"Unit {name} already exists.")
        self.started.append((name, [[k, v.value] for k, v in properties]))
        return "/org/freedesktop/systemd1/job/1"


class FakeSystem:
    """The services, driven from the test thread (calls run in the bus's loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, bus: MessageBus) -> None:
        self.loop = loop
        self.bus = bus
        self.login1 = Login1(bus)
        self.systemd1 = Systemd1()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)

    def add_session(self, uid: int, sid: str, tty: str = "", display: str = "") -> None:
        async def add() -> None:
            user = self.login1.users.get(uid)
            if user is None:
                user = self.login1.users[uid] = User([])
                self.bus.export(f"/org/freedesktop/login1/user/_{uid}", user)
            user.sessions.append(sid)
            self.bus.export(f"/org/freedesktop/login1/session/{sid}", Session(tty, display))

        self._run(add())

    def remove_session(self, uid: int, sid: str) -> None:
        async def remove() -> None:
            user = self.login1.users[uid]
            user.sessions.remove(sid)
            self.bus.unexport(f"/org/freedesktop/login1/session/{sid}")
            self.login1.SessionRemoved(sid, f"/org/freedesktop/login1/session/{sid}")
            if not user.sessions:
                del self.login1.users[uid]
                self.bus.unexport(f"/org/freedesktop/login1/user/_{uid}")
                self.login1.UserRemoved(uid, f"/org/freedesktop/login1/user/_{uid}")

        self._run(remove())


@contextmanager
def fake_system_bus(directory: Path) -> Iterator[tuple[str, FakeSystem]]:
    """(bus address, services); point DBUS_SYSTEM_BUS_ADDRESS at the address."""
    daemon = shutil.which("dbus-daemon")
    assert daemon, "dbus-daemon is missing: install scripts/deps/apt-users.txt"
    address = f"unix:path={directory / 'bus'}"
    process = subprocess.Popen(
        [daemon, "--session", "--nofork", f"--address={address}", "--print-address"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    process.stdout.readline()  # printed once it listens
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def serve() -> FakeSystem:
        bus = await MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect()
        system = FakeSystem(loop, bus)
        bus.export("/org/freedesktop/login1", system.login1)
        bus.export("/org/freedesktop/systemd1", system.systemd1)
        await bus.request_name("org.freedesktop.login1")
        await bus.request_name("org.freedesktop.systemd1")
        return system

    system = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    try:
        yield address, system
    finally:
        loop.call_soon_threadsafe(system.bus.disconnect)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        process.terminate()
        process.wait(5)


__all__ = ["FakeSystem", "Variant", "fake_system_bus"]
