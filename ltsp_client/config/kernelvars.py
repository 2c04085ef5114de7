"""`ltsp.NAME=value` parameters of the kernel command line (spec §2.8).

Only initrd-bottom (and the read-only-root path) apply them, after ltsp.conf:
that choice belongs to the caller, which passes the result to `evaluate()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ltsp_client.config.loader import lower_ascii
from ltsp_client.config.shellwords import IncompleteError, ShellSyntaxError, expand_word_text
from ltsp_client.kcmdline import words

# Upstream's pattern has an unescaped `.`, so `ltsp_debug=1` also set DEBUG=1 there;
# only `ltsp.` counts here (docs/compatibility.md).
TOKEN_RE = re.compile(r"ltsp\.[a-z][-a-z0-9_]*=")


def parse_kernel_vars(cmdline: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`ltsp.image-to-ram=1` -> {"IMAGE_TO_RAM": "1"}; later tokens win.

    The value is read as one shell word (quotes removed, `$VAR` expanded from
    `environ`); if it is not a valid word it is kept as written. Nothing runs.
    """
    found: dict[str, str] = {}
    for token in words(cmdline):
        if not TOKEN_RE.match(lower_ascii(token)):
            continue
        name, _, raw = token[5:].partition("=")
        name = name.upper().replace("-", "_")  # ASCII only: the pattern allowed nothing else
        try:
            value = expand_word_text(raw, environ or {}) if raw else ""
        except (IncompleteError, ShellSyntaxError):
            value = raw
        found.pop(name, None)
        found[name] = value
    return found
