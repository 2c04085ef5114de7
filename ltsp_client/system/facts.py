"""Network facts every client stage starts from (upstream's network_vars, §2.9.1).

The boot NIC is the one the kernel routes 192.168.67.1 through (the usual LTSP
server address), else 192.168.67.2; failing that, the first interface backed by
a device. klibc `ipconfig` results (/run/net-DEV.conf) are read when present.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ltsp_client.errors import LtspError

PROBE_ADDRESSES = ("192.168.67.1", "192.168.67.2")
# The initramfs stage leaves its facts here; /run moves into the new root, so pid 1
# reuses them instead of importing pyroute2 again (about 1.5 s on a slow client).
FACTS_CACHE = Path("/run/ltsp/facts.json")


@dataclass(frozen=True)
class NetworkFacts:
    device: str
    ip_address: str
    prefixlen: int
    mac_address: str
    gateway: str
    hostname: str
    ipconfig: Mapping[str, str] = field(default_factory=dict)  # /run/net-DEV.conf, if any

    def as_vars(self) -> dict[str, str]:
        """The ltsp.conf-visible names (DEVICE, IP_ADDRESS, MAC_ADDRESS, GATEWAY, HOSTNAME)."""
        values = {
            "DEVICE": self.device,
            "IP_ADDRESS": self.ip_address,
            "MAC_ADDRESS": self.mac_address,
            "GATEWAY": self.gateway,
        }
        if self.hostname:
            values["HOSTNAME"] = self.hostname
        return values


def read_ipconfig(device: str, run_dir: Path = Path("/run")) -> dict[str, str]:
    """KEY='value' lines of klibc ipconfig's /run/net-DEV.conf ({} if absent)."""
    path = run_dir / f"net-{device}.conf"
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return values
    for line in text.splitlines():
        key, eq, raw = line.strip().partition("=")
        if not eq or not key.isidentifier():
            continue
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw]
        values[key] = " ".join(words)
    return values


def _device_interfaces(sys_net: Path) -> list[str]:
    try:
        return sorted(p.name for p in sys_net.iterdir() if (p / "device").exists())
    except OSError:
        return []


def _kernel_hostname() -> str:
    name = os.uname().nodename
    return "" if name in ("", "(none)", "localhost") else name


def network_facts(
    environ: Mapping[str, str] | None = None,
    *,
    run_dir: Path = Path("/run"),
    sys_net: Path = Path("/sys/class/net"),
) -> NetworkFacts:
    """Detect the boot NIC and its addresses; DEVICE/IP_ADDRESS/MAC_ADDRESS in `environ` win."""
    from ltsp_client.system.netlink import Netlink

    env = os.environ if environ is None else environ
    preset = all(env.get(k) for k in ("DEVICE", "IP_ADDRESS", "MAC_ADDRESS"))
    device = ip_address = gateway = ""
    prefixlen = 0
    with Netlink() as nl:
        if preset:
            device, ip_address = env["DEVICE"], env["IP_ADDRESS"]
            gateway = env.get("GATEWAY", "")
        else:
            for destination in PROBE_ADDRESSES:
                route = nl.route_get(destination)
                if route is None or route.device in ("", "lo"):
                    continue
                device, ip_address = route.device, route.source
                # upstream's GATEWAY: the next hop towards the address, itself when on-link
                gateway = route.gateway or destination
                if route.local or ip_address == PROBE_ADDRESSES[0]:
                    gateway = PROBE_ADDRESSES[0]  # we are the server: learn the real NIC next
                    continue
                break
            if not ip_address:
                device = next(iter(_device_interfaces(sys_net)), device)
        mac = env["MAC_ADDRESS"] if preset else nl.mac_address(device) if device else ""
        for address in nl.ipv4_addresses(device) if device else []:
            if address.address == ip_address:
                prefixlen = address.prefixlen
    if not mac:
        raise LtspError(
            "cannot find the MAC address of the boot network interface"
            + (f" {device}" if device else ""),
            hint="check that the network card driver is in the initramfs and the cable is plugged",
        )
    ipconfig = read_ipconfig(device, run_dir) if device else {}
    hostname = env.get("HOSTNAME") or _kernel_hostname() or ipconfig.get("HOSTNAME", "")
    return NetworkFacts(
        device=device,
        ip_address=ip_address,
        prefixlen=prefixlen,
        mac_address=mac.lower(),
        gateway=gateway,
        hostname=hostname,
        ipconfig=ipconfig,
    )


def _sysfs_mac(sys_net: Path, device: str) -> str:
    return (sys_net / device / "address").read_text(encoding="ascii").strip().lower()


def save_facts(facts: NetworkFacts, path: Path = FACTS_CACHE) -> None:
    """Record the facts for the next stage; a read-only /run only costs that stage time."""
    record = {**asdict(facts), "ipconfig": dict(facts.ipconfig)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, sort_keys=True) + "\n", encoding="utf-8")
    except OSError:
        pass


def cached_facts(
    path: Path = FACTS_CACHE, *, sys_net: Path = Path("/sys/class/net")
) -> NetworkFacts | None:
    """The previous stage's facts, if its NIC still has the recorded MAC; else None."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        device = str(record["device"])
        mac = _sysfs_mac(sys_net, device)
        if not device or mac != record["mac_address"]:
            return None
        return NetworkFacts(
            device=device,
            ip_address=str(record["ip_address"]),
            prefixlen=int(record["prefixlen"]),
            mac_address=mac,
            gateway=str(record["gateway"]),
            hostname=str(record["hostname"]),
            ipconfig={str(k): str(v) for k, v in dict(record["ipconfig"]).items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _prefixlen(netmask: str) -> int:
    try:
        return sum(bin(int(octet)).count("1") for octet in netmask.split("."))
    except ValueError:
        return 0


def next_hop(address: str, prefixlen: int, router: str) -> str:
    """Upstream's GATEWAY without a route lookup: the next hop towards 192.168.67.1.

    That is 192.168.67.1 itself when it is on the client's subnet (the LTSP
    subnet), else the DHCP router (ipconfig writes 0.0.0.0 for none).
    """
    try:
        subnet = ipaddress.IPv4Network(f"{address}/{prefixlen}", strict=False)
        on_link = prefixlen > 0 and ipaddress.IPv4Address(PROBE_ADDRESSES[0]) in subnet
    except ValueError:
        on_link = False
    if on_link:
        return PROBE_ADDRESSES[0]
    return "" if router == "0.0.0.0" else router


def facts_from_ipconfig(
    environ: Mapping[str, str] | None = None,
    *,
    run_dir: Path = Path("/run"),
    sys_net: Path = Path("/sys/class/net"),
) -> NetworkFacts | None:
    """The boot NIC as klibc ipconfig configured it, without netlink; None if unclear.

    Inside an initramfs-tools initramfs this is the same NIC that the route
    lookup of network_facts() finds, and it avoids importing pyroute2
    (about 1.5 s on a slow or emulated client).
    """
    env = os.environ if environ is None else environ
    if all(env.get(k) for k in ("DEVICE", "IP_ADDRESS", "MAC_ADDRESS")):
        return None  # preset by the admin: network_facts() honours it
    configs = sorted(run_dir.glob("net-*.conf"))
    if len(configs) != 1:
        return None
    device = configs[0].name[len("net-") : -len(".conf")]
    if env.get("DEVICE") not in (None, "", device):
        return None
    ipconfig = read_ipconfig(device, run_dir)
    address = ipconfig.get("IPV4ADDR", "")
    try:
        mac = _sysfs_mac(sys_net, device)
    except OSError:
        return None
    if not address or not mac:
        return None
    prefixlen = _prefixlen(ipconfig.get("IPV4NETMASK", ""))
    return NetworkFacts(
        device=device,
        ip_address=address,
        prefixlen=prefixlen,
        mac_address=mac,
        gateway=next_hop(address, prefixlen, ipconfig.get("IPV4GATEWAY", "")),
        hostname=env.get("HOSTNAME") or _kernel_hostname() or ipconfig.get("HOSTNAME", ""),
        ipconfig=ipconfig,
    )


def client_facts(
    *,
    mac: str,
    address: str,
    hostname: str = "",
    server: str = "",
    dns: tuple[str, ...] = (),
    device: str = "eth0",
) -> NetworkFacts:
    """The facts a client with this MAC and IP/PREFIX would learn from DHCP, without a network.

    For `ltsp init --root DIR`: the server and the gateway default to the first
    address of the subnet (.1 on a /24), DNS to the server, as on an LTSP
    subnet; they appear in `ipconfig` as klibc's DHCP client records them.
    """
    normal = mac.strip().lower().replace("-", ":")
    if not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", normal):
        raise LtspError(f"not a MAC address: {mac!r}", hint="write it as 52:54:00:12:34:56")
    try:
        if "/" not in address:
            raise ValueError("no prefix")
        interface = ipaddress.IPv4Interface(address)
        first = str(interface.network.network_address + 1)
        server = str(ipaddress.IPv4Address(server)) if server else first
        servers = tuple(str(ipaddress.IPv4Address(d)) for d in dns) or (server,)
    except ValueError as exc:
        raise LtspError(
            f"not an IPv4 address: {exc}", hint="write --ip 192.168.67.20/24, --server 192.168.67.1"
        ) from exc
    ip = str(interface.ip)
    ipconfig = {
        "DEVICE": device,
        "PROTO": "dhcp",
        "IPV4ADDR": ip,
        "IPV4BROADCAST": str(interface.network.broadcast_address),
        "IPV4NETMASK": str(interface.netmask),
        "IPV4GATEWAY": first,
        "IPV4DNS0": servers[0],
        "IPV4DNS1": servers[1] if len(servers) > 1 else "0.0.0.0",
        "HOSTNAME": hostname,
        "ROOTSERVER": server,
    }
    return NetworkFacts(
        device=device,
        ip_address=ip,
        prefixlen=interface.network.prefixlen,
        mac_address=normal,
        gateway=first,
        hostname=hostname,
        ipconfig=ipconfig,
    )
