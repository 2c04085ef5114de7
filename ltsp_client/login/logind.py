"""logind over the system D-Bus: the only dbus-next user.

Sessions are followed with logind's signals (SessionRemoved, UserRemoved),
never by polling. Plain messages, no introspection: one round trip per call.
(The transient units are started by sysbus.py, without dbus-next.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbus_next.aio.message_bus import MessageBus
from dbus_next.constants import BusType, MessageType
from dbus_next.message import Message

from ltsp_client.login.sysbus import BusError

LOGIN1 = "org.freedesktop.login1"
LOGIN1_PATH = "/org/freedesktop/login1"
LOGIN1_MANAGER = "org.freedesktop.login1.Manager"
LOGIN1_SESSION = "org.freedesktop.login1.Session"
PROPERTIES = "org.freedesktop.DBus.Properties"
NO_SUCH_USER = "org.freedesktop.login1.NoSuchUser"
SESSION_SIGNALS = ("SessionRemoved", "UserRemoved")

Target = tuple[str, str, str]  # bus name, object path, interface
LOGIND: Target = (LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER)
BUS: Target = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


@dataclass(frozen=True)
class Terminal:
    """Where a session shows messages: its TTY (`tty3`, `pts/1`) and/or X display (`:0`)."""

    tty: str
    display: str


class Logind:
    """One connection to the system bus: a user's sessions, and (with `on_removed`) a
    callback for every session or user logind removes. Use `async with`."""

    def __init__(self, on_removed: Callable[[], None] | None = None) -> None:
        self.on_removed = on_removed
        self.bus: MessageBus | None = None

    async def __aenter__(self) -> Logind:
        self.bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        if self.on_removed is not None:
            self.bus.add_message_handler(self._on_message)
            for member in SESSION_SIGNALS:
                rule = f"type='signal',sender='{LOGIN1}',interface='{LOGIN1_MANAGER}'"
                await self._call(BUS, "AddMatch", "s", f"{rule},member='{member}'")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.bus is not None:
            self.bus.disconnect()  # type: ignore[no-untyped-call]

    def _on_message(self, message: Message) -> None:
        if message.message_type == MessageType.SIGNAL and message.member in SESSION_SIGNALS:
            assert self.on_removed is not None
            self.on_removed()

    async def _call(self, target: Target, member: str, sig: str = "", *body: Any) -> list[Any]:
        assert self.bus is not None, "use `async with Logind()`"
        dest, path, iface = target
        reply = await self.bus.call(
            Message(
                destination=dest, path=path, interface=iface, member=member, signature=sig,
                body=list(body),
            )
        )  # fmt: skip
        if reply is None:
            return []
        if reply.message_type == MessageType.ERROR:
            text = reply.body[0] if reply.body else ""
            raise BusError(f"{iface}.{member}: {reply.error_name}: {text}", str(reply.error_name))
        return list(reply.body)

    async def session_paths(self, uid: int) -> list[str]:
        """The object paths of the user's sessions (closing ones too); none for no such user."""
        try:
            (path,) = await self._call(LOGIND, "GetUser", "u", uid)
        except BusError as err:
            if err.name == NO_SUCH_USER:
                return []
            raise
        try:
            (sessions,) = await self._call(
                (LOGIN1, str(path), PROPERTIES), "Get", "ss", "org.freedesktop.login1.User",
                "Sessions",
            )  # fmt: skip
        except BusError as err:
            if err.name.endswith("UnknownObject") or err.name.endswith("UnknownMethod"):
                return []  # the user went away between the two calls
            raise
        return [str(session) for _, session in sessions.value]

    async def session_count(self, uid: int) -> int:
        return len(await self.session_paths(uid))

    async def terminals(self, uid: int) -> list[Terminal]:
        """The TTYs and displays of the user's sessions."""
        found = []
        for path in await self.session_paths(uid):
            try:
                (props,) = await self._call(
                    (LOGIN1, path, PROPERTIES), "GetAll", "s", LOGIN1_SESSION
                )
            except BusError:
                continue  # the session ended meanwhile
            found.append(Terminal(str(props["TTY"].value), str(props["Display"].value)))
        return found
