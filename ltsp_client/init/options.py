"""The command line of `ltsp init`: pid 1's (lenient), or `--root DIR`'s (strict).

As pid 1 the arguments are the kernel's words for the real init: ours come
first and anything else is passed on, never an error. With `--root DIR` we
are a command an admin typed: every word must be one of our options, and a
misspelled one is an error naming it (a dry run must never turn into a real
run because `--dry-rn` was passed on to the init).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ltsp_client.errors import LtspError

if TYPE_CHECKING:
    from ltsp_client.system.facts import NetworkFacts

USAGE = """\
Usage: ltsp init [-- INIT-ARGS...]
       ltsp init --root DIR [--config FILE] [--mac MAC --ip IP/PREFIX [--hostname NAME]
                 [--server IP] [--dns IP,IP] [--device NAME]] [--hooks] [--dry-run]
                 [-- INIT-ARGS...]

As pid 1: configure this client from ltsp.conf, restore /sbin/init and exec it.
Any arguments are passed to the real init.

With --root DIR: apply the plugins of the init stage to DIR (an unpacked image)
for the client given by --mac and --ip, and report what each plugin did.
  --config FILE   read this ltsp.conf instead of DIR/etc/ltsp/ltsp.conf
  --mac MAC       the client's MAC address (selects the [MAC] sections)
  --ip IP/PREFIX  its address and subnet, as DHCP would give it
  --hostname NAME the name DHCP would give it (default: none, HOSTNAME= decides)
  --server IP     the LTSP server (default: the subnet's first address, .1)
  --dns IP,IP     DNS servers from DHCP (default: the server)
  --device NAME   the boot network interface's name (default: eth0)
  --hooks         also run the PRE_INIT/POST_INIT hooks (they run on this machine)
  --dry-run       change nothing in DIR: apply to a scratch view and print a
                  unified diff of what the client would get
  -- INIT-ARGS    then restore DIR/sbin/init and exec it with INIT-ARGS, as pid 1
                  does (also done without `--` when running as pid 1)"""

# option -> takes a value
ROOT_OPTIONS = {
    "--root": True,
    "--config": True,
    "--mac": True,
    "--ip": True,
    "--hostname": True,
    "--server": True,
    "--dns": True,
    "--device": True,
    "--hooks": False,
    "--dry-run": False,
}
CLIENT_OPTIONS = ("--hostname", "--server", "--dns", "--device")


@dataclass(frozen=True)
class Options:
    root: Path = Path("/")
    test_root: bool = False  # --root given
    hooks: bool = True
    init_args: tuple[str, ...] = ()
    hand_over: bool = True  # restore and exec the real init afterwards
    config_file: Path | None = None
    client: NetworkFacts | None = None
    dry_run: bool = False
    # the root is not / but the kernel and network are the client's (init/early.py)
    live: bool = False


def parse_args(args: Sequence[str]) -> Options | None:
    """Options for pid 1 or for `--root DIR`; None after printing the usage for --help."""
    words = list(args)
    ours = words[: words.index("--")] if "--" in words else words
    if any(w == "--root" or w.startswith("--root=") for w in ours):
        return parse_root_args(words)
    if words[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return None
    if words[:1] == ["--"]:
        words.pop(0)
    return Options(init_args=tuple(words))


def _unknown(word: str) -> LtspError:
    name = word.partition("=")[0]
    if not name.startswith("-"):
        return LtspError(
            f"unexpected argument {word!r}",
            hint="arguments for the image's init go after `--`; see `ltsp init --help`",
        )
    import difflib  # only for a mistyped option

    close = difflib.get_close_matches(name, [*ROOT_OPTIONS, "--help"], n=1)
    hint = f"did you mean {close[0]}?" if close else "see `ltsp init --help`"
    return LtspError(f"unknown option {name}", hint=hint)


def parse_root_args(args: Sequence[str]) -> Options | None:
    """The strict `--root DIR ...` form: an unknown word is an error, never an init argument."""
    rest = list(args)
    values: dict[str, str] = {}
    flags: set[str] = set()
    init_args: tuple[str, ...] | None = None
    while rest:
        word = rest.pop(0)
        if word == "--":
            init_args = tuple(rest)
            break
        if word in ("-h", "--help"):
            print(USAGE)
            return None
        name, eq, value = word.partition("=")
        if name not in ROOT_OPTIONS:
            raise _unknown(word)
        if not ROOT_OPTIONS[name]:
            if eq:
                raise LtspError(f"{name} takes no value", hint="see `ltsp init --help`")
            flags.add(name)
            continue
        if not eq:
            if not rest or rest[0].startswith("--"):
                raise LtspError(f"{name} needs a value", hint="see `ltsp init --help`")
            value = rest.pop(0)
        if name in values:
            raise LtspError(f"{name} given twice")
        values[name] = value
    return _root_options(values, flags, init_args)


def _root_options(
    values: dict[str, str], flags: set[str], init_args: tuple[str, ...] | None
) -> Options:
    if ("--mac" in values) != ("--ip" in values):
        raise LtspError("--mac and --ip go together", hint="give both, or neither")
    stray = [o for o in CLIENT_OPTIONS if o in values and "--mac" not in values]
    if stray:
        raise LtspError(f"{stray[0]} describes a client: give --mac and --ip too")
    dry_run = "--dry-run" in flags
    if dry_run and init_args is not None:
        raise LtspError("a dry run execs nothing: drop `-- INIT-ARGS`")
    if dry_run and "--hooks" in flags:
        raise LtspError(
            "--hooks runs shell on this machine; a dry run runs none",
            hint="try the hooks on a test client",
        )
    root = Path(values["--root"]).resolve()
    if not root.is_dir():
        raise LtspError(f"--root {values['--root']}: not a directory")
    config_file = Path(values["--config"]) if "--config" in values else None
    if config_file is not None and not config_file.is_file():
        raise LtspError(f"--config {config_file}: no such file")
    client = None
    if "--mac" in values:
        from ltsp_client.system.facts import client_facts

        client = client_facts(
            mac=values["--mac"],
            address=values["--ip"],
            hostname=values.get("--hostname", ""),
            server=values.get("--server", ""),
            dns=tuple(d for d in values.get("--dns", "").split(",") if d),
            device=values.get("--device", "eth0"),
        )
    return Options(
        root=root,
        test_root=True,
        hooks="--hooks" in flags,
        init_args=init_args or (),
        hand_over=init_args is not None,
        config_file=config_file,
        client=client,
        dry_run=dry_run,
    )
