"""Read an image's pam-auth-update profiles (/usr/share/pam-configs/*) as the tool does.

Only the parts `pamauthupdate` needs: the profile fields (pseudo-RFC 822,
indented continuation lines), the order the tool sorts them in, and the
tables it keeps in its own source (md5 sums of pristine templates, modules
that disable a profile), read from the image's /usr/sbin/pam-auth-update so
that they match the libpam-runtime release installed there.

Files are handled as latin-1 text: a lossless mapping of bytes, as Perl sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ltsp_client.paths import inside

CONFIGS_DIR = PurePosixPath("/usr/share/pam-configs")
TOOL = PurePosixPath("/usr/sbin/pam-auth-update")
ENCODING = "latin-1"
_FIELD_RE = re.compile(r"^(\S+):\s+(.*)\s*$", re.ASCII)
_NUMBER_RE = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_MD5_TABLE_RE = re.compile(r"my %md5sums = \((.*?)\n\);", re.DOTALL)
_MD5_ENTRY_RE = re.compile(r"'([\w-]+)'\s*=>\s*\[([^\]]*)\]")
_INVALID_RE = re.compile(r"my @invalid_modules = \(([^)]*)\);")


class ToolNeededError(Exception):
    """A case the Python path does not reproduce exactly: run the real pam-auth-update."""


@dataclass
class Profile:
    fields: dict[str, str] = field(default_factory=dict)
    conflicts: set[str] = field(default_factory=set)
    disabled: bool = False

    def get(self, name: str) -> str | None:
        return self.fields.get(name)

    def priority(self) -> float:
        """Perl's numeric value of the Priority field (0 when absent or not a number)."""
        match = _NUMBER_RE.match(self.fields.get("Priority") or "")
        return float(match.group(0)) if match else 0.0


def truthy(value: str | None) -> bool:
    """Perl's truth for a field value: unset, "" and "0" are false."""
    return value is not None and value not in ("", "0")


def read_text(root: Path, path: str | PurePosixPath) -> str | None:
    """A file of the image as latin-1 text, None when it is missing."""
    try:
        return inside(root, path).read_bytes().decode(ENCODING)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ToolNeededError(f"cannot read {path}: {exc}") from exc


def lines(text: str) -> list[str]:
    """Lines as Perl's readline gives them: split after each newline only."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def parse_profile(text: str, invalid_modules: tuple[str, ...]) -> Profile:
    profile = Profile()
    name: str | None = None
    for line in lines(text):
        match = _FIELD_RE.match(line)
        if match:
            name = match.group(1).removesuffix("-Final")  # the first format's "Auth-Final"
            if name == "Conflicts":
                profile.conflicts.update(match.group(2).split(", "))
            else:
                profile.fields[name] = match.group(2)
            continue
        stripped = line.strip(" \t\n\r\f\v")
        if name is None and not stripped:
            continue
        if name is None or name == "Conflicts":
            raise ToolNeededError("a continuation line without a field that takes one")
        value = profile.fields.get(name, "")
        if stripped and stripped != "0":
            value += "\n" + stripped
        if any(re.search(module, value) for module in invalid_modules):
            profile.disabled = True
        profile.fields[name] = value.lstrip(" \t\n\r\f\v")
    if "Session-Interactive-Only" not in profile.fields:
        for suffix in ("-Type", "", "-Initial"):
            if (session := profile.fields.get("Session" + suffix)) is not None:
                profile.fields["Session-noninteractive" + suffix] = session
    return profile


def sort_names(names: list[str] | set[str], profiles: dict[str, Profile]) -> list[str]:
    """Highest Priority first, then names in reverse order (the tool's order)."""
    return sorted(names, key=lambda name: (profiles[name].priority(), name), reverse=True)


def read_profiles(root: Path) -> dict[str, Profile]:
    """Every enabled profile in /usr/share/pam-configs by file name."""
    tool = read_text(root, TOOL)
    if tool is None:
        raise ToolNeededError(f"{TOOL} is missing")
    invalid = _INVALID_RE.search(tool)
    invalid_modules = tuple(re.findall(r"'([^']*)'", invalid.group(1))) if invalid else ()
    directory = inside(root, CONFIGS_DIR)
    try:
        names = [entry.name for entry in directory.iterdir()]
    except OSError as exc:
        raise ToolNeededError(f"cannot list {CONFIGS_DIR}: {exc}") from exc
    profiles: dict[str, Profile] = {}
    for name in names:
        if name.endswith("~") or re.fullmatch(r"#.+#", name, re.DOTALL):
            continue
        path = inside(root, CONFIGS_DIR / name)
        if not path.is_file():
            raise ToolNeededError(f"{CONFIGS_DIR / name} is not a file")
        text = read_text(root, CONFIGS_DIR / name) or ""
        profile = parse_profile(text, invalid_modules)
        if not profile.disabled:
            profiles[name] = profile
    return profiles


def template_md5sums(root: Path) -> dict[str, tuple[str, ...]]:
    """The tool's table of pristine common-* boilerplate md5 sums, by type."""
    tool = read_text(root, TOOL) or ""
    table = _MD5_TABLE_RE.search(tool)
    if not table:
        raise ToolNeededError(f"no md5sums table in {TOOL}")
    return {
        kind: tuple(re.findall(r"'([0-9a-f]{32})'", sums))
        for kind, sums in _MD5_ENTRY_RE.findall(table.group(1))
    }
