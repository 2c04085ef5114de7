"""Run upstream LTSP's own ltsp.conf evaluation (Debian package `ltsp`) for comparison.

Used only by the differential tests, which fail (never skip) when it is absent:
CI installs it (scripts/deps/apt-config.txt).
Upstream runs raw shell lines for real, so fixtures fed to it must be harmless.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ltsp_client.config import Config, Identity
from ltsp_client.config.sections import evaluate

UPSTREAM_LIB = Path("/usr/share/ltsp/common/ltsp/55-config.sh")
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}

HARNESS = r"""
# like upstream's must-succeed wrapper, including its two local variables
re() {
    local want got
    want=0
    got=0
    "$@" || got=$?
    if [ "$got" != "$want" ]; then echo "LTSP-DIE: $*" >&2; exit 99; fi
}
rw() { "$@" || true; }
die() { echo "LTSP-DIE: $*" >&2; exit 99; }
warn() { echo "$@" >&2; }
. /usr/share/ltsp/common/ltsp/55-config.sh
_APPLET=$1
zz_dir=$2
MAC_ADDRESS=$3
IP_ADDRESS=$4
HOSTNAME=$5
_APPLET_DIR=/usr/share/ltsp/common/ltsp
BASE_DIR=${BASE_DIR:-/srv/ltsp}
TFTP_DIR=${TFTP_DIR:-/srv/tftp}
HOME_DIR=${HOME_DIR:-/home}
zz_dump() {
    for zz_v in $(set | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
        eval "printf '%s=%s\\0' \"\$zz_v\" \"\${$zz_v}\""
    done
}
zz_dump > "$zz_dir/before"
if [ -r "$zz_dir/ltsp.conf" ]; then re eval_ini "$zz_dir/ltsp.conf"; fi
if [ -r "$zz_dir/ltsp-$_APPLET.conf" ]; then re eval_ini "$zz_dir/ltsp-$_APPLET.conf"; fi
zz_dump > "$zz_dir/after"
"""


def available() -> bool:
    return UPSTREAM_LIB.is_file() and shutil.which("dash") is not None


def require() -> None:
    """Fail the calling test, naming the Debian packages, when upstream cannot run."""
    if not available():
        pytest.fail(
            f"upstream LTSP is needed for this comparison ({UPSTREAM_LIB} and dash): "
            "apt-get install ltsp dash (scripts/deps/apt-config.txt)"
        )


@dataclass
class Outcome:
    died: bool
    changed: dict[str, str]
    after: dict[str, str]
    stderr: str


def _read_vars(path: Path) -> dict[str, str]:
    out = {}
    for entry in path.read_bytes().split(b"\0"):
        if b"=" in entry:
            name, _, value = entry.decode("utf-8", "surrogateescape").partition("=")
            out[name] = value
    return out


def run_upstream(conf_dir: Path, *, applet: str, identity: Identity, is_client: bool) -> Outcome:
    require()
    script = conf_dir / "harness.sh"
    script.write_text(HARNESS)
    argv = ["dash", str(script), applet or "ltsp", str(conf_dir)]
    argv += [identity.mac, identity.ip, identity.hostname]
    # a private mount namespace with an empty /run: /run/ltsp/client exists only for a
    # client, whatever this host's own /run holds
    marker = "mkdir -p /run/ltsp/client && " if is_client else ""
    inner = f'mount -t tmpfs tmpfs /run && {marker}exec "$@"'
    argv = ["unshare", "-m", "sh", "-c", inner, "sh", *argv]
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=30, check=False)
    died = proc.returncode != 0 or not (conf_dir / "after").exists()
    if died:
        return Outcome(True, {}, {}, proc.stderr)
    before = _read_vars(conf_dir / "before")
    after = _read_vars(conf_dir / "after")
    changed = {
        k: v
        for k, v in after.items()
        if before.get(k) != v and not k.startswith(("section_", "zz_"))
    }
    return Outcome(False, changed, after, proc.stderr)


def compare(
    conf_dir: Path, *, applet: str, identity: Identity, is_client: bool
) -> tuple[Config, Outcome, list[str]]:
    """Evaluate with both; return our config, upstream's outcome and the differences."""
    ours = evaluate(
        applet=applet, identity=identity, is_client=is_client, config_dir=conf_dir, environ=ENV
    )
    theirs = run_upstream(conf_dir, applet=applet, identity=identity, is_client=is_client)
    diffs = []
    for name, value in ours.assigned.items():
        if theirs.after.get(name) != value:
            diffs.append(f"{name}: ours={value!r} upstream={theirs.after.get(name)!r}")
    for name, value in theirs.changed.items():
        if name not in ours.assigned:
            diffs.append(f"{name}: ours=<not assigned> upstream={value!r}")
    return ours, theirs, diffs
