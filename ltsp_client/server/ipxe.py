"""`ltsp ipxe`: the iPXE menu (TFTP_DIR/ltsp/ltsp.ipxe) and the iPXE/memtest binaries.

The menu has one item per exported image (BASE_DIR/images/NAME.img, booted with
the "images" method) and one per chroot (BASE_DIR/NAME, the "roots" method);
ltsp.conf gives DEFAULT_IMAGE, KERNEL_PARAMETERS, MENU_TIMEOUT, IPXE_<NAME>
titles, and per-MAC blocks from `[MAC]` sections (spec §5.4). The script is
generated here, not copied from upstream's template, but has its structure:
labels `:images`, `:roots`, `:ltsp`, one `:<mac>` label per client block.

HTTP boot (our addition): with HTTP=1 or HTTP_URL set, the kernel and both
initrds load from HTTP_URL/ltsp/... (default `http://${srv}`: the TFTP_DIR served
over HTTP by the LTSP server); if that fails the script falls back to TFTP.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.appcontext import Context
from ltsp_client.config.params import KNOWN_PARAMS
from ltsp_client.errors import LtspError
from ltsp_client.server import catalog
from ltsp_client.server.settings import ServerConfig, add_etc_option, load, write_atomic

log = logging.getLogger(__name__)

MENU_FILE = "ltsp.ipxe"
DEFAULT_TIMEOUT_MS = KNOWN_PARAMS["MENU_TIMEOUT"].default  # the parameter table's
DEFAULT_HTTP_URL = "http://${srv}"
MAC_SECTION = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
CLIENT_PARAMS = ("DEFAULT_IMAGE", "KERNEL_PARAMETERS", "MENU_TIMEOUT")
RESERVED_LABELS = frozenset(
    ("start", "images", "roots", "ltsp", "ltsp_tftp", "memtest", "config", "shell", "disk",
     "exit", "cancel", "failed")
)  # fmt: skip


@dataclass(frozen=True)
class Binary:
    """A file `ltsp ipxe` copies into TFTP_DIR/ltsp: first existing source wins."""

    target: str
    sources: tuple[str, ...]  # absolute paths, globs allowed
    required: bool  # missing -> error (iPXE loaders) or warning (memtest, other arches)


BINARIES: tuple[Binary, ...] = (
    Binary("memtest.0", ("/boot/memtest86+*32.bin", "/boot/memtest86+.bin"), required=False),
    Binary("memtest.efi", ("/boot/memtest86+x64.efi",), required=False),
    Binary("snponly.efi", ("/usr/lib/ipxe/snponly.efi", "/usr/lib/ipxe/ipxe.efi"), required=True),
    Binary("undionly.kpxe", ("/usr/lib/ipxe/undionly.kpxe",), required=True),
    Binary(
        "snponly-arm64.efi",
        ("/usr/lib/ipxe/arm64-efi/snponly.efi", "/usr/lib/ipxe/arm64-efi/ipxe.efi"),
        required=False,
    ),
)
VENDOR_BINARIES = "/usr/share/ltsp/binaries"  # upstream's optional ltsp-binaries package


@dataclass(frozen=True)
class Item:
    ident: str  # label and menu id: the image name, or r_<name> for a chroot
    name: str
    title: str
    chroot: bool


@dataclass(frozen=True)
class ClientBlock:
    mac: str
    hostname: str = ""
    image: str = ""
    cmdline: str = ""
    timeout: str = ""


@dataclass(frozen=True)
class Menu:
    base_dir: str
    items: tuple[Item, ...]
    clients: tuple[ClientBlock, ...] = ()
    default_image: str = ""
    kernel_parameters: str = ""
    timeout: str = ""
    http_url: str = ""
    memtest: bool = False


def title_param(name: str) -> str:
    """IPXE_<NAME>: x86_64.img -> IPXE_X86_64_IMG, buster -> IPXE_BUSTER."""
    return "IPXE_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def menu_items(base_dir: Path, settings: ServerConfig) -> tuple[Item, ...]:
    items = []
    for name in catalog.exported_images(base_dir):
        title = settings.text(title_param(f"{name}.img")) or f"{name}.img"
        items.append(Item(name, name, title, chroot=False))
    for name in catalog.chroots(base_dir):
        title = settings.text(title_param(name)) or name
        items.append(Item(f"r_{name}", name, title, chroot=True))
    return tuple(items)


def client_blocks(settings: ServerConfig) -> tuple[ClientBlock, ...]:
    """One block per `[MAC]` section (exact MACs, file order) that sets a client parameter."""
    blocks = []
    seen = set()
    for conf in settings.result.files:
        for section in conf.sections:
            mac = section.name
            if not MAC_SECTION.fullmatch(mac) or mac in seen:
                continue
            seen.add(mac)
            got = settings.result.section_call(mac, unset=(*CLIENT_PARAMS, "HOSTNAME"))
            if not any(got.get_str(p) for p in CLIENT_PARAMS):
                continue
            blocks.append(
                ClientBlock(
                    mac=mac,
                    hostname=got.get_str("HOSTNAME"),
                    image=got.get_str("DEFAULT_IMAGE"),
                    cmdline=got.get_str("KERNEL_PARAMETERS"),
                    timeout=got.get_str("MENU_TIMEOUT"),
                )
            )
    return tuple(blocks)


def http_url(settings: ServerConfig) -> str:
    """HTTP_URL, or the default when HTTP=1; "" means TFTP only."""
    url = settings.text("HTTP_URL").strip().rstrip("/")
    if url:
        if not re.match(r"(https?://|\$\{)", url):
            raise LtspError(
                f"HTTP_URL={url!r} is not an http:// URL",
                hint="e.g. HTTP_URL='http://${srv}:8080' (single quotes keep ${srv} for iPXE)",
            )
        return url
    return DEFAULT_HTTP_URL if settings.flag("HTTP") else ""


def _timeout(value: str, where: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"-1|\d+", value):
        raise LtspError(
            f"MENU_TIMEOUT={value!r} {where} is not a number of milliseconds",
            hint="0 waits forever, -1 hides the menu",
        )
    return value


def render(menu: Menu) -> str:
    """The iPXE script."""
    out = [
        "#!ipxe",
        "# Generated by `ltsp ipxe`: run it again after adding images or changing ltsp.conf.",
        "",
        "# Default image: by CPU, or the DHCP root-path; server: proxy DHCP or next-server",
        "cpuid --ext 29 && set img x86_64 || set img x86_32",
        "isset ${root-path} && set img ${root-path} ||",
        "isset ${proxydhcp/dhcp-server} && set srv ${proxydhcp/dhcp-server}"
        " || set srv ${next-server}",
        "set cmdline_ltsp BOOTIF=01-${mac:hexhyp}",
    ]
    if menu.kernel_parameters:
        out.append(f"set cmdline_client {menu.kernel_parameters}")
    if menu.default_image:
        out.append(f"set img {menu.default_image}")
    if menu.http_url:
        out.append(f"set http-url {menu.http_url}")
    out += ["", "goto ${mac} || goto start", ""]
    for block in menu.clients:
        out.append(f":{block.mac}")
        if block.hostname:
            out.append(f"set hostname {block.hostname}")
        if block.image:
            out.append(f"set img {block.image}")
        if block.cmdline:
            out.append(f"set cmdline_client {block.cmdline}")
        if block.timeout:
            out.append(f"set menu-timeout {block.timeout}")
        out += ["goto start", ""]
    timeout = menu.timeout or DEFAULT_TIMEOUT_MS
    out += [
        ":start",
        f"isset ${{menu-timeout}} || set menu-timeout {timeout}",
        'iseq "${menu-timeout}" "-1" && goto ${img} ||',
        "menu LTSP boot menu - ${hostname}:${srv}:${root-path} || goto ${img}",
        "item --gap Boot an image from the network in LTSP mode:",
    ]
    for key, item in enumerate(menu.items, start=1):
        out.append(f"item --key {key % 10} {item.ident:<20} {item.title}")
    out += ["item", "item --gap Other options:"]
    if menu.memtest:
        out.append(f"item --key m {'memtest':<20} Memory test")
    out += [
        f"item --key c {'config':<20} Enter iPXE configuration",
        f"item --key s {'shell':<20} Drop to iPXE shell",
        f"item --key d {'disk':<20} Boot from the first local disk",
        "item",
        f"item --key x {'exit':<20} Exit iPXE and continue BIOS boot",
        "choose --timeout ${menu-timeout} --default ${img} img || goto cancel",
        "goto ${img}",
        "",
    ]
    images = [i for i in menu.items if not i.chroot]
    chroots = [i for i in menu.items if i.chroot]
    out += [f":{item.ident}" for item in images]
    out += [
        ":images",
        "set cmdline_method root=/dev/nfs nfsroot=${srv}:"
        + menu.base_dir
        + " ltsp.image=images/${img}.img loop.max_part=9",
        "goto ltsp",
        "",
    ]
    for item in chroots:
        out += [f":{item.ident}", f"set img {item.name}", "goto roots", ""]
    out += [
        ":roots",
        "set cmdline_method root=/dev/nfs nfsroot=${srv}:" + menu.base_dir + "/${img}",
        "goto ltsp",
        "",
        ":ltsp",
        "set cmdline ${cmdline_method} ${cmdline_ltsp} ${cmdline_client}",
    ]
    if menu.http_url:
        # kernel and initrds over HTTP (5-10x faster than TFTP); TFTP if any of them fails
        out += [
            "isset ${http-url} || goto ltsp_tftp",
            "kernel ${http-url}/ltsp/${img}/vmlinuz initrd=ltsp.img initrd=initrd.img ${cmdline}"
            " || goto ltsp_tftp",
            "initrd ${http-url}/ltsp/ltsp.img || goto ltsp_tftp",
            "initrd ${http-url}/ltsp/${img}/initrd.img || goto ltsp_tftp",
            "boot || goto failed",
            "",
            ":ltsp_tftp",
            "echo HTTP failed, loading over TFTP",
            "imgfree",
        ]
    out += [
        "# in EFI mode iPXE needs the initrd= names on the command line",
        "kernel /ltsp/${img}/vmlinuz initrd=ltsp.img initrd=initrd.img ${cmdline}",
        "initrd /ltsp/ltsp.img",
        "initrd /ltsp/${img}/initrd.img",
        "boot || goto failed",
        "",
    ]
    if menu.memtest:
        out += [
            ":memtest",
            "iseq ${platform} pcbios && kernel memtest.0 || kernel memtest.efi",
            "# memtest returns with a failure when left with Esc: show the menu again",
            "boot ||",
            "goto start",
            "",
        ]
    out += [
        ":config",
        "config",
        "goto start",
        "",
        ":shell",
        "echo Type 'exit' to get back to the menu",
        "shell",
        "goto start",
        "",
        ":disk",
        "sanboot --no-describe --drive 0x80 || goto failed",
        "",
        ":exit",
        "# a failure status makes the firmware try its next boot device",
        "exit 1",
        "",
        ":cancel",
        "echo You cancelled the menu, dropping to shell",
        "goto shell",
        "",
        ":failed",
        "echo Booting failed, dropping to shell",
        "goto shell",
    ]
    return "\n".join(out) + "\n"


def _find_source(binary: Binary, source_root: Path) -> Path | None:
    patterns = (f"{VENDOR_BINARIES}/{binary.target}", *binary.sources)
    for pattern in patterns:
        rel = pattern.lstrip("/")
        matches = sorted(source_root.glob(rel)) if any(c in rel for c in "*?[") else []
        candidates = matches or [source_root / rel]
        for path in candidates:
            if path.is_file():
                return path
    return None


def install_binaries(target_dir: Path, *, mode: str, source_root: Path = Path("/")) -> list[str]:
    """Copy the loaders and memtest into target_dir (mode "1": always, "": only missing ones).

    Returns messages; a missing iPXE loader is an error, a missing memtest a warning.
    """
    messages = []
    missing = []
    no_memtest = []
    for binary in BINARIES:
        target = target_dir / binary.target
        if mode != "1" and target.is_file():
            messages.append(f"Skipped existing {target}")
            continue
        source = _find_source(binary, source_root)
        if source is None:
            if binary.required:
                missing.append(binary.target)
            elif binary.target.startswith("memtest"):
                no_memtest.append(binary.target)
            continue
        target_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copy2(source, tmp)
        tmp.chmod(0o644)
        tmp.replace(target)
        messages.append(f"Installed {source} in {target}")
    if no_memtest:
        log.warning(
            "no %s (memtest86+ package): the menu has no memory test", " or ".join(no_memtest)
        )
    if missing:
        raise LtspError(
            "could not locate the iPXE binaries " + ", ".join(missing),
            hint="install Debian's ipxe package (or ltsp-binaries), or use --binaries=0",
        )
    return messages


def build_menu(settings: ServerConfig, *, tftp_ltsp: Path) -> Menu:
    base_dir = settings.ctx.base_dir
    items = menu_items(base_dir, settings)
    default_image = settings.text("DEFAULT_IMAGE")
    menu = Menu(
        base_dir=str(base_dir),
        items=items,
        clients=client_blocks(settings),
        default_image=default_image,
        kernel_parameters=settings.text("KERNEL_PARAMETERS"),
        timeout=_timeout(settings.text("MENU_TIMEOUT"), "in ltsp.conf"),
        http_url=http_url(settings),
        memtest=any((tftp_ltsp / n).is_file() for n in ("memtest.0", "memtest.efi")),
    )
    for block in menu.clients:
        _timeout(block.timeout, f"in [{block.mac}]")
    return menu


def problems(menu: Menu, tftp_ltsp: Path) -> list[str]:
    """What would make a client fail to boot from this menu."""
    found = []
    labels = {i.ident for i in menu.items} | {i.name for i in menu.items if not i.chroot}
    if not menu.items:
        found.append("no images or chroots in the menu (run `ltsp image` first)")
    for item in menu.items:
        if item.ident in RESERVED_LABELS:
            found.append(f"image {item.ident}: the name is one of the menu's own labels; rename it")
    for item in menu.items:
        if not (tftp_ltsp / item.name / "vmlinuz").is_file():
            found.append(f"{item.name}: no kernel in {tftp_ltsp / item.name} (run `ltsp kernel`)")
    wanted = [("DEFAULT_IMAGE", menu.default_image)]
    wanted += [(f"[{b.mac}] DEFAULT_IMAGE", b.image) for b in menu.clients]
    for where, image in wanted:
        if image and image not in labels:
            found.append(f"{where}={image} is not an image or chroot (r_NAME) of the menu")
    return found


def parse_args(args: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ltsp ipxe",
        description="Install the iPXE menu (TFTP_DIR/ltsp/ltsp.ipxe) and the iPXE and "
        "memtest binaries.",
    )
    parser.add_argument(
        "-b",
        "--binaries",
        nargs="?",
        const="1",
        choices=("0", "1"),
        help="1: reinstall the binaries, 0: skip them; default: install the missing ones "
        "(BINARIES)",
    )
    add_etc_option(parser)
    parser.add_argument(
        "--source-root",
        type=Path,
        default=Path("/"),
        metavar="DIR",
        help="look for the iPXE/memtest binaries under DIR (default /)",
    )
    return parser.parse_args(list(args))


def main(ctx: Context, args: list[str]) -> int:
    opts = parse_args(args)
    settings = load(ctx, "ipxe", opts.etc)
    binaries = opts.binaries if opts.binaries is not None else settings.text("BINARIES").strip()
    if binaries not in ("", "0", "1"):
        raise LtspError(f"BINARIES={binaries!r}: use 1, 0 or leave it unset")
    tftp_ltsp = settings.ctx.tftp_dir / "ltsp"
    if binaries != "0":
        for message in install_binaries(tftp_ltsp, mode=binaries, source_root=opts.source_root):
            print(message)
    target = tftp_ltsp / MENU_FILE
    menu = build_menu(settings, tftp_ltsp=tftp_ltsp)
    if target.exists() and settings.overwrite_refused():
        log.warning("%s exists and OVERWRITE=0: kept it", target)
        print(f"Kept existing {target} (OVERWRITE=0; `ltsp --overwrite ipxe` replaces it)")
    else:
        write_atomic(target, render(menu))
        print(f"Installed {target}")
    for problem in problems(menu, tftp_ltsp):
        log.warning("%s", problem)
    return 0
