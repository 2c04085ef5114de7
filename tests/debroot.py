"""Fake client roots made of the REAL files of Debian packages.

`build_root(dest, ["network-manager", "ifupdown"])` fetches each package with
`apt-get download` (once; cached by package and version), extracts it with
`dpkg-deb -x`, and lays the files out in `dest` as an installed, merged-/usr
Debian system has them. What the packages' maintainer scripts do on a fresh
install and tests depend on is replayed too, read from the real scripts (not
typed here): units enabled with `deb-systemd-helper enable` / `systemctl
enable` (their [Install] section), ifupdown's generated
/etc/network/interfaces, the /etc/resolv.conf symlink of systemd-resolved and
resolvconf.

Cache: $LTSP_TEST_DEBS, else /var/cache/ltsp-test-debs as root, else
~/.cache/ltsp-test-debs. A package that cannot be fetched raises
`DebError` with apt's message (the fixture turns it into a test failure).
Documentation, man pages and translations are left out, as Debian's slim
images (`path-exclude` in dpkg.cfg.d) leave them out.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

APT_LISTS = Path("/var/lib/apt/lists")
EXCLUDED = ("usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/lintian")
MERGED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Files outside these are hard-linked from the cache instead of copied (fast);
# `SharedFiles.check()` fails a test that wrote into one in place.
COPIED = ("etc", "var", "root", "home")


class DebError(Exception):
    """A package could not be fetched or extracted."""


def cache_dir() -> Path:
    if env := os.environ.get("LTSP_TEST_DEBS"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/cache/ltsp-test-debs")
    return Path.home() / ".cache/ltsp-test-debs"


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
        )
    except FileNotFoundError as exc:
        raise DebError(
            f"{argv[0]} is not installed (needed to build roots from .deb files)"
        ) from exc
    if done.returncode != 0:
        raise DebError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One fetch at a time, across pytest runs of every worktree sharing the cache."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _lists_mtime() -> float:
    try:
        return max(p.stat().st_mtime for p in APT_LISTS.glob("*_Packages*"))
    except ValueError:
        return 0.0


def _candidates(packages: Iterable[str]) -> dict[str, str]:
    """Candidate version of each package, from one `apt-cache policy` call."""
    out = _run(["apt-cache", "policy", *packages])
    found: dict[str, str] = {}
    current = ""
    for line in out.splitlines():
        if not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
        elif line.strip().startswith("Candidate:") and current:
            version = line.split(":", 1)[1].strip()
            if version != "(none)":
                found[current] = version
    return found


def versions(packages: Iterable[str]) -> dict[str, str]:
    """The version to use for each package: from the cache index while apt's lists are
    unchanged, else asked from apt (running `apt-get update` when it knows nothing)."""
    cache = cache_dir()
    wanted = sorted(set(packages))
    index_path = cache / "index.json"
    index: dict[str, str] = {}
    if index_path.exists() and index_path.stat().st_mtime >= _lists_mtime():
        index = json.loads(index_path.read_text())
    missing = [p for p in wanted if p not in index]
    if missing:
        found = _candidates(missing)
        if len(found) < len(missing):
            _run(["apt-get", "update"])
            found = _candidates(missing)
        unknown = [p for p in missing if p not in found]
        if unknown:
            raise DebError(f"apt knows no candidate version of {', '.join(unknown)}")
        with _locked(cache):
            index.update(found)
            _atomic_write(index_path, json.dumps(index, indent=1, sort_keys=True))
    return {p: index[p] for p in wanted}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


@dataclass(frozen=True)
class Package:
    """One extracted package in the cache: `files/` (data.tar) and `control/`."""

    name: str
    version: str
    path: Path

    @property
    def files(self) -> Path:
        return self.path / "files"

    def script(self, name: str) -> str:
        """A maintainer script (postinst, preinst, ...), empty if the package has none."""
        path = self.path / "control" / name
        return path.read_text(errors="replace") if path.exists() else ""


def fetch(name: str, version: str) -> Package:
    """Package `name` at `version`, downloaded and extracted once into the cache."""
    cache = cache_dir()
    final = cache / f"{name}_{version.replace(':', '%3a')}"
    if not (final / "files").is_dir():
        with _locked(cache):
            if not (final / "files").is_dir():
                _extract(name, version, cache, final)
    return Package(name, version, final)


def _extract(name: str, version: str, cache: Path, final: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=cache))
    try:
        _run(["apt-get", "download", "-q", f"{name}={version}"], cwd=work)
        debs = list(work.glob("*.deb"))
        if len(debs) != 1:
            raise DebError(f"apt-get download {name}={version} left {len(debs)} .deb files")
        _run(["dpkg-deb", "-x", str(debs[0]), str(work / "files")])
        _run(["dpkg-deb", "-e", str(debs[0]), str(work / "control")])
        for excluded in EXCLUDED:
            shutil.rmtree(work / "files" / excluded, ignore_errors=True)
        debs[0].unlink()
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def packages(names: Iterable[str]) -> list[Package]:
    return [fetch(name, version) for name, version in versions(names).items()]


class SharedFiles:
    """Files hard-linked from the cache into a root; `check()` says if one was written."""

    def __init__(self) -> None:
        self.stamps: dict[Path, tuple[Path, int, int, int]] = {}

    def add(self, path: Path, package_dir: Path) -> None:
        st = path.stat()
        self.stamps[path] = (package_dir, st.st_ino, st.st_size, st.st_mtime_ns)

    def check(self) -> list[Path]:
        """Linked files whose content changed in place. Their packages are dropped from
        the cache (it now holds the changed file), so the next run extracts them again."""
        bad = []
        for path, (package_dir, ino, size, mtime) in self.stamps.items():
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if st.st_ino == ino and (st.st_size, st.st_mtime_ns) != (size, mtime):
                bad.append(path)
                shutil.rmtree(package_dir, ignore_errors=True)
        return bad


def _merged(rel: Path) -> Path:
    if rel.parts and rel.parts[0] in MERGED:
        return Path("usr", *rel.parts)
    return rel


def lay_out(package: Package, dest: Path, shared: SharedFiles) -> None:
    """Copy one extracted package into dest, /bin /sbin /lib* merged into /usr."""
    tree = package.files
    for dirpath, dirnames, filenames in os.walk(tree):
        base = Path(dirpath)
        rel_dir = _merged(base.relative_to(tree))
        (dest / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in filenames + [d for d in dirnames if (base / d).is_symlink()]:
            src, dst = base / name, dest / rel_dir / name
            if dst.is_symlink() or dst.exists():
                dst.unlink()
            if src.is_symlink():
                dst.symlink_to(os.readlink(src))
            elif rel_dir.parts[:1] not in [(top,) for top in COPIED]:
                os.link(src, dst)
                shared.add(dst, package.path)
            else:
                shutil.copy2(src, dst)


def build_root(
    dest: Path, names: Iterable[str], *, shared: SharedFiles | None = None
) -> list[Package]:
    """Install `names` (plus base-files) into dest as files, with their install effects."""
    wanted = ["base-files", *names]
    shared = shared if shared is not None else SharedFiles()
    dest.mkdir(parents=True, exist_ok=True)
    for top in MERGED:
        (dest / "usr" / top).mkdir(parents=True, exist_ok=True)
        if not (dest / top).is_symlink():
            (dest / top).symlink_to(f"usr/{top}")
    found = packages(wanted)
    for package in found:
        lay_out(package, dest, shared)
    for package in found:
        replay_install(package, dest)
    return found


# --- what maintainer scripts do on a fresh install, read from the scripts ---

ENABLE = re.compile(
    r"(?:deb-systemd-helper\s+enable|systemctl\s+(?:\$\{DPKG_ROOT:\+[^}]*\}\s+)?enable)"
    r"\s+['\"]?([\w@.:-]+)['\"]?"
)
ECHO_INTERFACES = re.compile(r'^\s*echo "([^"]*)" >>? /etc/network/interfaces\s*$', re.M)
LINK_RESOLV = re.compile(r'ln -n?sf ([\w./-]+) "?(?:\$\{DPKG_ROOT\})?/etc/resolv\.conf"?')


def replay_install(package: Package, root: Path) -> None:
    """Apply the effects of `package`'s postinst that plugins and their tests see."""
    postinst = package.script("postinst")
    for unit in dict.fromkeys(ENABLE.findall(postinst)):
        enable_unit(root, unit)
    if package.name == "ifupdown" and not (root / "etc/network/interfaces").exists():
        lines = ECHO_INTERFACES.findall(postinst)
        if not lines:
            raise DebError("ifupdown's postinst no longer writes /etc/network/interfaces")
        (root / "etc/network/interfaces").write_text("".join(f"{x}\n" for x in lines))
    if package.name in ("systemd-resolved", "resolvconf"):
        link = LINK_RESOLV.search(postinst)
        if not link:
            raise DebError(f"{package.name}'s postinst no longer links /etc/resolv.conf")
        resolv = root / "etc/resolv.conf"
        if resolv.is_symlink() or resolv.exists():
            resolv.unlink()
        resolv.symlink_to(link.group(1))
        if package.name == "resolvconf":
            (root / "var/lib/resolvconf").mkdir(parents=True, exist_ok=True)
            (root / "var/lib/resolvconf/linkified").write_text("")


def unit_file(root: Path, unit: str) -> Path | None:
    template = re.sub(r"@[^.]+\.", "@.", unit)
    for directory in ("etc/systemd/system", "usr/lib/systemd/system"):
        for name in (unit, template):
            path = root / directory / name
            if path.is_file():
                return path
    return None


def install_section(path: Path) -> dict[str, list[str]]:
    """The [Install] keys of a unit file (WantedBy=, RequiredBy=, Alias=, Also=, ...)."""
    keys: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            keys.setdefault(key.strip(), []).extend(value.split())
    return keys


def enable_unit(root: Path, unit: str, _seen: set[str] | None = None) -> None:
    """As `systemctl enable` on a root: .wants/.requires links and aliases under /etc."""
    seen = _seen if _seen is not None else set()
    if not re.search(r"\.(service|socket|timer|path|target|mount)$", unit):
        unit += ".service"  # `systemctl enable unattended-upgrades` in its postinst
    if unit in seen:
        return
    seen.add(unit)
    path = unit_file(root, unit)
    if path is None:
        raise DebError(f"cannot enable {unit}: no unit file in the root")
    keys = install_section(path)
    if "@." in path.name and "@." in unit:
        instance = keys.get("DefaultInstance", [""])[0]
        if not instance:
            return
        unit = unit.replace("@.", f"@{instance}.")
    target = "/" + str(path.relative_to(root)).replace("usr/lib/", "lib/", 1)
    etc = root / "etc/systemd/system"
    for key, suffix in (("WantedBy", ".wants"), ("RequiredBy", ".requires")):
        for by in keys.get(key, []):
            _link(etc / f"{by}{suffix}" / unit, target)
    for alias in keys.get("Alias", []):
        _link(etc / alias, target)
    for also in keys.get("Also", []):
        enable_unit(root, also, seen)


def _link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)
