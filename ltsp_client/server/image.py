"""`ltsp image`: squash chroots, VM disks or `/` into versioned images (docs/publisher.md).

Per source: mount it read-only with a tmpfs overlay (sources.py), hold the
chroot's dpkg lock, clean the overlay (cleanup.py), mksquashfs it with the
exclude list (excludes.py, squash.py) into a new version, switch to it
(publish.py), then publish its kernel (kernel.py).
"""

from __future__ import annotations

import argparse
import logging
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltsp_client.appcontext import Context
from ltsp_client.config.model import Config
from ltsp_client.errors import ConfigError
from ltsp_client.server import cleanup, excludes, kernel, publish, settings, sources, squash
from ltsp_client.server.initrd import CLIENT_PACKAGE
from ltsp_client.system.imagesource import Element

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageSettings:
    cleanup: bool = True
    keep: int = publish.DEFAULT_KEEP
    ionice: str | None = None  # None: nice + ionice -c3
    kernel_initrd: str = ""
    mksquashfs_params: tuple[str, ...] = ()
    add_excludes: str = ""
    omit_excludes: str = ""
    omit_functions: tuple[str, ...] = ()
    excludes_override: Path | None = Path("/etc/ltsp/image.excludes")
    kernel: bool = True


def image_settings(conf: Config, opts: argparse.Namespace, etc: Path) -> ImageSettings:
    """ltsp.conf values, the command line's options on top."""
    given = {"BACKUP": opts.backup, "CLEANUP": opts.cleanup}  # -b/-c win over ltsp.conf
    conf = conf.with_values({k: v for k, v in given.items() if v is not None})
    backup = conf.flag("BACKUP")
    keep = publish.DEFAULT_KEEP if backup else 1
    if conf.raw("IMAGE_VERSIONS"):
        keep = conf.number("IMAGE_VERSIONS")  # a ConfigError names file:line if not a number
        if keep < 1:
            raise ConfigError(
                f"IMAGE_VERSIONS={keep} keeps no image",
                param="IMAGE_VERSIONS",
                hint="versions kept per image, at least 1, e.g. IMAGE_VERSIONS=3",
            )
    params = opts.mksquashfs_params
    if params is None:
        params = " ".join(conf.words_of("MKSQUASHFS_PARAMS"))
    return ImageSettings(
        cleanup=conf.flag("CLEANUP"),
        keep=keep,
        ionice=opts.ionice if opts.ionice is not None else conf.get("IONICE"),
        kernel_initrd=opts.kernel_initrd or conf.text("KERNEL_INITRD"),
        mksquashfs_params=tuple(params.split()),
        add_excludes=conf.text("ADD_IMAGE_EXCLUDES"),
        omit_excludes=conf.text("OMIT_IMAGE_EXCLUDES"),
        omit_functions=tuple(conf.words_of("OMIT_FUNCTIONS")),
        excludes_override=etc / "image.excludes",
    )


def client_package_version(root: Path) -> str:
    """The installed version of our client package in the image, or ""."""
    try:
        status = (root / "var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for block in status.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != " "
        )
        if fields.get("Package") == CLIENT_PACKAGE and "installed" in fields.get("Status", ""):
            return fields.get("Version", "")
    return ""


@dataclass(frozen=True)
class ImageResult:
    published: publish.Published
    kernel: kernel.KernelResult | None
    cleaned: tuple[str, ...]
    seconds: float


def build_image(
    source: sources.Source,
    images_dir: Path,
    tftp_dir: Path,
    config: ImageSettings,
    progress: squash.Progress,
    *,
    terminal: bool = False,
) -> ImageResult:
    """Mount, clean, squash into a new version, switch, publish the kernel."""
    with ExitStack() as stack:
        if source.is_dir:
            stack.enter_context(squash.dpkg_lock(source.first))
        progress.phase(f"{source.name}: mounting {source.first} read-only with a tmpfs overlay")
        root = stack.enter_context(sources.mounted(source))
        cleaned: list[str] = []
        if config.cleanup and "cleanup_main" not in config.omit_functions:
            progress.phase(f"{source.name}: cleaning the overlay (the source is not touched)")
            cleaned = cleanup.run_cleanup(root, config.omit_functions)
        exclude_file = root.parent / "image.excludes"
        patterns = excludes.exclude_list(
            override=config.excludes_override,
            add=config.add_excludes,
            omit=config.omit_excludes,
        )
        exclude_file.write_text("".join(f"{p}\n" for p in patterns), encoding="utf-8")
        prefix = squash.ionice_prefix(config.ionice)
        package = client_package_version(root)

        def write(partial: Path) -> dict[str, Any]:
            argv = squash.mksquashfs_argv(
                root,
                partial,
                exclude_file,
                config.mksquashfs_params,
                prefix=prefix,
                progress=terminal,
            )
            progress.phase(f"{source.name}: squashing ({' '.join(argv[len(prefix) + 3 :])})")
            squash.run_mksquashfs(argv, progress=terminal)
            return {
                "name": source.name,
                "source": source.chain[0].path,
                "kind": source.kind,
                "mksquashfs": argv[len(prefix) :],
                "size": partial.stat().st_size,
                "seconds": round(progress.elapsed(), 1),
                "client_package": package,
                "cleanup": cleaned,
            }

        published = publish.publish_version(images_dir, source.name, write, keep=config.keep)
        progress.phase(f"{source.name}: serving {published.version.path.name}")
        result_kernel = None
        if config.kernel:
            tree = kernel.DirTree(root)
            result_kernel = kernel.publish_from_tree(
                tree, source.name, tftp_dir, config.kernel_initrd
            )
    return ImageResult(published, result_kernel, tuple(cleaned), progress.elapsed())


def image_sources(args: list[str], base_dir: Path, all_images: bool) -> list[str]:
    return kernel.kernel_sources(args, base_dir, all_images)


def parse_args(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ltsp image",
        description="Squash chroots, VM disks or / into versioned images in BASE_DIR/images.",
    )
    parser.add_argument("-b", "--backup", type=settings.bool_option, metavar="0|1")
    parser.add_argument("-c", "--cleanup", type=settings.bool_option, metavar="0|1")
    parser.add_argument("-i", "--ionice", metavar="CMD", help="command prefix; '' for none")
    parser.add_argument("-k", "--kernel-initrd", metavar="'GLOB SEDEXPR'")
    parser.add_argument("-m", "--mksquashfs-params", metavar="PARAMS")
    parser.add_argument(
        "-r", "--revert", action="store_true", help="serve the previous version again (-r[0|1])"
    )
    settings.add_etc_option(parser)
    parser.add_argument("sources", nargs="*", metavar="IMG_SRC")
    # upstream's optional attached value: -r0, -r1, --revert=0, --revert=1
    words = ["-r" if w in ("-r1", "--revert=1") else w for w in args]
    return parser.parse_args([w for w in words if w not in ("-r0", "--revert=0")])


def revert_image(name: str, ctx: Context, config: ImageSettings) -> str:
    images_dir = ctx.base_dir / "images"
    link, message = publish.revert(images_dir, name)
    if config.kernel:
        source = sources.Source(name, (Element(str(link)),), "image")
        result = kernel.publish_kernel(source, ctx.tftp_dir, config.kernel_initrd)
        if result is None:
            message += "\n  (its kernel was not found; TFTP_DIR keeps the current one)"
    return message


def main(ctx: Context, args: list[str]) -> int:
    opts = parse_args(args)
    server = settings.load(ctx, "image", opts.etc)
    ctx, conf = server.ctx, server.config
    config = image_settings(conf, opts, opts.etc)
    values = image_sources(opts.sources, ctx.base_dir, conf.flag("ALL_IMAGES"))
    if opts.revert or conf.flag("REVERT"):
        for value in values:
            name = sources.name_of(value) if value.startswith(("/", ".")) else value
            print(revert_image(name, ctx, config))
        return 0
    if os.geteuid() == 0:
        # our mounts vanish with this process, whatever kills it
        sources.private_mount_namespace()
    progress = squash.Progress()
    terminal = squash.is_terminal()
    for value in values:
        source = sources.resolve(value, ctx.base_dir)
        result = build_image(
            source, ctx.base_dir / "images", ctx.tftp_dir, config, progress, terminal=terminal
        )
        size = result.published.version.path.stat().st_size / 2**20
        print(
            f"{ctx.base_dir / 'images' / (source.name + '.img')} -> "
            f"{result.published.version.path.name} ({size:.0f} MiB, {result.seconds:.1f}s)"
        )
        pi_message = kernel.publish_rpi_image(ctx, conf, source.name) if config.kernel else ""
        if pi_message:  # like `ltsp kernel`: now with ltsp.image= in cmdline.txt
            print(pi_message)
        elif result.kernel is None:
            print(f"{source.name}: Could not locate vmlinuz and initrd.img")
        for old in result.published.pruned:
            print(f"  removed old version {old.version}")
    return 0
