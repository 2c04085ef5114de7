"""`ltsp remoteapps`: run an application on the server, shown on the client (`ssh -X`).

    ltsp remoteapps APP [ARGS]     as the user (the home is the server's, over SSHFS/NFS)
    ltsp remoteapps -r APP...      as root: /usr/local/bin/APP starts it on the server

The user needs passwordless SSH to the server: if none of ~/.ssh/*.pub is in
~/.ssh/authorized_keys, the first public key (or a new ed25519 key) is added.
Since the home is the server's home, the server sees that authorized_keys.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ltsp_client.appcontext import Context
from ltsp_client.errors import LtspError
from ltsp_client.login.settings import SETTINGS, load
from ltsp_client.run import Runner, exec_clean, run

WRAPPER_DIR = "/usr/local/bin"
# not __doc__: the frozen binary is built with optimize=2 (no docstrings)
DESCRIPTION = "run an application on the server, shown on the client (ssh -X)"


def wrapper(app: str) -> str:
    """/usr/local/bin/APP: precedes /usr/bin in PATH, so menus start APP on the server."""
    return f'#!/bin/sh\nexec /usr/lib/ltsp/ltsp remoteapps {app} "$@"\n'


def check_app(app: str) -> str:
    if not app or "/" in app or app.startswith(("-", ".")) or any(c.isspace() for c in app):
        raise LtspError(
            f"REMOTEAPPS: {app!r} is not a command name", hint="e.g. REMOTEAPPS=firefox"
        )
    return app


def register(root: Path, apps: Sequence[str]) -> list[Path]:
    out = []
    for app in apps:
        path = root / WRAPPER_DIR.lstrip("/") / check_app(app)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.new")
        temp.write_text(wrapper(app), encoding="utf-8")
        temp.chmod(0o755)
        temp.replace(path)
        out.append(path)
    return out


def ensure_key(home: Path, runner: Runner) -> Path:
    """A public key of the user that is in their authorized_keys (created if needed)."""
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    authorized = ssh / "authorized_keys"
    known = authorized.read_text(encoding="utf-8").splitlines() if authorized.exists() else []
    pubs = sorted(ssh.glob("*.pub"))
    for pub in pubs:
        if pub.read_text(encoding="utf-8").strip() in known:
            return pub
    if not pubs:
        key = ssh / "id_ed25519"
        runner(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], timeout=30)
        pubs = [ssh / "id_ed25519.pub"]
    line = pubs[0].read_text(encoding="utf-8").strip()
    old = os.umask(0o077)
    try:
        with authorized.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")
    finally:
        os.umask(old)
    return pubs[0]


def ssh_argv(server: str, known_hosts: str, app: str, args: Sequence[str]) -> list[str]:
    ssh = shutil.which("ssh") or "/usr/bin/ssh"
    return [ssh, "-X", f"-oUserKnownHostsFile={known_hosts}", server, app, *args]


def main(ctx: Context, args: list[str]) -> int:
    import argparse  # here: the boot's remoteapps plugin imports this module too

    parser = argparse.ArgumentParser(prog="ltsp remoteapps", description=DESCRIPTION)
    parser.add_argument("-r", "--register", action="store_true", help="install wrappers (root)")
    parser.add_argument("app", help="application to run on the server")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    options = parser.parse_args(args)
    if options.register:
        register(Path("/"), [options.app, *options.args])
        return 0
    settings = load(Path(SETTINGS))
    ensure_key(Path.home(), run)
    exec_clean(ssh_argv(settings.ssh_server, settings.known_hosts, options.app, options.args))
    return 0  # not reached
