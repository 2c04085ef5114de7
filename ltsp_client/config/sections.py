"""Which sections of ltsp.conf apply to this process, in which order, and what they assign.

This follows upstream's evaluation rule for rule (spec §2.4): every section is a
function guarded to run once per process; a dispatcher matches each value
against the section patterns in file order and runs only the first match;
values are passed in the order unnamed, clients, common, server, MAC, IP, then
HOSTNAME, then the applet ones. Raw shell lines are kept, never executed.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ltsp_client.config.loader import (
    UNNAMED,
    Assignment,
    ConfFile,
    Include,
    Section,
    read_conf,
)
from ltsp_client.config.model import Config, Identity, Origin
from ltsp_client.config.params import DEFAULT_DIRS
from ltsp_client.config.shellwords import (
    Expander,
    ExpansionError,
    assignment_words,
)
from ltsp_client.errors import ConfigError

MAX_INCLUDE_DEPTH = 200


@dataclass(frozen=True)
class Note:
    """Something the evaluation skipped or could not do exactly (for `check`)."""

    file: str
    line: int
    param: str
    message: str
    hint: str = ""
    error: bool = False


@dataclass
class Evaluation:
    """Mutable state of one process's evaluation: the shell variables and the guards."""

    variables: dict[str, str]
    assigned: dict[str, str] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)
    functions: dict[str, Section] = field(default_factory=dict)
    bodies: dict[str, str] = field(default_factory=dict)
    sections_run: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    depth: int = 0

    def set(self, name: str, value: str, origin: Origin) -> None:
        self.variables[name] = value
        self.assigned.pop(name, None)
        self.assigned[name] = value
        self.origins[name] = origin

    @contextmanager
    def locals(self, values: Mapping[str, str]) -> Iterator[None]:
        """Upstream's evaluation runs inside shell functions with `local` variables:
        an ltsp.conf assignment to one of those names is lost when the function
        returns, and while it runs `$name` shows the function's value."""
        saved = {
            n: (self.variables.get(n), self.assigned.get(n), self.origins.get(n)) for n in values
        }
        self.variables.update(values)
        for name in values:
            self.assigned.pop(name, None)
        try:
            yield
        finally:
            for name, (var, val, origin) in saved.items():
                _restore(self.variables, name, var)
                self.assigned.pop(name, None)
                self.origins.pop(name, None)
                if val is not None and origin is not None:
                    self.assigned[name] = val
                    self.origins[name] = origin


def _restore(target: dict[str, str], name: str, value: str | None) -> None:
    if value is None:
        target.pop(name, None)
    else:
        target[name] = value


def evaluate(
    *,
    applet: str,
    identity: Identity,
    is_client: bool,
    config_dir: Path = Path("/etc/ltsp"),
    environ: Mapping[str, str] | None = None,
    kernel_vars: Mapping[str, str] | None = None,
) -> Config:
    """Evaluate ltsp.conf (then ltsp-APPLET.conf) for one process, as upstream does."""
    return evaluate_files(
        applet=applet,
        identity=identity,
        is_client=is_client,
        files=conf_files(config_dir, applet),
        environ=environ,
        kernel_vars=kernel_vars,
    ).config()


def conf_paths(config_dir: Path, applet: str) -> list[Path]:
    """ltsp.conf, then ltsp-APPLET.conf, each only if it exists."""
    paths = [config_dir / "ltsp.conf"]
    if applet:
        paths.append(config_dir / f"ltsp-{applet}.conf")
    return [p for p in paths if p.is_file()]


def conf_files(config_dir: Path, applet: str) -> list[ConfFile]:
    """ltsp.conf, then ltsp-APPLET.conf, each only if it exists, read."""
    return [read_conf(p) for p in conf_paths(config_dir, applet)]


@dataclass
class Result:
    state: Evaluation
    files: tuple[ConfFile, ...] = ()

    def config(self) -> Config:
        s = self.state
        return Config(dict(s.assigned), dict(s.origins), dict(s.bodies), tuple(s.sections_run))

    @property
    def notes(self) -> list[Note]:
        return self.state.notes

    def section_call(self, value: str, *, unset: Iterable[str] = ()) -> Config:
        """Upstream's `(unset VARS; section_call VALUE)` in a subshell of this process:
        dispatch one more value (e.g. a client's MAC for `ltsp ipxe`) on a copy of the
        state, with the section guards already set; only what it assigned is returned."""
        if not self.files:
            return Config()
        state = copy.deepcopy(self.state)
        for name in unset:
            state.variables.pop(name, None)
        state.assigned.clear()
        state.origins.clear()
        conf = self.files[-1]
        _call(state, conf, dispatch_order(conf), [value])
        return Result(state).config()


def evaluate_files(
    *,
    applet: str,
    identity: Identity,
    is_client: bool,
    files: list[ConfFile],
    environ: Mapping[str, str] | None = None,
    kernel_vars: Mapping[str, str] | None = None,
) -> Result:
    env = dict(os.environ if environ is None else environ)
    for name, default in DEFAULT_DIRS.items():
        env[name] = env.get(name) or default
    env.update(
        MAC_ADDRESS=identity.mac,
        IP_ADDRESS=identity.ip,
        HOSTNAME=identity.hostname,
        _APPLET=applet or "ltsp",
    )
    state = Evaluation(env)
    for conf in files:
        _evaluate_file(state, conf, applet or "ltsp", is_client=is_client)
    for name, value in (kernel_vars or {}).items():
        state.set(name, value, Origin("/proc/cmdline", 1, "kernel command line"))
    return Result(state, tuple(files))


def _evaluate_file(state: Evaluation, conf: ConfFile, applet: str, *, is_client: bool) -> None:
    """One file: define its sections (later definitions of a function name win),
    then dispatch the values in upstream's order."""
    for section in conf.sections:
        state.functions[section.ident] = section
        state.bodies.pop(section.name, None)
        state.bodies[section.name] = section.shell_body()
    dispatch = dispatch_order(conf)
    # upstream's on-client check of "is this a server applet" looks at the wrong
    # directory, so [server] is never evaluated on a client (spec §2.4.7)
    frame = {
        "config": conf.path,
        "applet": applet,
        "clients_section": "clients" if is_client else "",
        "server_section": "" if is_client else "server",
        **({"sub_dir": "common"} if is_client else {}),
        "want": "0",
        "got": "0",
    }
    v = state.variables
    with state.locals(frame):
        first = ["unnamed", *(["clients"] if is_client else []), "common"]
        first += [*([] if is_client else ["server"]), v["MAC_ADDRESS"], v["IP_ADDRESS"]]
        _call(state, conf, dispatch, first)
        _call(state, conf, dispatch, [v.get("HOSTNAME", "")])
        current = v.get("applet") or "ltsp"
        if current != "ltsp":
            values = [f"{current}/"]
            values += [f"{current}/{v.get(n, '')}" for n in ("MAC_ADDRESS", "IP_ADDRESS")]
            values.append(f"{current}/{v.get('HOSTNAME', '')}")
            _call(state, conf, dispatch, values)


def _call(state: Evaluation, conf: ConfFile, dispatch: list[Section], values: list[str]) -> None:
    """upstream's `section_call`: per value, the first matching pattern in file order."""
    state.depth += 1
    try:
        if state.depth > MAX_INCLUDE_DEPTH:
            raise ConfigError(f"INCLUDE nesting deeper than {MAX_INCLUDE_DEPTH}", file=conf.path)
        for value in values:
            with state.locals({"section": value, "want": "0", "got": "0"}):
                target = _match(dispatch, value)
                if target is not None:
                    _run(state, conf, target, values)
    finally:
        state.depth -= 1


def _match(dispatch: list[Section], value: str) -> Section | None:
    if value == UNNAMED:
        return Section(UNNAMED, "section_unnamed", 0, ())
    key = match_key(value)
    for section in dispatch:
        if any(pattern_regex(alt).fullmatch(key) for alt in section.alternatives):
            return section
    return None


def match_key(value: str) -> str:
    """The value as compared with section names. Section names are lowercase, so we
    compare lowercase values too: an uppercase hostname matches (upstream: never)."""
    return value.lower()


@lru_cache(maxsize=512)
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A section pattern (only `*` and `?` are special once brackets are filtered out)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _run(state: Evaluation, conf: ConfFile, target: Section, values: list[str]) -> None:
    """Run the function the matched pattern names: the *last* definition of that name."""
    ident = target.ident
    if ident == "section_call":
        raise ConfigError(
            "section [call] calls itself forever in upstream LTSP",
            file=conf.path,
            line=target.line,
            hint="rename the section",
        )
    if ident == "section_list" or state.variables.get(ident) == "1":
        return
    section = state.functions.get(ident)
    if section is None:  # a pattern whose function another file replaced: cannot happen
        return
    state.variables[ident] = "1"
    if ident in state.assigned:  # the admin used the guard's name as a variable
        state.assigned[ident] = "1"
    state.sections_run.append(section.name)
    for item in section.items:
        if isinstance(item, Include):
            _call(state, conf, dispatch_order(conf), [item.value])
        elif isinstance(item, Assignment):
            _assign(state, conf, section, item, values)


def dispatch_order(conf: ConfFile) -> list[Section]:
    """The `case` branches of a file: every header in file order (duplicates too)."""
    return [s for s in conf.sections if s.line > 0]


def _assign(
    state: Evaluation, conf: ConfFile, section: Section, item: Assignment, values: list[str]
) -> None:
    for statement in item.statements:
        pairs = assignment_words(statement)
        if pairs is None:
            # the shell would run a command (`A=b c` runs c with A in its environment
            # only); we run nothing and assign nothing, `ltsp config check` reports it
            state.notes.append(
                Note(conf.path, item.line, "", "not an assignment: shell would run a command")
            )
            continue
        origin = Origin(conf.path, item.line, section.name)

        def assign_default(name: str, value: str, origin: Origin = origin) -> None:
            state.set(name, value, origin)

        expander = Expander(state.variables.get, values, assign_default)
        for name, value in pairs:
            try:
                text = expander.word(value, tilde=True)
            except ExpansionError as exc:
                raise ConfigError(
                    str(exc), file=conf.path, line=item.line, param=name, hint="set it first"
                ) from None
            state.set(name, text, origin)
        for text in expander.unexpanded:
            state.notes.append(
                Note(
                    conf.path,
                    item.line,
                    pairs[0][0] if pairs else "",
                    f"{text} is kept as written, not run",
                    "ltsp never runs commands while reading ltsp.conf; use a PRE_/POST_ hook",
                )
            )
