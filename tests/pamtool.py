"""Run an image's own pam-auth-update on a root, with a private debconf database in it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEBCONF_CONF = """Config: configdb
Templates: templatedb

Name: configdb
Driver: File
Filename: {root}/var/cache/debconf/config.dat

Name: templatedb
Driver: File
Mode: 644
Filename: {root}/var/cache/debconf/templates.dat
"""


def real_tool(root: Path, *args: str) -> str:
    """The image's pam-auth-update on `root`; its stderr."""
    for tool in ("perl", "debconf-communicate"):
        assert shutil.which(tool), f"{tool} is needed (apt packages perl-base, debconf)"
    conf = root / "var/cache/debconf/debconf.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(DEBCONF_CONF.format(root=root))
    env = {**os.environ, "DEBCONF_SYSTEMRC": str(conf), "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["perl", str(root / "usr/sbin/pam-auth-update"), "--root", str(root), *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stderr
