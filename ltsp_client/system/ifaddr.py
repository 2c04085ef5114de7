"""A NIC's IPv4 addresses and their lifetimes, by one rtnetlink dump over a plain socket.

The validlft plugin runs in the initramfs, where the network facts come from
klibc's files so that pyroute2 is never imported (system/netlink.py, about
1.5 s under TCG), and where `ip` would be one more exec in the new root. The
request and the three structures it reads are fixed by the kernel's ABI
(rtnetlink(7)): nlmsghdr, ifaddrmsg, and the IFA_CACHEINFO attribute.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from pathlib import Path

RTM_NEWADDR, RTM_GETADDR = 20, 22
NLMSG_DONE, NLMSG_ERROR = 3, 2
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_CACHEINFO = 1, 2, 4, 6
FOREVER = 0xFFFFFFFF
NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
RTATTR = struct.Struct("=HH")  # length, type


@dataclass(frozen=True)
class Ipv4Address:
    address: str
    prefixlen: int
    broadcast: str  # "" when none
    valid_lft: int  # seconds; FOREVER when it never expires

    @property
    def expires(self) -> bool:
        return self.valid_lft != FOREVER


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attributes(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    while offset + RTATTR.size <= end:
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size:
            break
        found.setdefault(kind, data[offset + RTATTR.size : offset + length])
        offset += _align(length)
    return found


def parse(data: bytes, index: int) -> tuple[list[Ipv4Address], bool]:
    """The addresses of interface `index` in one read of the dump; True when it is done."""
    out: list[Ipv4Address] = []
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, kind, _flags, _seq, _port = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size:
            break
        if kind == NLMSG_DONE:
            return out, True
        if kind == NLMSG_ERROR:
            (errno,) = struct.unpack_from("=i", data, offset + NLMSGHDR.size)
            raise OSError(-errno, "rtnetlink refused the address dump")
        body = offset + NLMSGHDR.size
        if kind == RTM_NEWADDR:
            family, prefixlen, _fl, _scope, ifindex = IFADDRMSG.unpack_from(data, body)
            if family == socket.AF_INET and ifindex == index:
                attrs = _attributes(data, body + IFADDRMSG.size, offset + length)
                raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS) or b""
                brd = attrs.get(IFA_BROADCAST, b"")
                cache = attrs.get(IFA_CACHEINFO, b"")
                out.append(
                    Ipv4Address(
                        socket.inet_ntoa(raw) if len(raw) == 4 else "",
                        prefixlen,
                        socket.inet_ntoa(brd) if len(brd) == 4 else "",
                        struct.unpack_from("=II", cache)[1] if len(cache) >= 8 else FOREVER,
                    )
                )
        offset += _align(length)
    return out, False


def ipv4_addresses(device: str, *, sys_net: Path = Path("/sys/class/net")) -> list[Ipv4Address]:
    """The IPv4 addresses of `device` with their valid lifetimes ([] if there is no such NIC)."""
    try:
        index = int((sys_net / device / "ifindex").read_text())
    except (OSError, ValueError):
        return []
    request = NLMSGHDR.pack(
        NLMSGHDR.size + IFADDRMSG.size, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0
    ) + IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
    out: list[Ipv4Address] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.sendto(request, (0, 0))
        done = False
        while not done:
            found, done = parse(sock.recv(65536), index)
            out += found
    return out
