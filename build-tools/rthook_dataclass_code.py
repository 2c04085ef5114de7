"""PyInstaller runtime hook: @dataclass methods from precompiled code (dataclass_code.py).

dataclasses' exec() gets the code recorded at build time for a source it
knows, instead of compiling that source again on every start.
"""

import builtins
import dataclasses
import marshal
import os
import sys


def _install() -> None:
    try:
        with open(os.path.join(sys._MEIPASS, "dataclass_code.bin"), "rb") as stream:
            codes = marshal.load(stream)
    except (OSError, AttributeError, EOFError, ValueError, TypeError):
        return  # compile as usual

    def exec_recorded(source, globals=None, locals=None):
        code = codes.get(source) if isinstance(source, str) else None
        return builtins.exec(source if code is None else marshal.loads(code), globals, locals)

    dataclasses.exec = exec_recorded


_install()
