"""systemd units acted on as files, the way systemctl would leave them (never systemctl itself).

mask: a link to /dev/null in /etc/systemd/{system,user}; enable: the
`.wants`/`.requires` links and `Alias=` links named in the unit's [Install]
section (and the same for its `Also=` units); a drop-in: UNIT.d/NAME.conf.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ltsp_client.errors import LtspError
from ltsp_client.paths import inside
from ltsp_client.pluginkit import files

# Where systemd looks for unit files, most important first (systemd.unit(5)).
SYSTEM_UNIT_PATHS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
USER_UNIT_PATHS = (
    "/etc/systemd/user",
    "/run/systemd/user",
    "/usr/local/lib/systemd/user",
    "/usr/lib/systemd/user",
)
UNIT_RE = re.compile(
    r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\."
    r"(service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$"
)
DEPENDENCY_DIRS = (".wants", ".requires", ".upholds")


def config_dir(user: bool) -> PurePosixPath:
    return PurePosixPath("/etc/systemd/user" if user else "/etc/systemd/system")


def check_unit(unit: str) -> str:
    if not UNIT_RE.match(unit):
        raise LtspError(
            f"{unit!r} is not a systemd unit name",
            hint="use the full name with its type, e.g. `cups.service`",
        )
    return unit


@dataclass(frozen=True)
class InstallSection:
    """The [Install] section of a unit file: where `systemctl enable` puts links."""

    path: PurePosixPath  # the unit file, as the client sees it
    wanted_by: tuple[str, ...] = ()
    required_by: tuple[str, ...] = ()
    upheld_by: tuple[str, ...] = ()
    alias: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    default_instance: str = ""


def template_of(unit: str) -> str:
    """`getty@tty1.service` -> `getty@.service`; other names unchanged."""
    name, _, suffix = unit.rpartition(".")
    if "@" in name:
        return name.split("@", 1)[0] + "@." + suffix
    return unit


def find_unit(root: Path, unit: str, *, user: bool = False) -> PurePosixPath | None:
    """The unit file systemd would load for `unit` (a template for an instance), or None.

    A masked unit (a link to /dev/null) counts as not found.
    """
    for name in dict.fromkeys((unit, template_of(unit))):
        for directory in USER_UNIT_PATHS if user else SYSTEM_UNIT_PATHS:
            candidate = PurePosixPath(directory, name)
            if is_masked_link(inside(root, directory) / name):
                return None
            if inside(root, candidate).is_file():
                return candidate
    return None


def is_masked_link(path: Path) -> bool:
    return path.is_symlink() and str(path.readlink()) == "/dev/null"


def read_install(root: Path, unit: str, *, user: bool = False) -> InstallSection:
    """Parse the [Install] section of the unit file (LtspError if there is no unit file)."""
    path = find_unit(root, unit, user=user)
    if path is None:
        where = USER_UNIT_PATHS if user else SYSTEM_UNIT_PATHS
        raise LtspError(
            f"unit {unit} is not installed in the image",
            hint=f"looked in {', '.join(where)} under the root",
        )
    text = files.read_text(root, path) or ""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in _logical_lines(text):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Install" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        words = value.split()
        if not words:  # `WantedBy=` resets the list, as in systemd
            values[key.strip()] = []
        else:
            values.setdefault(key.strip(), []).extend(words)
    return InstallSection(
        path=path,
        wanted_by=tuple(values.get("WantedBy", ())),
        required_by=tuple(values.get("RequiredBy", ())),
        upheld_by=tuple(values.get("UpheldBy", ())),
        alias=tuple(values.get("Alias", ())),
        also=tuple(values.get("Also", ())),
        default_instance=" ".join(values.get("DefaultInstance", ())),
    )


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined (systemd.syntax(7))."""
    out: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def add_dropin(root: Path, unit: str, name: str, text: str, *, user: bool = False) -> Path:
    """/etc/systemd/{system,user}/UNIT.d/NAME.conf with `text` (mode 0644)."""
    check_unit(unit)
    stem = name.removesuffix(".conf")
    if not stem or "/" in stem:
        raise ValueError(f"drop-in name {name!r}: a file name, e.g. `ltsp` or `50-ltsp.conf`")
    path = config_dir(user) / f"{unit}.d" / f"{stem}.conf"
    body = text if text.endswith("\n") else text + "\n"
    return files.write_file(root, path, body, 0o644)


def mask_unit(root: Path, unit: str, *, user: bool = False) -> Path:
    """Link /etc/systemd/{system,user}/UNIT to /dev/null (refuses to replace a unit file)."""
    return files.symlink(root, config_dir(user) / check_unit(unit), "/dev/null")


def unmask_unit(root: Path, unit: str, *, user: bool = False) -> bool:
    """Remove the /dev/null link of UNIT, if there is one; True if there was."""
    link = inside(root, config_dir(user)) / check_unit(unit)
    if is_masked_link(link):
        link.unlink()
        return True
    return False


def enable_unit(
    root: Path,
    unit: str,
    *,
    wanted_by: tuple[str, ...] | None = None,
    user: bool = False,
) -> list[PurePosixPath]:
    """Make the links `systemctl enable UNIT` makes; returns the links (as client paths).

    Without `wanted_by`, the targets come from the unit's [Install] section
    (WantedBy=, RequiredBy=, UpheldBy=, Alias=, and the units in Also= are
    enabled the same way). With `wanted_by`, only those `.wants` links are made.
    A template with no instance uses DefaultInstance=.
    """
    made: list[PurePosixPath] = []
    _enable(root, check_unit(unit), wanted_by=wanted_by, user=user, made=made, seen=set())
    return made


def _enable(
    root: Path,
    unit: str,
    *,
    wanted_by: tuple[str, ...] | None,
    user: bool,
    made: list[PurePosixPath],
    seen: set[str],
) -> None:
    if unit in seen:
        return
    seen.add(unit)
    install = read_install(root, unit, user=user)
    if template_of(unit) == unit and "@" in unit:
        if not install.default_instance:
            raise LtspError(
                f"{unit} is a template without DefaultInstance=",
                hint=f"enable an instance, e.g. {unit.replace('@.', '@NAME.', 1)}",
            )
        unit = unit.replace("@.", f"@{install.default_instance}.", 1)
    target = str(install.path)
    base = config_dir(user)
    links: list[PurePosixPath] = []
    if wanted_by is not None:
        links += [base / f"{t}.wants" / unit for t in wanted_by]
    else:
        links += [base / f"{t}.wants" / unit for t in install.wanted_by]
        links += [base / f"{t}.requires" / unit for t in install.required_by]
        links += [base / f"{t}.upholds" / unit for t in install.upheld_by]
        links += [base / alias for alias in install.alias]
    if not links and not install.also:
        raise LtspError(
            f"unit {unit} has no [Install] section ({install.path}), so there is nothing to enable",
            hint='pass wanted_by=("multi-user.target",) to say where it belongs',
        )
    for link in links:
        files.symlink(root, link, target)
        made.append(link)
    if wanted_by is None:
        for other in install.also:
            _enable(root, other, wanted_by=None, user=user, made=made, seen=seen)


def disable_unit(root: Path, unit: str, *, user: bool = False) -> list[PurePosixPath]:
    """Remove what `systemctl disable UNIT` removes: its dependency links, its
    Alias= links, and the same for its Also= units. Returns the removed links."""
    removed: list[PurePosixPath] = []
    _disable(root, check_unit(unit), user, removed, seen=set())
    return removed


def _disable(
    root: Path, unit: str, user: bool, removed: list[PurePosixPath], seen: set[str]
) -> None:
    if unit in seen:
        return
    seen.add(unit)
    base = config_dir(user)
    directory = inside(root, base)
    candidates: list[PurePosixPath] = []
    if directory.is_dir():
        for sub in sorted(directory.iterdir()):
            if sub.is_dir() and sub.name.endswith(DEPENDENCY_DIRS):
                candidates.append(base / sub.name / unit)
    try:
        install: InstallSection | None = read_install(root, unit, user=user)
    except LtspError:
        install = None  # the unit file is gone: still remove dangling links
    if install is not None:
        candidates += [base / alias for alias in install.alias]
    for link in candidates:
        resolved = directory / link.relative_to(base)  # the common case: a real .wants dir
        if resolved.parent.is_symlink():
            resolved = inside(root, link.parent) / link.name
        if resolved.is_symlink() and not is_masked_link(resolved):
            resolved.unlink()
            removed.append(link)
    if install is not None:
        for other in install.also:
            _disable(root, other, user, removed, seen)
