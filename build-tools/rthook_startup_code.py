"""PyInstaller runtime hook: what imports compile, precompiled at build time (startup_code.py).

dataclasses' exec() gets the code recorded for a source it knows, and
re's compiler the recorded result for a (pattern, flags) it knows, instead of
compiling them again on every start.
"""

import builtins
import dataclasses
import marshal
import os
import re
import sys


def _install() -> None:
    try:
        with open(os.path.join(sys._MEIPASS, "startup_code.bin"), "rb") as stream:
            table = marshal.load(stream)
        codes, regexes = table["exec"], table["re"]
    except (OSError, AttributeError, EOFError, ValueError, TypeError, KeyError):
        return  # compile as usual

    def exec_recorded(source, globals=None, locals=None):
        code = codes.get(source) if isinstance(source, str) else None
        return builtins.exec(source if code is None else marshal.loads(code), globals, locals)

    compiler = re._compiler
    real_compile, sre = compiler.compile, compiler._sre

    def compile_recorded(pattern, flags=0):
        if isinstance(pattern, (str, bytes)):
            args = regexes.get((pattern, flags))
            if args is not None:
                return sre.compile(pattern, *marshal.loads(args))
        return real_compile(pattern, flags)

    dataclasses.exec = exec_recorded
    compiler.compile = compile_recorded


_install()
