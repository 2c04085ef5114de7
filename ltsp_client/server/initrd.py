"""`ltsp initrd`: build ltsp.img, the initrd the clients load in front of their own.

Layout (the contract with the initramfs hook, see docs/architecture.md):

    /conf/conf.d/00-ltsp.conf        initramfs-tools hook, sourced by its /init
    /scripts/...                     initramfs-hooks/initramfs-tools/scripts/
    /etc/ltsp/...                    the server's /etc/ltsp
    /usr/lib/ltsp/ltsp, _internal/   the frozen binary (unless --no-binary)
    /usr/lib/ltsp/modules/<kver>/    squashfs, overlay, loop, isofs, nbd (+ deps)

The configuration is a plain cpio segment, like upstream's ltsp.img; the
frozen tree and modules follow as a separate gzip segment (the kernel unpacks
each concatenated segment on its own), see docs/benchmarks.md for the sizes.
The file is replaced atomically: a failed build leaves the old one serving.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import stat
import struct
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ltsp_client
from ltsp_client.appcontext import Context
from ltsp_client.errors import ConfigError, LtspError
from ltsp_client.log import step
from ltsp_client.run import run
from ltsp_client.server import settings
from ltsp_client.server.cpio import COMPRESSIONS, Archive, Entry, write_segments
from ltsp_client.server.publish import image_names, serving_version

log = logging.getLogger(__name__)

INSTALL_DIR = "/usr/lib/ltsp"
SHARE_HOOKS = Path("/usr/share/ltsp/initramfs-hooks")
WANTED_MODULES = ("squashfs", "overlay", "loop", "isofs", "nbd")
_KO_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
_PT_INTERP = 3
CLIENT_PACKAGE = "ltsp-client"


@dataclass(frozen=True)
class KernelModules:
    """The module files of one kernel to ship, dependencies before their users."""

    kver: str
    moddir: Path
    files: tuple[str, ...]  # paths relative to moddir, in load order
    deps: dict[str, tuple[str, ...]]  # file name -> file names it needs
    builtin: tuple[str, ...]  # wanted modules the kernel has built in
    missing: tuple[str, ...]  # wanted modules the kernel has neither way


def module_name(path: str) -> str:
    """kernel/fs/overlayfs/overlay.ko.xz -> overlay (dashes as underscores, like the kernel)."""
    base = path.rsplit("/", 1)[-1]
    for suffix in _KO_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


def select_modules(moddir: Path, wanted: Iterable[str] = WANTED_MODULES) -> KernelModules:
    """Read moddir/modules.dep and modules.builtin; pick `wanted` and what they depend on."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in _read_lines(moddir / "modules.dep"):
        module, sep, needs = line.partition(":")
        if not sep:
            continue
        deps[module] = needs.split()
        by_name[module_name(module)] = module
    builtin_names = {module_name(line.strip()) for line in _read_lines(moddir / "modules.builtin")}
    order: list[str] = []
    builtin: list[str] = []
    missing: list[str] = []

    def visit(module: str) -> None:
        # modules.dep lists a module's needs with the deepest last; load those first
        for need in reversed(deps.get(module, [])):
            if need not in order:
                visit(need)
        if module not in order:
            order.append(module)

    for name in wanted:
        key = name.replace("-", "_")
        if key in by_name:
            visit(by_name[key])
        elif key in builtin_names:
            builtin.append(name)
        else:
            missing.append(name)
    flat = {m: tuple(d.rsplit("/", 1)[-1] for d in deps.get(m, [])) for m in order}
    return KernelModules(
        kver=moddir.name,
        moddir=moddir,
        files=tuple(order),
        deps={m.rsplit("/", 1)[-1]: needs for m, needs in flat.items()},
        builtin=tuple(builtin),
        missing=tuple(missing),
    )


def kernel_module_dirs(root: Path) -> list[Path]:
    """ROOT/lib/modules/* and ROOT/usr/lib/modules/* (merged /usr or not), once each."""
    found: dict[str, Path] = {}
    for base in (root / "usr/lib/modules", root / "lib/modules"):
        if base.is_dir():
            for moddir in sorted(base.iterdir()):
                if (moddir / "modules.dep").exists():
                    found.setdefault(moddir.name, moddir)
    return [found[k] for k in sorted(found)]


def elf_interpreter(path: Path) -> str:
    """PT_INTERP of a 64-bit little-endian ELF file, or "" (static, not ELF, other class)."""
    with path.open("rb") as elf:
        head = elf.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return ""
        (phoff,) = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        for index in range(phnum):
            elf.seek(phoff + index * phentsize)
            ptype, _flags, offset, _vaddr, _paddr, size = struct.unpack("<IIQQQQ", elf.read(40))
            if ptype == _PT_INTERP:
                elf.seek(offset)
                return elf.read(size).rstrip(b"\0").decode(errors="replace")
    return ""


# ELF e_machine -> Debian architecture, for the trees we build (build-tools/freeze --arch)
DEBIAN_ARCHES = {62: "amd64", 183: "arm64", 3: "i386", 40: "armhf"}


def elf_arch(path: Path) -> str:
    """The Debian architecture of an ELF executable (e_machine), or "" if unknown."""
    with path.open("rb") as elf:
        head = elf.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return ""
    (machine,) = struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)
    return DEBIAN_ARCHES.get(machine, "")


def source_root() -> Path:
    """The checkout this package runs from (dist/, initramfs-hooks/ live there)."""
    return Path(ltsp_client.__file__).resolve().parent.parent


def default_binary_tree() -> Path:
    installed = Path(INSTALL_DIR)
    if (installed / "ltsp").is_file():
        return installed
    built = source_root() / "dist" / "ltsp"
    if (built / "ltsp").is_file():
        return built
    raise LtspError(
        f"no frozen ltsp binary in {INSTALL_DIR} or {built}",
        hint="build it with `build-tools/freeze`, pass --binary-tree DIR, or use --no-binary "
        "for images that have ltsp installed",
    )


def check_binary_tree(tree: Path) -> None:
    exe = tree / "ltsp"
    if not exe.is_file() or not (tree / "_internal").is_dir():
        raise LtspError(
            f"{tree} is not a frozen ltsp tree (no ltsp executable and _internal/)",
            hint="build one with `build-tools/freeze --out DIR`",
        )
    interp = elf_interpreter(exe)
    if not interp.startswith(INSTALL_DIR + "/"):
        raise LtspError(
            f"{exe} loads {interp or 'no interpreter'}, not one under {INSTALL_DIR}",
            hint="the clients run it from /usr/lib/ltsp; build it with `build-tools/freeze`",
        )


def default_hooks_dir() -> Path:
    for candidate in (source_root() / "initramfs-hooks", SHARE_HOOKS):
        if (candidate / "initramfs-tools" / "ltsp.conf").is_file():
            return candidate
    raise LtspError(
        "no initramfs hook (initramfs-tools/ltsp.conf) in the source tree or " + str(SHARE_HOOKS),
        hint="pass --hooks-dir DIR (the initramfs-hooks directory)",
    )


def validate_config(etc: Path) -> None:
    """Refuse to publish an ltsp.conf with errors (`ltsp config check`); log its warnings."""
    conf = etc / "ltsp.conf"
    if not conf.is_file():
        return
    from ltsp_client.config.validate import check_bytes
    from ltsp_client.pluginkit.paramdoc import all_params

    all_params()  # the built-in plugins declare theirs (LOCAL_SWAP, CRONTAB_x...)
    _parsed, problems = check_bytes(conf.read_bytes(), str(conf))
    for problem in problems:
        if not problem.error:
            log.warning("%s", problem.render())
    errors = [p.render() for p in problems if p.error]
    if errors:
        raise ConfigError(
            "ltsp.conf has errors, ltsp.img was not published:\n" + "\n".join(errors),
            file=conf,
            hint="fix them (`ltsp config check`), then run `ltsp initrd` again",
        )


@dataclass(frozen=True)
class Plan:
    """What goes into ltsp.img."""

    etc: Path
    hooks: Path
    binary_tree: Path | None
    module_roots: tuple[Path, ...]
    compression: str
    server_etc: Path | None = None  # the server's /etc: passwd, group, ssh and epoptes keys
    epoptes: bool = True  # IGNORE_EPOPTES=1 turns it off


def config_segment(plan: Plan) -> Archive:
    archive = Archive()
    conf = plan.hooks / "initramfs-tools" / "ltsp.conf"
    archive.add_file("conf/conf.d/00-ltsp.conf", conf.read_bytes(), 0o644)
    scripts = plan.hooks / "initramfs-tools" / "scripts"
    if scripts.is_dir():
        archive.add_tree(scripts, "scripts")
    if plan.etc.is_dir():
        archive.add_tree(plan.etc, "etc/ltsp")
    else:
        log.warning("%s does not exist; ltsp.img carries no /etc/ltsp", plan.etc)
        archive.add_dir("etc/ltsp")
    if plan.server_etc is not None:
        add_server_files(archive, plan)
    check_no_secrets(archive)
    return archive


def known_hosts(server_etc: Path) -> str:
    """`server KEY` for each public host key: clients then know the alias `server`."""
    lines = []
    for pub in sorted((server_etc / "ssh").glob("ssh_host_*_key.pub")):
        for line in pub.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                lines.append(f"server {line.strip()}")
    return "".join(f"{line}\n" for line in lines)


def add_server_files(archive: Archive, plan: Plan) -> None:
    """passwd and group (never shadow), ssh_known_hosts and epoptes.crt, unless the admin
    put their own in /etc/ltsp (spec §5.3 steps 5-7)."""
    if plan.server_etc is None:
        return
    for name in ("passwd", "group"):
        source = plan.server_etc / name
        if not (plan.etc / name).exists() and source.is_file():
            archive.add_file(f"etc/ltsp/{name}", source.read_bytes(), 0o644)
    hosts = known_hosts(plan.server_etc)
    if hosts and not (plan.etc / "ssh_known_hosts").exists():
        archive.add_file("etc/ltsp/ssh_known_hosts", hosts.encode(), 0o644)
    certificate = plan.server_etc / "epoptes/server.crt"
    if plan.epoptes and certificate.is_file():
        archive.add_file("etc/ltsp/epoptes.crt", certificate.read_bytes(), 0o644)


_SECRET_NAME = re.compile(r"(^|/)(g?shadow-?|[^/]*_key|[^/]*\.key)$")
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_HASHED_PASSWORD = re.compile(rb"^[^:\s]+:\$[0-9a-z]+\$[^:]+:", re.MULTILINE)


def check_no_secrets(archive: Archive) -> None:
    """ltsp.img is readable by anyone who can TFTP: refuse shadow data and private keys,
    even when an admin put them in /etc/ltsp."""
    found = []
    for entry in archive.entries():
        if not stat.S_ISREG(entry.mode):
            continue
        data = entry.source.read_bytes() if entry.source is not None else entry.data
        if _SECRET_NAME.search(entry.name):
            found.append(f"/{entry.name} (a shadow file or a private key, by its name)")
        elif _PRIVATE_KEY.search(data):
            found.append(f"/{entry.name} (holds a private key)")
        elif _HASHED_PASSWORD.search(data):
            found.append(f"/{entry.name} (holds password hashes)")
    if found:
        raise LtspError(
            "refusing to publish secrets in ltsp.img (anyone on the network can read it):\n  "
            + "\n  ".join(found),
            hint="remove them from /etc/ltsp; the clients get users without passwords",
        )


def _is_shell(entry: Entry) -> bool:
    if not stat.S_ISREG(entry.mode):
        return False
    if entry.name.endswith(".sh") or entry.name.startswith("conf/conf.d/"):
        return True
    if not entry.name.startswith("scripts/") or entry.source is None:
        return False
    with entry.source.open("rb") as script:
        first = script.readline(128)
    return first.startswith(b"#!") and first.split()[0].endswith(b"sh")


def check_shell_syntax(archive: Archive) -> None:
    """`sh -n` every shell file (hooks, *.sh): the initramfs would stop on a syntax error."""
    broken = []
    for entry in archive.entries():
        if not _is_shell(entry):
            continue
        text = entry.source.read_bytes() if entry.source is not None else entry.data
        result = run(["sh", "-n"], input=text.decode(errors="replace"), check=False, timeout=30)
        if not result.ok:
            broken.append(f"/{entry.name}: {result.stderr.strip()}")
    if broken:
        raise LtspError(
            "shell syntax errors, ltsp.img was not published:\n  " + "\n  ".join(broken),
            hint="fix the files named above, then run `ltsp initrd` again",
        )


def binary_segment(plan: Plan) -> tuple[Archive, list[KernelModules]]:
    archive = Archive()
    if plan.binary_tree is not None:
        archive.add_path(plan.binary_tree / "ltsp", "usr/lib/ltsp/ltsp")
        archive.add_tree(plan.binary_tree / "_internal", "usr/lib/ltsp/_internal")
    kernels: list[KernelModules] = []
    for root in plan.module_roots:
        dirs = kernel_module_dirs(root)
        if not dirs:
            raise LtspError(
                f"no kernel modules in {root}/lib/modules",
                hint="--modules-from takes an image root (a chroot or a mounted image)",
            )
        for moddir in dirs:
            kernels.append(add_modules(archive, select_modules(moddir)))
    return archive, kernels


def add_modules(archive: Archive, kernel: KernelModules) -> KernelModules:
    target = f"usr/lib/ltsp/modules/{kernel.kver}"
    for rel in kernel.files:
        archive.add_path(kernel.moddir / rel, f"{target}/{rel.rsplit('/', 1)[-1]}")
    # flat modules.dep, so the boot side can load dependencies first
    lines = [f"{name}: {' '.join(needs)}".rstrip() for name, needs in kernel.deps.items()]
    archive.add_file(f"{target}/modules.dep", "".join(f"{line}\n" for line in lines).encode())
    for name in kernel.missing:
        log.warning("kernel %s has no %s module (neither a file nor built in)", kernel.kver, name)
    return kernel


def publish(plan: Plan, output: Path) -> list[int]:
    """Write ltsp.img to a temp file next to `output`, then rename; return segment sizes."""
    validate_config(plan.etc)
    with step("initrd: collect"):
        config = config_segment(plan)
        check_shell_syntax(config)
        segments: list[tuple[Archive, str]] = [(config, "none")]
        binary, _kernels = binary_segment(plan)
        if len(binary):
            segments.append((binary, plan.compression))
    output.parent.mkdir(parents=True, exist_ok=True)
    sizes: list[int] = []
    with step("initrd: write", output=str(output)):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for archive, compression in segments:
                    start = out.tell()
                    write_segments(out, [(archive, compression)])
                    sizes.append(out.tell() - start)
                out.flush()
                os.fsync(out.fileno())
            tmp.chmod(0o644)
            os.replace(tmp, output)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return sizes


def parse_args(ctx: Context, args: Sequence[str]) -> tuple[Plan, Path]:
    parser = argparse.ArgumentParser(
        prog="ltsp initrd",
        description="Build ltsp.img: the ltsp binary, kernel modules, /etc/ltsp and the "
        "initramfs hook, loaded by the clients in front of their own initrd.",
    )
    parser.add_argument(
        "--output", type=Path, metavar="FILE", help="write here instead of TFTP_DIR/ltsp/ltsp.img"
    )
    parser.add_argument(
        "--binary-tree",
        type=Path,
        metavar="DIR",
        help=f"frozen ltsp tree (default {INSTALL_DIR}, else dist/ltsp of the source tree)",
    )
    parser.add_argument(
        "--no-binary",
        action="store_true",
        help="leave the binary out (images with ltsp and its initramfs hook installed)",
    )
    parser.add_argument(
        "--modules-from",
        type=Path,
        action="append",
        default=[],
        metavar="ROOT",
        help="add squashfs, overlay, loop, isofs, nbd for every kernel in ROOT/lib/modules "
        "(repeatable)",
    )
    settings.add_etc_option(parser)
    parser.add_argument(
        "--hooks-dir", type=Path, metavar="DIR", help="the initramfs-hooks directory"
    )
    parser.add_argument(
        "--server-etc",
        type=Path,
        default=Path("/etc"),
        metavar="DIR",
        help="where the server's passwd, group, ssh host keys and epoptes/ are (default /etc)",
    )
    parser.add_argument(
        "--compress",
        choices=COMPRESSIONS,
        default="gzip",
        help="compression of the binary and modules segment (default gzip)",
    )
    opts = parser.parse_args(list(args))
    if opts.no_binary and opts.binary_tree:
        parser.error("--no-binary and --binary-tree exclude each other")
    server = settings.load(ctx, "initrd", opts.etc)
    ctx = server.ctx
    tree: Path | None = None
    carried = images_carry_client(ctx.base_dir / "images")
    if not opts.no_binary and (opts.binary_tree or not carried):
        tree = opts.binary_tree.resolve() if opts.binary_tree else default_binary_tree()
        check_binary_tree(tree)
    elif carried and not opts.no_binary:
        log.info("every image carries %s: ltsp.img is configuration only", CLIENT_PACKAGE)
    plan = Plan(
        etc=opts.etc,
        hooks=opts.hooks_dir if opts.hooks_dir else default_hooks_dir(),
        binary_tree=tree,
        module_roots=tuple(opts.modules_from),
        compression=opts.compress,
        server_etc=opts.server_etc,
        epoptes=not server.flag("IGNORE_EPOPTES"),
    )
    conf = plan.hooks / "initramfs-tools" / "ltsp.conf"
    if not conf.is_file():
        raise LtspError(
            f"{conf} is missing", hint="--hooks-dir takes the initramfs-hooks directory"
        )
    output = opts.output if opts.output else ctx.tftp_dir / "ltsp" / "ltsp.img"
    return plan, output


def images_carry_client(images_dir: Path) -> bool:
    """True when every published image has our client package (ltsp image records it):
    their own initrds then carry the client, and ltsp.img needs no binary."""
    names = image_names(images_dir)
    if not names:
        return False
    for name in names:
        version = serving_version(images_dir, name)
        if version is None or not version.meta().get("client_package"):
            return False
    return True


def _human(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"


def main(ctx: Context, args: list[str]) -> int:
    plan, output = parse_args(ctx, args)
    try:
        sizes = publish(plan, output)
    except OSError as exc:
        raise LtspError(
            f"cannot write {output}: {exc.strerror or exc}",
            hint="the previous ltsp.img, if any, is unchanged",
        ) from exc
    kinds = ("configuration", f"binary and modules ({plan.compression})")
    parts = ", ".join(f"{_human(n)} {kind}" for n, kind in zip(sizes, kinds, strict=False))
    print(f"{output}: {_human(sum(sizes))} ({parts})")
    return 0
