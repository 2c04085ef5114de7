"""The real `ltsp init` as pid 1 of a new pid namespace, acting on a tmp root.

It mounts /proc, /sys, /dev and /run into the root (a private mount namespace,
gone when the test ends), runs the plugins, restores the real init and execs
it: the exec'd script reports its pid (1), arguments and environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT_DIR = Path(__file__).resolve().parents[2]
REAL_INIT = """#!/bin/sh
# Count zombies first, with builtins only: the shell's own waits would reap them.
root=${0%/sbin/init}
zombies=0
for stat in "$root"/proc/[0-9]*/stat; do
  read -r line < "$stat" || continue
  state=${line##*) }
  case "$state" in Z*) zombies=$((zombies + 1)) ;; esac
done
{
  echo "zombies=$zombies"
  echo "pid=$$"
  echo "args=$*"
  echo "ld=${LD_LIBRARY_PATH-unset}"
  echo "path=$PATH"
  [ -r "$root/proc/self/status" ] && echo "proc=mounted"
  [ -d "$root/sys/class" ] && echo "sys=mounted"
  [ -c "$root/dev/null" ] && echo "dev=mounted"
  [ -d "$root/run/ltsp/client" ] && echo "marker=yes"
} > "$root/result"
"""

# The boot NIC given as upstream's environment overrides: lo exists in every namespace.
ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "PYTHONPATH": str(ROOT_DIR),
    "DEVICE": "lo",
    "IP_ADDRESS": "127.0.0.1",
    "MAC_ADDRESS": "52:54:00:12:34:56",
}

pytestmark = pytest.mark.root


@pytest.fixture(autouse=True)
def _root_and_unshare() -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root for namespaces and mounts; CI runs as root")
    if shutil.which("unshare") is None:
        pytest.fail("unshare is missing: apt-get install util-linux")


def test_real_pid1_in_a_pid_namespace(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sbin").mkdir(parents=True)
    (root / "etc/ltsp").mkdir(parents=True)
    # the hook leaves an orphan that exits at once: pid 1 must reap it
    (root / "etc/ltsp/ltsp.conf").write_text(
        '[clients]\nHOSTNAME=pc%{IP}\nPOST_INIT_1="(true &); sleep 0.3"\n'
    )
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n")
    saved = root / "sbin/init.ltsp"
    saved.write_text(REAL_INIT)
    saved.chmod(0o755)
    (root / "sbin/init").symlink_to("/usr/lib/ltsp/ltsp")
    env = {**ENV, "LD_LIBRARY_PATH": "/should/not/leak", "LD_LIBRARY_PATH_ORIG": ""}
    argv = ["unshare", "--pid", "--fork", "--mount", "--propagation", "private"]
    argv += [sys.executable, "-m", "ltsp_client", "init", "--root", str(root), "--hooks"]
    argv += ["--", "splash"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    result = dict(line.split("=", 1) for line in (root / "result").read_text().splitlines())
    assert result["pid"] == "1", "the real init got pid 1 from us"
    assert result["args"] == "splash"
    assert result["ld"] == "unset"
    assert {result.get(k) for k in ("proc", "sys", "dev")} == {"mounted"}
    assert result["marker"] == "yes"
    assert result["zombies"] == "0"
    assert (root / "sbin/init").read_text() == REAL_INIT
    assert not os.path.lexists(saved)
    # 127.0.0.1/8 on lo: host part 1
    assert (root / "etc/hostname").read_text() == "pc1\n"
    assert "127.0.1.1\tpc1" in (root / "etc/hosts").read_text()
    # /run was a tmpfs inside the namespace: its files are gone with it
    assert not (root / "run/ltsp/events.jsonl").exists()
    assert not os.path.ismount(root / "proc")


def test_events_survive_when_run_is_already_there(tmp_path: Path) -> None:
    """With /run mounted beforehand (as after an initramfs), the timeline is readable."""
    root = tmp_path / "root"
    (root / "sbin").mkdir(parents=True)
    (root / "run").mkdir()
    run_dir = tmp_path / "run"  # stands for the initramfs's /run, moved into the new root
    run_dir.mkdir()
    saved = root / "sbin/init.ltsp"
    saved.write_text("#!/bin/sh\nexit 0\n")
    saved.chmod(0o755)
    (root / "sbin/init").symlink_to("/usr/lib/ltsp/ltsp")
    env = ENV
    script = f'mount --bind {run_dir} {root}/run && exec "$@"'
    argv = ["unshare", "--pid", "--fork", "--mount", "--propagation", "private", "sh", "-c"]
    argv += [script, "sh", sys.executable, "-m", "ltsp_client", "init", "--root", str(root)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    # the bind mount went away with the namespace; the files stayed where it came from
    lines = (run_dir / "ltsp/events.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps[-1] == "exec-init" and "plugin:hostname" in steps
    pids = {json.loads(line)["pid"] for line in lines}
    assert pids == {1}
