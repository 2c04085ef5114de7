"""ltsp.conf: parse, evaluate for one client/applet, validate."""

from ltsp_client.config.model import Config, Identity, Origin

__all__ = ["Config", "Identity", "Origin"]
