"""Upstream's `ltsp init` and ours on the same root, side by side, without QEMU.

One case = an image layer (real Debian packages from tests/debroot.py, an
ltsp.conf, what the initramfs left in /run) over this machine's own root
filesystem (the userland upstream's shell code needs), a client network
namespace whose NIC has the client's MAC and IP, and a "server" namespace at
192.168.67.1 (optionally with a TCP connection to its NBD port, as a netbooted
client has). Each stack runs in its own mount, pid, UTS and IPC namespaces on
an overlay of that same lower; what it changed is its overlay's upper
directory, read back as a `Changes` map and compared.

Upstream runs chrooted (`/usr/sbin/ltsp init`, from the `ltsp` package in the
layer); ours runs as `ltsp init --root`. The layer's /sbin/init.ltsp is a
script that exits, so "exec the real init" ends the run.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import debroot

REPO = Path(__file__).resolve().parent.parent
SERVER_IP = "192.168.67.1"
NBD_PORT = 10809
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Ours execs ROOT/sbin/init unchrooted, upstream execs /sbin/init in its chroot.
REAL_INIT = '#!/bin/sh\nr=${0%/sbin/init}\necho reached > "${r%/usr}/run/real-init"\n'
# Host paths that would make a case depend on this machine: in the merged view
# they are exactly the layer's (opaque when the layer has the directory, hidden
# when it has nothing there).
HIDDEN = (
    "etc/ltsp",
    "etc/NetworkManager",
    "etc/network",
    "etc/netplan",
    "etc/resolvconf",
    "etc/systemd",
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "usr/bin/dig",
    "usr/lib/systemd",
    "var/lib/resolvconf",
    "usr/share/ltsp",
    "usr/lib/ltsp",
)
# Each stack's own bookkeeping, never compared.
OWN = ("run/ltsp", "run/real-init", "var/log", "usr/lib/ltsp", "sbin/init", "usr/sbin/init")


@dataclass(frozen=True)
class Client:
    mac: str = "52:54:00:12:34:20"
    ip: str = "192.168.67.20"
    prefixlen: int = 24
    device: str = "ens3"
    cmdline: str = f"root=/dev/nbd0 nbdroot={SERVER_IP},x86_64,nbd0 BOOTIF=01-52-54-00-12-34-20"
    nbd_connection: bool = True  # a TCP connection to SERVER_IP:10809, as an NBD root has


@dataclass(frozen=True)
class Case:
    packages: tuple[str, ...]
    ltsp_conf: str
    client: Client = Client()
    files: Mapping[str, str] = field(default_factory=dict)  # extra files of the image/run


# path -> ("file", mode, text) | ("link", target) | ("removed",) | ("dir",)
Changes = dict[str, tuple[str, ...]]


def build_layer(case: Case, layer: Path) -> None:
    """The image for this case: packages (+ upstream's `ltsp`), ltsp.conf, /run contents."""
    debroot.build_root(layer, ["ltsp", *case.packages])
    files = {
        "etc/ltsp/ltsp.conf": case.ltsp_conf,
        "proc/cmdline": case.client.cmdline + "\n",
        "sbin/init.ltsp": REAL_INIT,
        **case.files,
    }
    for rel, text in files.items():
        path = layer / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (layer / "usr/sbin/init.ltsp").chmod(0o755)
    (layer / "run/ltsp/client").mkdir(parents=True, exist_ok=True)
    init = layer / "usr/sbin/init"
    init.unlink(missing_ok=True)
    init.symlink_to("/usr/lib/ltsp/ltsp")
    for rel in HIDDEN:
        path = layer / rel
        if path.is_dir() and not path.is_symlink():
            os.setxattr(path, "trusted.overlay.opaque", b"y")
        elif not os.path.lexists(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@contextmanager
def network(client: Client, tag: str) -> Iterator[str]:
    """A client netns (NIC `client.device` with its MAC and IP) wired to a server netns."""
    cli, srv = f"sbs-c-{tag}", f"sbs-s-{tag}"
    helpers: list[subprocess.Popen[bytes]] = []
    try:
        _ip("netns", "add", cli)
        _ip("netns", "add", srv)
        a, b = f"sbsa{tag}"[:15], f"sbsb{tag}"[:15]
        _ip("link", "add", a, "type", "veth", "peer", "name", b)
        _ip("link", "set", a, "netns", cli)
        _ip("link", "set", b, "netns", srv)
        _ip("-n", cli, "link", "set", a, "name", client.device, "address", client.mac)
        _ip("-n", srv, "link", "set", b, "name", "srv0")
        _ip("-n", cli, "address", "add", f"{client.ip}/{client.prefixlen}", "dev", client.device)
        _ip("-n", srv, "address", "add", f"{SERVER_IP}/24", "dev", "srv0")
        for ns, dev in ((cli, client.device), (srv, "srv0"), (cli, "lo"), (srv, "lo")):
            _ip("-n", ns, "link", "set", dev, "up")
        if client.nbd_connection:
            helpers = _nbd_connection(cli, srv)
        yield cli
    finally:
        for proc in helpers:
            proc.kill()
            proc.wait()
        for ns in (cli, srv):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _nbd_connection(cli: str, srv: str) -> list[subprocess.Popen[bytes]]:
    """A listener on the server's NBD port and a client holding a connection to it."""
    listen = (
        "import socket,time;s=socket.socket();"
        "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
        f"s.bind(('{SERVER_IP}',{NBD_PORT}));s.listen();print(flush=True);"
        "c=s.accept();time.sleep(600)"
    )
    connect = (
        f"import socket,time;c=socket.create_connection(('{SERVER_IP}',{NBD_PORT}));"
        "print(flush=True);time.sleep(600)"
    )
    helpers = []
    for ns, code in ((srv, listen), (cli, connect)):
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", code], stdout=subprocess.PIPE
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # listening / connected
        helpers.append(proc)
    return helpers


def run_stack(
    stack: str, layer: Path, netns: str, work: Path, *, timeout: float = 60, lower: str = "/"
) -> Changes:
    """Run `stack` ("upstream" or "ours") on an overlay of layer over `lower` (this machine's
    root, or an image's chroot), return its changes."""
    top = work / stack
    out = work / f"{stack}.upper"
    top.mkdir(parents=True)
    out.mkdir()
    root = top / "root"
    env = {"PATH": PATH, "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}
    # Each init is pid 1 of a nested pid namespace (upstream refuses to run otherwise).
    pid1 = f"timeout -s KILL {timeout - 10:.0f} unshare --pid --fork --kill-child"
    if stack == "upstream":
        command = f"{pid1} chroot {root} /usr/bin/env -i PATH={PATH} /usr/sbin/ltsp init"
    else:
        command = f"{pid1} {shlex.quote(sys.executable)} -m ltsp_client init --root {root}"
    script = f"""
mount -t tmpfs sbs {top}
mkdir {top}/layer {top}/upper {top}/work {root}
cp -a {layer}/. {top}/layer/
mount -t overlay -o lowerdir={top}/layer:{lower},upperdir={top}/upper,workdir={top}/work sbs {root}
mount -t proc proc {root}/proc
mount --bind {top}/layer/proc/cmdline {root}/proc/cmdline
mount --rbind /dev {root}/dev
mount -t sysfs sysfs {root}/sys
mount -t tmpfs sbs-tmp {root}/tmp
mount -t tmpfs sbs-run {root}/run
cp -a {top}/layer/run/. {root}/run/
echo '(none)' > /proc/sys/kernel/hostname
set +e
{command} > {work}/{stack}.log 2>&1
echo "exit $?" >> {work}/{stack}.log
set -e
cp -a {top}/upper/. {out}/
mkdir -p {out}/run
cp -a {root}/run/. {out}/run/
"""
    argv = ["ip", "netns", "exec", netns, "unshare", "--mount", "--uts", "--ipc", "--pid"]
    argv += ["--fork", "--propagation", "private", "sh", "-ec", script]
    started = time.monotonic()
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    log = (work / f"{stack}.log").read_text() if (work / f"{stack}.log").exists() else ""
    if done.returncode != 0:
        raise AssertionError(f"{stack} run failed: {done.stderr}\n{log}")
    changes = read_changes(out)
    if changes.get("run/real-init") is None:
        raise AssertionError(f"{stack} never reached the real init:\n{log}")
    (work / f"{stack}.seconds").write_text(f"{time.monotonic() - started:.2f}\n")
    return changes


def read_changes(upper: Path) -> Changes:
    """An overlay upper directory as path -> what happened there."""
    found: Changes = {}
    for dirpath, dirnames, filenames in os.walk(upper):
        base = Path(dirpath)
        for name in filenames + dirnames:
            path = base / name
            rel = str(path.relative_to(upper))
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                found[rel] = ("removed",)
            elif stat.S_ISREG(st.st_mode):
                text = path.read_bytes().decode("utf-8", "replace")
                found[rel] = ("file", oct(stat.S_IMODE(st.st_mode)), text)
    return found


def only(changes: Changes, prefixes: Iterable[str]) -> Changes:
    """The changes at or under any of `prefixes`."""
    wanted = tuple(prefixes)
    return {
        path: what
        for path, what in changes.items()
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in wanted)
    }


def without_comments(what: tuple[str, ...]) -> tuple[str, ...]:
    """A file's change with its comment lines dropped (generated-by headers differ)."""
    if what[0] != "file":
        return what
    lines = [line for line in what[2].splitlines() if not line.lstrip().startswith("#")]
    return (*what[:2], "\n".join(lines))


def differences(upstream: Changes, ours: Changes) -> list[str]:
    """Human-readable differences, comments ignored; [] when both did the same."""
    found = []
    for path in sorted(set(upstream) | set(ours)):
        if path.startswith(OWN):
            continue
        a, b = upstream.get(path), ours.get(path)
        if a is not None and b is not None and without_comments(a) == without_comments(b):
            continue
        found.append(f"{path}:\n  upstream: {a!r}\n  ours:     {b!r}")
    return found


def compare(case: Case, work: Path) -> tuple[Changes, Changes]:
    """Build the case's layer, run both stacks, return (upstream, ours) changes."""
    layer = work / "layer"
    build_layer(case, layer)
    tag = f"{os.getpid() % 100000}{len(list(work.parent.iterdir())) % 100}"
    with network(case.client, tag) as netns:
        upstream = run_stack("upstream", layer, netns, work)
        ours = run_stack("ours", layer, netns, work)
    return upstream, ours


def available() -> str:
    """Why side-by-side runs cannot work here ("" when they can)."""
    if os.geteuid() != 0:
        return "needs root (namespaces, overlay mounts)"
    missing = [tool for tool in ("ip", "unshare", "chroot") if shutil.which(tool) is None]
    return f"missing tools: {', '.join(missing)}" if missing else ""
