"""Fixtures of the OS-adapter tests."""

from __future__ import annotations

from system.mountdir import mount_dir

__all__ = ["mount_dir"]
