"""What every applet receives: the global options after upstream's precedence rules.

Layer 1 (it takes the directory defaults from the parameter table): the
dispatcher imports it on every start, pid 1 included, and every applet package
(config, server, init) uses it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path


def default_dirs() -> Mapping[str, str]:
    """BASE_DIR, TFTP_DIR, HOME_DIR defaults from the parameter table.

    Imported when first needed, inside the dispatcher's error handling: an
    import error in the config package must not kill `ltsp` (pid 1) before
    it can hand over to the real init.
    """
    from ltsp_client.config.params import DEFAULT_DIRS

    return DEFAULT_DIRS


@dataclass(frozen=True)
class Context:
    """Global settings: environment < defaults < ltsp.conf < command line.

    `cli_dirs` holds only what was given with -b/-t/-m/-o, so an applet that
    evaluates ltsp.conf can re-apply them on top, as upstream does.
    """

    applet: str
    base_dir: Path
    tftp_dir: Path
    home_dir: Path
    overwrite: str | None
    cli_dirs: Mapping[str, str]
    # ltsp.conf for this applet (a config.model.Config), when the dispatcher evaluated it
    config: Mapping[str, str] | None = None
    # and the evaluation behind it (a config.sections.Result): server applets reuse it
    evaluation: object | None = None

    @classmethod
    def from_environment(
        cls, applet: str, cli_dirs: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> Context:
        env = os.environ if environ is None else environ
        defaults = default_dirs()
        merged = {k: env.get(k) or v for k, v in defaults.items()}
        merged.update({k: v for k, v in cli_dirs.items() if k in defaults})
        return cls(
            applet=applet,
            base_dir=Path(merged["BASE_DIR"]),
            tftp_dir=Path(merged["TFTP_DIR"]),
            home_dir=Path(merged["HOME_DIR"]),
            overwrite=cli_dirs.get("OVERWRITE", env.get("OVERWRITE")),
            cli_dirs=dict(cli_dirs),
        )

    def variables(self) -> dict[str, str]:
        """The directory settings as ltsp.conf sees them while it is evaluated."""
        values = {
            "BASE_DIR": str(self.base_dir),
            "TFTP_DIR": str(self.tftp_dir),
            "HOME_DIR": str(self.home_dir),
        }
        if self.overwrite is not None:
            values["OVERWRITE"] = self.overwrite
        return values

    def with_config(
        self,
        values: Mapping[str, str],
        config: Mapping[str, str] | None = None,
        evaluation: object | None = None,
    ) -> Context:
        """Apply ltsp.conf values, then the command line again (it wins)."""
        merged = {
            "BASE_DIR": str(self.base_dir),
            "TFTP_DIR": str(self.tftp_dir),
            "HOME_DIR": str(self.home_dir),
        }
        defaults = default_dirs()
        merged.update({k: values[k] for k in defaults if values.get(k)})
        merged.update({k: v for k, v in self.cli_dirs.items() if k in defaults})
        overwrite = self.cli_dirs.get("OVERWRITE", values.get("OVERWRITE", self.overwrite))
        return replace(
            self,
            base_dir=Path(merged["BASE_DIR"]),
            tftp_dir=Path(merged["TFTP_DIR"]),
            home_dir=Path(merged["HOME_DIR"]),
            overwrite=overwrite,
            config=config,
            evaluation=evaluation,
        )
