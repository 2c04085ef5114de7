"""What `ltsp image` leaves out of a squashfs: mksquashfs `-wildcards -ef` patterns.

Patterns are relative to the image root. mksquashfs matches with FNM_PERIOD,
so `home/*` does not match `home/.secret`: every `DIR/*` pattern gets a
`DIR/.*` twin.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# upstream's built-in list (spec §5.1)
UPSTREAM = (
    "cdrom/.*",
    "cdrom/*",
    "dev/*",
    "etc/epoptes/server.key",
    "etc/.!(java)",
    "etc/mysql/debian.cnf",
    "etc/NetworkManager/system-connections/*",
    "etc/ssh/ssh_host_*",
    "etc/udev/rules.d/??-persistent-*.rules",
    "home/*",
    "lost+found/*",
    "media/*",
    "mnt/*",
    "opt/ltsp*",
    "proc/*",
    "root/.*",
    "root/*",
    "run/*",
    "srv/*",
    "swapfile",
    "sys/*",
    "tmp/.*",
    "tmp/*",
    "var/backups/*",
    "var/cache/apt/archives/*.deb",
    "var/cache/apt/archives/partial/*",
    "var/cache/apt-xapian-index/*",
    "var/cache/lightdm/dmrc/*",
    "var/cache/squid-deb-proxy/*",
    "var/crash/*",
    "var/lib/apt/lists/*",
    "var/lib/lightdm/.*",
    "var/lib/lightdm/*",
    "var/lib/mysql/*",
    "var/lib/sudo/*",
    "var/lib/systemd/linger/*",
    "var/log/*.[1-9]",
    "var/log/*.gz",
    "var/log/*.old",
    "var/log/*/*",
    "var/mail/*",
    "var/spool/cron/*/*",
    "var/spool/cups/*",
    "var/spool/squid/*",
    "var/spool/squid3/*",
    "var/swap",
    "var/tmp/.*",
    "var/tmp/*",
)

# secrets and per-machine state that template chroots often hold and upstream publishes
OURS = (
    "etc/shadow-",
    "etc/gshadow-",
    "etc/cups/*.O",
    "etc/ssl/private/ssl-cert-snakeoil.key",
    "etc/ssl/certs/ssl-cert-snakeoil.pem",
    "etc/wpa_supplicant/wpa_supplicant*.conf",
    "var/lib/NetworkManager/secret_key",
    "var/lib/NetworkManager/*.lease",
    "var/lib/systemd/random-seed",
    "var/lib/systemd/credential.secret",
    "var/lib/systemd/coredump/*",
    "var/lib/dhcp/*.leases",
    "core",
    "core.[0-9]*",
)


def with_dot_twins(patterns: Iterable[str]) -> list[str]:
    """Add `DIR/.*` after every `DIR/*`, unless already listed."""
    result: list[str] = []
    seen = set(patterns)
    for pattern in patterns:
        result.append(pattern)
        if pattern.endswith("/*"):
            twin = pattern[:-1] + ".*"
            if twin not in seen:
                seen.add(twin)
                result.append(twin)
    return result


def _lines(value: str) -> list[str]:
    """An ADD_/OMIT_IMAGE_EXCLUDES value: a file's lines if it names a file, else the value's."""
    text = value
    candidate = value.strip()
    if candidate and "\n" not in candidate and Path(candidate).is_file():
        text = Path(candidate).read_text(encoding="utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def exclude_list(
    *,
    override: Path | None = Path("/etc/ltsp/image.excludes"),
    add: str = "",
    omit: str = "",
) -> list[str]:
    """The final list: the admin's image.excludes (whole override) or ours, then ADD and OMIT.

    Like upstream, ADD/OMIT give a sorted, unique list without `#` lines.
    """
    if override is not None and override.is_file():
        base = _lines(str(override))
    else:
        base = with_dot_twins([*UPSTREAM, *OURS])
    if not add and not omit:
        return [p for p in base if not p.startswith("#")]
    omitted = set(_lines(omit))
    merged = {*(_lines(add)), *(p for p in base if p not in omitted)}
    return sorted(p for p in merged if not p.startswith("#"))
