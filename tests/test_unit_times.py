"""benchmarks/unit_times.py on lines of a real lab serial log (school image, ours, NBD)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks/unit_times.py"
LOG = """\
[  28.700]          Starting modprobe@drm.service - Load Kernel Module drm...
[  33.600] [  OK  ] Finished modprobe@drm.service - Load Kernel Module drm.
[  37.115]          Starting e2scrub_reap.serv…e ext4 Metadata Check Snapshots...
[  49.155] [**    ] (1 of 3) Job e2scrub_reap.service/start running (21s / no limit)
[  43.430]          Starting NetworkManager.service - Network Manager...
[  47.070] [  OK  ] Started NetworkManager.service - Network Manager.
[  56.174] [  OK  ] Finished e2scrub_reap.serv…ine ext4 Metadata Check Snapshots.
[  56.232] [  OK  ] Reached target multi-user.target - Multi-User System.
[  56.300]          Starting lab-report.service - never finished...
"""


def test_longest_first_names_cut_by_the_console_matched() -> None:
    spec = importlib.util.spec_from_file_location("unit_times", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows, multi_user = module.unit_times(LOG)
    assert multi_user == 56.232
    assert [name for name, _, _ in rows] == [
        "e2scrub_reap.serv",
        "modprobe@drm.service",
        "NetworkManager.service",
    ]
    assert round(rows[0][2] - rows[0][1], 3) == 19.059
