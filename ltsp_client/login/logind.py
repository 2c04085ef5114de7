"""logind and systemd over the system D-Bus: the only dbus-next user.

Sessions are followed with logind's signals (SessionRemoved, UserRemoved),
never by polling. Plain messages, no introspection: one round trip per call.
(The transient units are started by sysbus.py, without dbus-next.)
"""

from __future__ import annotations

import asyncio
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


async def _connect() -> MessageBus:
    bus: MessageBus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    return bus


Target = tuple[str, str, str]  # bus name, object path, interface
LOGIND: Target = (LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER)
BUS: Target = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


async def _call(
    bus: MessageBus, target: Target, member: str, sig: str = "", *body: Any
) -> list[Any]:
    dest, path, iface = target
    reply = await bus.call(
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


async def _session_paths(bus: MessageBus, uid: int) -> list[str]:
    """The object paths of the user's logind sessions (closing ones too); none for no such user."""
    try:
        (path,) = await _call(bus, LOGIND, "GetUser", "u", uid)
    except BusError as err:
        if err.name == NO_SUCH_USER:
            return []
        raise
    try:
        (sessions,) = await _call(
            bus, (LOGIN1, str(path), PROPERTIES), "Get", "ss", "org.freedesktop.login1.User",
            "Sessions",
        )  # fmt: skip
    except BusError as err:
        if err.name.endswith("UnknownObject") or err.name.endswith("UnknownMethod"):
            return []  # the user went away between the two calls
        raise
    return [str(session) for _, session in sessions.value]


async def _session_count(bus: MessageBus, uid: int) -> int:
    return len(await _session_paths(bus, uid))


async def _wait_no_sessions(uid: int) -> None:
    bus = await _connect()
    changed = asyncio.Event()

    def on_message(message: Message) -> None:
        if message.message_type == MessageType.SIGNAL and message.member in (
            "SessionRemoved",
            "UserRemoved",
        ):
            changed.set()

    try:
        bus.add_message_handler(on_message)
        for member in ("SessionRemoved", "UserRemoved"):
            rule = f"type='signal',sender='{LOGIN1}',interface='{LOGIN1_MANAGER}',member='{member}'"
            await _call(
                bus, BUS, "AddMatch", "s", rule,
            )  # fmt: skip
        # Subscribed first, then checked: a session ending in between is not missed.
        while await _session_count(bus, uid) > 0:
            changed.clear()
            await changed.wait()
    finally:
        bus.disconnect()  # type: ignore[no-untyped-call]


def wait_until_no_sessions(uid: int) -> None:
    """Return once the user has no logind session left (at once if none now)."""
    asyncio.run(_wait_no_sessions(uid))


async def _count(uid: int) -> int:
    bus = await _connect()
    try:
        return await _session_count(bus, uid)
    finally:
        bus.disconnect()  # type: ignore[no-untyped-call]


def session_count(uid: int) -> int:
    return asyncio.run(_count(uid))


@dataclass(frozen=True)
class Terminal:
    """Where a session shows messages: its TTY (`tty3`, `pts/1`) and/or X display (`:0`)."""

    tty: str
    display: str


async def _terminals(uid: int) -> list[Terminal]:
    bus = await _connect()
    found = []
    try:
        for path in await _session_paths(bus, uid):
            try:
                (props,) = await _call(
                    bus, (LOGIN1, path, PROPERTIES), "GetAll", "s", LOGIN1_SESSION
                )
            except BusError:
                continue  # the session ended meanwhile
            found.append(Terminal(str(props["TTY"].value), str(props["Display"].value)))
    finally:
        bus.disconnect()  # type: ignore[no-untyped-call]
    return found


def terminals(uid: int) -> list[Terminal]:
    """The TTYs and displays of the user's sessions."""
    return asyncio.run(_terminals(uid))
