"""The one step runner of both boot stages, `initrd-bottom` and `init` (pid 1).

A stage is a tuple of named steps; each takes the stage's state and returns
the next one. Before each step the runner opens the debug shell if
`ltsp.break` names it; the step itself is timed and recorded by `log.step`.
A step that raises becomes a `StepError` carrying the step's name and an
admin-readable message and hint; what happens next (reboot, shell, or the
real init) is the stage's policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from ltsp_client.errors import ConfigError, LtspError
from ltsp_client.init import emergency
from ltsp_client.log import step

log = logging.getLogger(__name__)

S = TypeVar("S")
T = TypeVar("T")
Step = tuple[str, Callable[[S], S]]


def break_points(value: str) -> frozenset[str]:
    """The one `ltsp.break=` parser: `mount`, `a,b`, `initrd-bottom/mount`, `init/plugin:x`."""
    return frozenset(word.strip() for word in value.split(",") if word.strip())


def describe(exc: BaseException) -> tuple[str, str]:
    """(message, hint) for the admin; a bug is still one line, never a traceback."""
    if isinstance(exc, ConfigError):
        return f"{exc.location}: {exc.message}", exc.hint
    if isinstance(exc, LtspError):
        return exc.message, exc.hint
    if isinstance(exc, OSError):
        return str(exc), ""
    log.debug("traceback", exc_info=exc)
    return (
        f"internal error: {type(exc).__name__}: {exc}",
        "a bug in ltsp; please report it with the log",
    )


class StepError(LtspError):
    """A step raised; `step` names it, message and hint are `describe()`d."""

    def __init__(self, step: str, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.step = step


@dataclass
class StepRunner:
    """Runs steps for `applet` with break points; `policy` gives the shell for them.

    `ltsp.break=NAME` stops before every step called NAME; `APPLET/NAME` only
    before this stage's (both stages have a `facts` and a `config` step).
    """

    applet: str
    policy: emergency.Policy = field(default_factory=emergency.Policy)
    breaks: frozenset[str] = frozenset()

    def wants_break(self, name: str) -> bool:
        return name in self.breaks or f"{self.applet}/{name}" in self.breaks

    def before(self, name: str) -> None:
        """The break point before `name`, if asked (also for plugin steps run elsewhere)."""
        if self.wants_break(name):
            emergency.break_point(self.policy, name, applet=self.applet)

    def run(self, name: str, function: Callable[[], T]) -> T:
        """One timed step; any exception comes out as StepError."""
        self.before(name)
        try:
            with step(name):
                return function()
        except StepError:
            raise
        except Exception as exc:
            message, hint = describe(exc)
            raise StepError(name, message, hint=hint) from exc

    def run_all(
        self,
        steps: Sequence[Step[S]],
        state: S,
        *,
        after: Callable[[str, S], None] | None = None,
    ) -> S:
        """Every step in order; `after(name, state)` runs after each successful one."""
        for name, function in steps:
            state = self.run(name, partial(function, state))
            if after is not None:
                after(name, state)
        return state

    def report(self, failure: StepError, *, then: str = "") -> None:
        """The failure in the one FATAL format, on the console and /dev/kmsg."""
        emergency.report(
            self.policy.console,
            applet=self.applet,
            step=failure.step,
            message=failure.message,
            hint=failure.hint,
            then=then,
        )
