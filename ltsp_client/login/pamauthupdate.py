"""`pam-auth-update --package --enable NAME...` without Perl and debconf (3 s under TCG).

The result, /etc/pam.d/common-* and the tool's saved state in /var/lib/pam,
is byte for byte what Debian's tool writes (tests/login/test_pamauthupdate.py
compares the two on roots built from real packages), for the case a client
boot meets: the image's common-* files were last written by the tool, perhaps
with options an admin added or removed on module lines (merged as the tool
merges them). Every other case raises ToolNeededError and the caller runs the real
tool: lines the tool did not write in its blocks, profiles that conflict,
templates without the block markers. Not reproduced: the tool also records
its selection in debconf's database, which a later run only reads when the
files above are unusable (see docs/compatibility.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

from ltsp_client.login.pamprofiles import (
    ENCODING,
    Profile,
    ToolNeededError,
    lines,
    read_profiles,
    read_text,
    sort_names,
    template_md5sums,
    truthy,
)

TYPES = ("auth", "account", "password", "session", "session-noninteractive")
CONF_DIR = PurePosixPath("/etc/pam.d")
SAVE_DIR = PurePosixPath("/var/lib/pam")
STOCK_DIR = PurePosixPath("/usr/share/pam")
PRIMARY = re.compile(r'# here are the per-package modules \(the "Primary" block\)')
FALLBACK = re.compile(r"# here's the fallback if no module succeeds")
ADDITIONAL = re.compile(r'# and here are more per-package modules \(the "Additional" block\)')
END = re.compile(r"# end of pam-auth-update config")
_LINE_RE = re.compile(r"^((\[[^\]]+\]|\w+)\s+\S+)\s*(.*)", re.ASCII)
_JUMP_RE = re.compile(r"(\[[^0-9]*)[0-9]+(.*\])")  # a jump count inside [...]
_END_RE = re.compile(r"(\[.*)end(.*\])")
PERMIT = "[default=1]\t\t\tpam_permit.so"


@dataclass
class TypeDiff:
    """Options an admin added to / removed from the tool's lines, by control + module."""

    add: dict[str, dict[str, bool]] = field(default_factory=dict)
    remove: dict[str, dict[str, bool]] = field(default_factory=dict)


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"\s+", text, flags=re.ASCII) if word]


def _module_line(line: str) -> tuple[str, list[str]]:
    """(control and module, options) of a profile line."""
    match = _LINE_RE.match(line)
    if not match:
        raise ToolNeededError(f"cannot parse the PAM line {line.strip()!r}")
    return match.group(1), _words(match.group(3))


def _no_jumps(text: str) -> str:
    return _JUMP_RE.sub(r"\1\2", text)


def _managed(current: str, kind: str) -> list[str] | None:
    """The lines inside the tool's two blocks of a common-* file, without the type word."""
    realtype = kind.removesuffix("-noninteractive")
    prefix = re.compile(rf"^{realtype}\s+", re.ASCII)
    managed: list[str] = []
    state = 0
    for line in lines(current):
        if state in (0, 2):
            if (PRIMARY if state == 0 else ADDITIONAL).match(line):
                state += 1
            continue
        if state == 3 and END.match(line):
            break
        text = prefix.sub("", line, count=1)
        if state == 1 and FALLBACK.match(text):
            state = 2
            continue
        managed.append(text)
    return managed if state >= 3 else None


def _type_diff(root: Path, kind: str, diff: TypeDiff, mods: list[str]) -> bool:
    """Compare common-KIND with the saved state; False when they cannot be merged."""
    saved_text = read_text(root, SAVE_DIR / kind)
    current = read_text(root, CONF_DIR / f"common-{kind}")
    if saved_text is None or current is None:
        return False
    saved: list[tuple[str, str]] = []
    module = ""
    for line in lines(saved_text):
        if match := re.match(r"Module: (.*)", line):
            module = match.group(1)
            continue
        saved.append((module, _END_RE.sub(r"\1\2", _no_jumps(line.removesuffix("\n")))))
    managed = _managed(current, kind)
    if managed is None:
        return False
    for line in managed:
        text = line
        options: str | None = None
        while options is None and saved:
            name, entry = saved.pop(0)
            key, previous = _module_line(entry)
            text = _no_jumps(text)  # again for every saved line tried, as the tool does
            if match := re.match(re.escape(key) + r"\s*(.*)$", text, re.ASCII):
                options = match.group(1)
                mods.append(name)
        if options is None:
            return False  # a line the tool did not write
        for option in _words(options):
            known = False
            i = 0
            while i < len(previous):  # the tool's loop: skips the entry after a removed one
                if previous[i] == option:
                    known = True
                    del previous[i]
                i += 1
            if not known:
                diff.add.setdefault(key, {})[option] = True
        for option in previous:
            diff.remove.setdefault(key, {})[option] = True
    return True


def _diff(root: Path) -> tuple[list[str], dict[str, TypeDiff]]:
    mods: list[str] = []
    diffs = {kind: TypeDiff() for kind in TYPES}
    for kind in TYPES:
        if not _type_diff(root, kind, diffs[kind], mods):
            raise ToolNeededError(f"{CONF_DIR}/common-{kind} differs from what the tool last wrote")
    return mods, diffs


def _merge(line: str, diff: TypeDiff, count: int) -> str:
    """A profile line with its jump target and the admin's option changes."""
    modline, options = _module_line(line)
    modline = modline.replace("end", str(count))
    key = _no_jumps(modline)
    adds = diff.add.setdefault(key, {})
    removes = diff.remove.setdefault(key, {})
    i = 0
    while i < len(options):
        adds.pop(options[i], None)
        if options[i] in removes:
            del options[i]
            i -= 1
        i += 1
    return modline + " " + " ".join([*options, *sorted(adds)]) + "\n"


def _lines_for(profile: Profile, uctype: str, position: int) -> str | None:
    initial = profile.get(uctype + "-Initial")
    if position == 0 and truthy(initial):
        return initial
    return profile.get(uctype)


def _perl_split(pattern: str, text: str | None) -> list[str]:
    """Perl's split(PATTERN, TEXT): trailing empty fields dropped."""
    parts = re.split(pattern, text or "")
    while parts and not parts[-1]:
        parts.pop()
    return parts


def _block(
    profiles: dict[str, Profile], enabled: list[str], kind: str, val: str, *, diff: TypeDiff
) -> list[str]:
    uctype = kind[0].upper() + kind[1:]
    realtype = kind.removesuffix("-noninteractive")
    chosen = [
        name for name in enabled if truthy(t := profiles[name].get(uctype + "-Type")) and t == val
    ]
    outputs = [_lines_for(profiles[name], uctype, i) for i, name in enumerate(chosen)]
    count = sum(len(_perl_split("\n+", output)) for output in outputs)
    if val == "Additional":
        count -= 1  # nothing may jump off the end of the stack
    block = []
    if val == "Primary" and count == 0:
        block.append(f"{realtype}\t{PERMIT}\n")
    for output in outputs:
        for line in _perl_split("\n", output):
            block.append(f"{realtype}\t" + _merge(line, diff, count))
            count -= 1
    return block


def _fill(template: str, block: Callable[[str], list[str]]) -> tuple[str, bool]:
    """The template with block("Primary") and block("Additional") inside the markers.

    Also says whether all four markers were found.
    """
    out: list[str] = []
    state = 0
    for line in lines(template):
        if state in (1, 3):
            if (FALLBACK if state == 1 else END).match(line):
                out.append(line)
                state += 1
            continue
        out.append(line)
        if state in (0, 2) and (PRIMARY if state == 0 else ADDITIONAL).match(line):
            out.extend(block("Primary" if state == 0 else "Additional"))
            state += 1
    return "".join(out), state == 4


def _boilerplate_md5(template: str) -> str:
    """md5 of a common-* file without what is inside the tool's blocks."""
    text, _ = _fill(template, lambda val: [])
    return hashlib.md5(text.encode(ENCODING), usedforsecurity=False).hexdigest()


def _saved(profiles: dict[str, Profile], enabled: list[str], kind: str) -> str:
    uctype = kind[0].upper() + kind[1:]
    out: list[str] = []
    for skip in ("Additional", "Primary"):
        position = 0
        for name in enabled:
            kind_type = profiles[name].get(uctype + "-Type")
            if not truthy(kind_type) or kind_type == skip:
                continue
            output = _lines_for(profiles[name], uctype, position)
            position += 1
            if truthy(output):
                out.append(f"Module: {name}\n{output}\n")
        if skip == "Additional" and position == 0:
            out.append(f"Module: null\n{PERMIT}\n")
    return "".join(out)


def _enabled(
    root: Path, profiles: dict[str, Profile], mods: list[str], enable: list[str]
) -> list[str]:
    names = sort_names(set(profiles), profiles)
    seen = {line.removesuffix("\n") for line in lines(read_text(root, SAVE_DIR / "seen") or "")}
    enabled = [name for name in mods if name in profiles]
    enabled += [name for name in names if name in enable]
    if not enabled:
        raise ToolNeededError("no profile selected")
    enabled += [n for n in names if profiles[n].get("Default") == "yes" and n not in seen]
    chosen = sort_names(set(enabled), profiles)
    for name in chosen:
        if clash := profiles[name].conflicts & set(chosen):
            raise ToolNeededError(f"profile {name} conflicts with {', '.join(sorted(clash))}")
    return chosen


def update(root: Path, enable: list[str]) -> dict[PurePosixPath, bytes]:
    """The files `pam-auth-update --package --enable ENABLE...` writes in root, by path.

    Raises ToolNeededError when only the real tool gives the right result.
    """
    profiles = read_profiles(root)
    mods, diffs = _diff(root)
    enabled = _enabled(root, profiles, mods, enable)
    md5sums = template_md5sums(root)
    names = sort_names(set(profiles), profiles)
    files = {SAVE_DIR / "seen": "".join(f"{name}\n" for name in names)}
    for kind in TYPES:
        target = CONF_DIR / f"common-{kind}"
        template = read_text(root, target) or ""
        if _boilerplate_md5(template) in md5sums.get(kind, ()):
            template = read_text(root, STOCK_DIR / f"common-{kind}") or ""
        text, complete = _fill(template, partial(_block, profiles, enabled, kind, diff=diffs[kind]))
        if not complete:
            raise ToolNeededError(f"no pam-auth-update markers in the template for {target}")
        files[target] = text
        files[SAVE_DIR / kind] = _saved(profiles, enabled, kind)
    return {path: text.encode(ENCODING) for path, text in files.items()}
