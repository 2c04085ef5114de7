"""One blocking D-Bus method call on the system bus, without dbus-next or asyncio.

The session start and end only ask systemd for a transient unit. Importing
dbus-next (which imports asyncio) cost those `ltsp login` runs 110 M
instructions of their 540 M (callgrind), about a fifth of each start on an
emulated client (docs/benchmarks.md); the services that wait for logind's
signals still use logind.py. This module marshals the few D-Bus types those
calls need (y b i u t s o g a ( ) v; variants as (signature, value) pairs) and
reads only a reply's header and, for an error, its message.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Sequence
from typing import Any

from ltsp_client.errors import LtspError

SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"
TIMEOUT = 25.0
_DBUS: tuple[str, str, str] = (
    "org.freedesktop.DBus",
    "/org/freedesktop/DBus",
    "org.freedesktop.DBus",
)
_ALIGN = {"y": 1, "g": 1, "v": 1, "b": 4, "i": 4, "u": 4, "s": 4, "o": 4, "a": 4, "t": 8, "(": 8}
_METHOD_RETURN, _ERROR = 2, 3
_FIELD_ERROR_NAME, _FIELD_REPLY_SERIAL, _FIELD_SIGNATURE = 4, 5, 8


class BusError(LtspError):
    """A D-Bus call failed; `name` is the D-Bus error name."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message, hint="is systemd-logind running on the client?")
        self.name = name


def _type_end(sig: str, start: int) -> int:
    """The index after the single complete type that starts at sig[start]."""
    if sig[start] == "a":
        return _type_end(sig, start + 1)
    if sig[start] == "(":
        index = start + 1
        while sig[index] != ")":
            index = _type_end(sig, index)
        return index + 1
    return start + 1


def _split(sig: str) -> list[str]:
    types, index = [], 0
    while index < len(sig):
        end = _type_end(sig, index)
        types.append(sig[index:end])
        index = end
    return types


class _Writer:
    def __init__(self) -> None:
        self.buf = bytearray()

    def align(self, n: int) -> None:
        self.buf += bytes(-len(self.buf) % n)

    def put(self, sig: str, value: Any) -> None:
        code = sig[0]
        self.align(_ALIGN[code])
        if code == "y":
            self.buf.append(value)
        elif code in "bu":
            self.buf += struct.pack("<I", int(value))
        elif code == "i":
            self.buf += struct.pack("<i", int(value))
        elif code == "t":
            self.buf += struct.pack("<Q", int(value))
        elif code in "so":
            data = str(value).encode()
            self.buf += struct.pack("<I", len(data)) + data + b"\0"
        elif code == "g":
            self.buf += bytes([len(value)]) + value.encode() + b"\0"
        elif code == "v":
            inner, content = value
            self.put("g", inner)
            self.put(inner, content)
        elif code == "(":
            for item_sig, item in zip(_split(sig[1:-1]), value, strict=True):
                self.put(item_sig, item)
        elif code == "a":
            at = len(self.buf)
            self.buf += bytes(4)
            self.align(_ALIGN[sig[1]])
            start = len(self.buf)
            for item in value:
                self.put(sig[1:], item)
            self.buf[at : at + 4] = struct.pack("<I", len(self.buf) - start)
        else:
            raise ValueError(f"D-Bus type {code!r} is not supported here")


def _message(
    serial: int, target: tuple[str, str, str], member: str, sig: str, body: Sequence[Any]
) -> bytes:
    dest, path, iface = target
    payload = _Writer()
    for item_sig, item in zip(_split(sig), body, strict=True):
        payload.put(item_sig, item)
    fields: list[tuple[int, tuple[str, str]]] = [
        (1, ("o", path)), (2, ("s", iface)), (3, ("s", member)), (6, ("s", dest)),
    ]  # fmt: skip
    if sig:
        fields.append((_FIELD_SIGNATURE, ("g", sig)))
    header = _Writer()
    header.buf += b"l\x01\x00\x01" + struct.pack("<II", len(payload.buf), serial)
    header.put("a(yv)", fields)
    header.align(8)
    return bytes(header.buf + payload.buf)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the D-Bus connection closed")
        data += chunk
    return bytes(data)


def _string(data: bytes, offset: int, size_bytes: int) -> tuple[str, int]:
    """A string or signature at offset (already aligned): (text, offset after its NUL)."""
    fmt = "<I" if size_bytes == 4 else "<B"
    (length,) = struct.unpack_from(fmt, data, offset)
    start = offset + size_bytes
    return data[start : start + length].decode(), start + length + 1


def _reply(sock: socket.socket) -> tuple[int, dict[int, Any], bytes]:
    """The next message: (type, header fields s/o/g/u, body)."""
    fixed = _read_exactly(sock, 16)
    if fixed[0:1] != b"l":
        raise OSError("the bus answered big-endian; not supported here")
    body_len, _serial, fields_len = struct.unpack_from("<III", fixed, 4)
    rest = _read_exactly(sock, fields_len + (-(16 + fields_len) % 8) + body_len)
    data = fixed + rest
    fields: dict[int, Any] = {}
    offset = 16
    while offset < 16 + fields_len:
        offset += -offset % 8
        code = data[offset]
        sig, offset = _string(data, offset + 1, 1)
        if sig in ("s", "o"):
            offset += -offset % 4
            fields[code], offset = _string(data, offset, 4)
        elif sig == "g":
            fields[code], offset = _string(data, offset, 1)
        elif sig == "u":
            offset += -offset % 4
            (fields[code],) = struct.unpack_from("<I", data, offset)
            offset += 4
        else:
            raise OSError(f"unexpected D-Bus header field type {sig!r}")
    return fixed[1], fields, data[len(data) - body_len :]


def _connect(address: str) -> socket.socket:
    for entry in address.split(";"):
        kind, _, params = entry.partition(":")
        options = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        if kind != "unix" or not ({"path", "abstract"} & options.keys()):
            continue
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        where = options.get("path") or "\0" + options["abstract"]
        try:
            sock.connect(where)
            sock.sendall(b"\0AUTH EXTERNAL " + str(os.geteuid()).encode().hex().encode() + b"\r\n")
            answer = b""
            while not answer.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
            if not answer.startswith(b"OK "):
                raise OSError(f"D-Bus authentication refused: {answer!r}")
            sock.sendall(b"BEGIN\r\n")
        except OSError:
            sock.close()
            raise
        return sock
    raise OSError(f"no unix socket in the D-Bus address {address!r}")


def call(target: tuple[str, str, str], member: str, sig: str, *body: Any) -> bytes:
    """Call a method on the system bus; its reply body (raw); BusError on a D-Bus error."""
    address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS
    with _connect(address) as sock:
        sock.sendall(_message(1, _DBUS, "Hello", "", ()) + _message(2, target, member, sig, body))
        while True:
            kind, fields, payload = _reply(sock)
            if fields.get(_FIELD_REPLY_SERIAL) != 2 or kind not in (_METHOD_RETURN, _ERROR):
                continue  # Hello's reply, NameAcquired
            if kind == _METHOD_RETURN:
                return payload
            name = str(fields.get(_FIELD_ERROR_NAME, ""))
            text = ""
            if str(fields.get(_FIELD_SIGNATURE, "")).startswith("s"):
                text, _ = _string(payload, 0, 4)
            raise BusError(f"{target[2]}.{member}: {name}: {text}", name)


SYSTEMD: tuple[str, str, str] = (
    "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
)  # fmt: skip
UNIT_EXISTS = "org.freedesktop.systemd1.UnitExists"
BACKGROUND_NICE = 19
# a top-level slice beside system.slice and user.slice: cgroup v2 weights count between
# siblings only, so a low CPUWeight on a service inside system.slice would still leave
# system.slice its half of the CPU against user.slice, where the sessions are
BACKGROUND_SLICE = "ltsp.slice"
BACKGROUND_WEIGHT = 1  # CPUWeight= and IOWeight=: the least (the default is 100)


def start_transient_service(name: str, argv: Sequence[str], description: str) -> bool:
    """Start `argv` as the transient service NAME (collected when it ends, so logind
    neither waits for it nor kills it with the session); False if that unit already runs.

    In BACKGROUND_SLICE, at Nice=19: these are background watchers, and their start (a
    whole Python start) must not take the CPU from the session that is starting or ending
    beside them; with the cgroup cpu controller on, Nice alone does not do that."""
    _start_unit(
        BACKGROUND_SLICE,
        "ltsp: background work, the least CPU and IO weight",
        ("CPUWeight", ("t", BACKGROUND_WEIGHT)),
        ("IOWeight", ("t", BACKGROUND_WEIGHT)),
    )  # False when it exists already: made by an earlier start
    exec_start = ("ExecStart", ("a(sasb)", [(argv[0], list(argv), False)]))
    nice = ("Nice", ("i", BACKGROUND_NICE))
    return _start_unit(name, description, exec_start, nice, ("Slice", ("s", BACKGROUND_SLICE)))


def start_transient_scope(name: str, pids: Sequence[int], description: str) -> bool:
    """Move the running `pids` into the new transient scope NAME; False if it exists."""
    return _start_unit(name, description, ("PIDs", ("au", list(pids))))


def _start_unit(name: str, description: str, *what: tuple[str, tuple[str, Any]]) -> bool:
    properties = [
        ("Description", ("s", description)),
        *what,
        ("CollectMode", ("s", "inactive-or-failed")),
    ]
    try:
        call(SYSTEMD, "StartTransientUnit", "ssa(sv)a(sa(sv))", name, "fail", properties, [])
    except BusError as err:
        if err.name == UNIT_EXISTS:
            return False
        raise
    return True
