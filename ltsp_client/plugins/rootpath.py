"""Paths inside a target root, resolved the way the client will see them.

At boot the root is `/` and this is plain path handling. For `ltsp init --root
DIR` (and tests) an absolute symlink in the tree, such as
/sbin/init -> /lib/systemd/systemd, must lead to DIR/lib/systemd/systemd, never
to the host's file: symlinks are followed as if DIR were `/`.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ltsp_client.errors import LtspError
from ltsp_client.init.install import resolve_in_root
from ltsp_client.paths import under

MAX_LINKS = 40


def inside(root: Path, path: str | PurePosixPath) -> Path:
    """`path` (absolute, as the client sees it) under `root`, every symlink resolved in root.

    Refuses `..` in `path` itself (like `under`); a path that does not exist
    yet resolves as far as it exists.
    """
    under(root, path)  # validates: absolute, no `..`
    resolved = resolve_in_root(root, str(path))
    for _ in range(MAX_LINKS):
        if not resolved.is_symlink():
            return resolved
        target = os.readlink(resolved)
        if not target.startswith("/"):
            target = "/" + str(PurePosixPath(resolved.parent.relative_to(root), target))
        resolved = resolve_in_root(root, target)
    raise LtspError(f"too many symlinks resolving {path} in {root}")
