"""ltsp.conf: parse, evaluate for one client/applet, validate.

Importing this package is cheap (no third-party modules): pid 1 uses it at boot.
"""

from ltsp_client.config.kernelvars import parse_kernel_vars
from ltsp_client.config.model import Config, Identity, Origin
from ltsp_client.config.percent import expand_percent
from ltsp_client.config.sections import evaluate

__all__ = ["Config", "Identity", "Origin", "evaluate", "expand_percent", "parse_kernel_vars"]
