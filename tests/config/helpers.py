"""Evaluate ltsp.conf text through the real loader and evaluation (no mocks)."""

from __future__ import annotations

from pathlib import Path

from ltsp_client.config import Config, Identity, evaluate

PC01 = Identity("52:54:00:12:34:56", "192.168.67.20", "pc01")
ENV = {"HOME": "/root", "PATH": "/usr/bin:/bin"}
FIXTURES = Path(__file__).parent / "fixtures"


def ev(
    tmp_path: Path,
    text: str,
    *,
    applet: str = "init",
    identity: Identity = PC01,
    is_client: bool = True,
    applet_conf: str | None = None,
    kernel_vars: dict[str, str] | None = None,
) -> Config:
    (tmp_path / "ltsp.conf").write_text(text)
    if applet_conf is not None:
        (tmp_path / f"ltsp-{applet}.conf").write_text(applet_conf)
    return evaluate(
        applet=applet,
        identity=identity,
        is_client=is_client,
        config_dir=tmp_path,
        environ=ENV,
        kernel_vars=kernel_vars,
    )
