"""LTSP client stack: boot stages, plugins and a thin publisher, in Python."""

__version__ = "0.1.0"
