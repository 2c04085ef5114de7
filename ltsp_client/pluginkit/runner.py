"""Run a stage's plugins in order: each one timed, a failure recorded and the next one run.

Only the plugins that list `ctx.stage` in their `stages` run.

With `strict` (kernel `ltsp.strict`, or LTSP_STRICT=1) the first failure stops
the stage with StageError, which carries the summary so far.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from ltsp_client.errors import LtspError
from ltsp_client.log import boottime, step
from ltsp_client.pluginkit.base import Plugin, Registry
from ltsp_client.pluginkit.context import PluginContext

log = logging.getLogger(__name__)

Status = Literal["ok", "failed", "not needed", "omitted"]


@dataclass(frozen=True)
class Outcome:
    name: str
    status: Status
    duration: float = 0.0
    detail: str = ""  # why omitted, or the error
    hint: str = ""


@dataclass(frozen=True)
class Summary:
    outcomes: tuple[Outcome, ...]
    exports: Mapping[str, str] = field(default_factory=dict)

    def names(self, status: Status) -> list[str]:
        return [o.name for o in self.outcomes if o.status == status]

    @property
    def failed(self) -> list[str]:
        return self.names("failed")

    @property
    def ran(self) -> list[str]:
        return [o.name for o in self.outcomes if o.status in ("ok", "failed")]

    def describe(self) -> str:
        """One line for the console: what ran or was omitted, then how many had nothing to do."""
        parts = [f"{o.name}={o.status}" for o in self.outcomes if o.status != "not needed"]
        if idle := len(self.names("not needed")):
            parts.append(f"{idle} not needed")
        return ", ".join(parts) if parts else "no plugins"


class StageError(LtspError):
    """A plugin failed in strict mode."""

    def __init__(self, message: str, *, hint: str = "", summary: Summary) -> None:
        super().__init__(message, hint=hint)
        self.summary = summary


def run_plugins(
    registry: Registry,
    ctx: PluginContext,
    *,
    omit: Mapping[str, str] | None = None,
    strict: bool = False,
    between: Callable[[], None] | None = None,
    before: Callable[[str], None] | None = None,
) -> Summary:
    """Run the plugins of `registry` for `ctx.stage` in (order, name) order against `ctx`.

    Values a plugin exports are visible in the config of the plugins after it.
    `between` runs after each plugin (pid 1 reaps orphaned children there);
    `before` gets each step name ("plugin:NAME") first (for `ltsp.break=`).
    """
    outcomes: list[Outcome] = []
    omit = omit or {}
    for cls in registry:
        if ctx.stage not in cls.stages:
            continue
        if cls.name in omit:
            log.info("omitting plugin %s (%s)", cls.name, omit[cls.name])
            outcomes.append(Outcome(cls.name, "omitted", detail=omit[cls.name]))
            continue
        if before is not None:
            before(f"plugin:{cls.name}")
        current = replace(ctx, config=ctx.config.with_values(ctx.exports))
        outcome = _run_one(cls, current)
        outcomes.append(outcome)
        if between is not None and outcome.status != "not needed":
            between()
        if outcome.status == "failed" and strict:
            summary = Summary(tuple(outcomes), dict(ctx.exports))
            raise StageError(
                f"plugin {cls.name} failed (strict mode): {outcome.detail}",
                hint=outcome.hint,
                summary=summary,
            )
    return Summary(tuple(outcomes), dict(ctx.exports))


def _run_one(cls: type[Plugin], ctx: PluginContext) -> Outcome:
    start = boottime()
    try:
        plugin = cls()
        if not plugin.applies(ctx):
            return Outcome(cls.name, "not needed")
        with step(f"plugin:{cls.name}"):
            plugin.apply(ctx)
    except LtspError as exc:
        took = boottime() - start
        log.warning("plugin %s failed: %s", cls.name, exc)
        return Outcome(cls.name, "failed", took, exc.message, exc.hint)
    except Exception as exc:
        took = boottime() - start
        log.warning("plugin %s failed: %s: %s", cls.name, type(exc).__name__, exc)
        log.debug("plugin %s traceback", cls.name, exc_info=True)
        hint = f"this is a bug in the plugin (from {cls.source}); the log has the traceback"
        return Outcome(cls.name, "failed", took, f"{type(exc).__name__}: {exc}", hint)
    return Outcome(cls.name, "ok", boottime() - start)
