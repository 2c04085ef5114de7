"""What `ltsp login` needs from ltsp.conf, written at boot by the pam-login plugin.

The login runs at every login, from PAM; evaluating ltsp.conf there would
cost time and need the network facts again. The plugin evaluates it once
per boot and writes /etc/ltsp/login.json (JSON: no shell quoting pitfalls,
unlike upstream's pamltsp.conf).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ltsp_client.errors import LtspError

SETTINGS = "/etc/ltsp/login.json"
KNOWN_HOSTS = "/etc/ltsp/ssh_known_hosts"


@dataclass(frozen=True)
class LoginSettings:
    auth_type: str = "Primary"  # Primary or Additional (upstream's PAM roles)
    ssh_server: str = "server"
    ssh_options: tuple[str, ...] = ()
    known_hosts: str = KNOWN_HOSTS
    nfs_home: bool = False  # FSTAB_x mounts /home: no SSHFS
    sshfs: bool = True
    mkhomedir: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"


def load(path: Path) -> LoginSettings:
    """The settings file, or the defaults when it is missing (no ltsp.conf knobs set)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return LoginSettings()
    except (OSError, ValueError) as err:
        raise LtspError(f"{path}: cannot read it: {err}", hint="reboot the client") from None
    return LoginSettings(
        auth_type=str(data.get("auth_type", "Primary")),
        ssh_server=str(data.get("ssh_server", "server")),
        ssh_options=tuple(str(w) for w in data.get("ssh_options", ())),
        known_hosts=str(data.get("known_hosts", KNOWN_HOSTS)),
        nfs_home=bool(data.get("nfs_home", False)),
        sshfs=bool(data.get("sshfs", True)),
        mkhomedir=bool(data.get("mkhomedir", True)),
    )
