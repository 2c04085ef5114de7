"""ltsp.conf: parse, evaluate for one client/applet, validate.

Importing this package is cheap (no third-party modules): pid 1 uses it at boot.
Its names load their module when first used (PEP 562): importing one
submodule, such as the parameter table for the directory defaults every
`ltsp` start reads, must not load the parser and evaluator (about 70 M
instructions, docs/benchmarks.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ltsp_client.config.kernelvars import parse_kernel_vars
    from ltsp_client.config.model import Config, Identity, Origin
    from ltsp_client.config.percent import expand_percent
    from ltsp_client.config.sections import evaluate

__all__ = ["Config", "Identity", "Origin", "evaluate", "expand_percent", "parse_kernel_vars"]
_MODULES = {
    "Config": "model",
    "Identity": "model",
    "Origin": "model",
    "evaluate": "sections",
    "expand_percent": "percent",
    "parse_kernel_vars": "kernelvars",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
