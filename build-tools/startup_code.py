"""Precompile what importing ltsp compiles at run time, for the frozen binary: startup_code.py OUT.

At import, every @dataclass writes the source of __init__, __repr__, __eq__ ...
and compiles it with exec(), and every module-level re.compile() runs the
regular expression compiler (Python code). For `ltsp login` the dataclass
sources alone were a fifth of the start's instructions (callgrind,
docs/benchmarks.md), paid on every start and under emulation. This script
imports every ltsp_client module (as the frozen binary may) and records:

    "exec": dataclasses' exec() source -> marshalled code object
    "re":   (pattern, flags) -> marshalled arguments of _sre.compile()

rthook_startup_code.py hands them over at run time, unmarshalling only what
is used (all of it at once cost more than compiling a login's). Run by
ltsp.spec with the build's own Python, so the records fit the bundled
interpreter; anything not recorded is compiled as usual. (namedtuple's
eval() of its one-line `__new__` is left alone: caching it cost more than it
saved.)
"""

import builtins
import dataclasses
import importlib
import marshal
import pkgutil
import re
import sys
from typing import Any

# the frozen binary is built with optimize=2: compile as its exec() would
OPTIMIZE = 2


class _RecordingSre:
    """Stands in for re._compiler's _sre module: records what compile() hands to C."""

    def __init__(self, real: Any, recorded: dict[tuple[Any, int], bytes]) -> None:
        self.real = real
        self.recorded = recorded
        self.key: tuple[Any, int] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def compile(self, pattern: Any, flags: int, *rest: Any) -> Any:
        if self.key is not None and self.key[0] is pattern:
            code, groups, index, names = rest
            # plain ints: the compiler's opcodes are an int subclass marshal refuses
            args = (int(flags), [int(c) for c in code], int(groups), dict(index), tuple(names))
            self.recorded[self.key] = marshal.dumps(args)
        return self.real.compile(pattern, flags, *rest)


def main() -> int:
    dataclass_code: dict[str, bytes] = {}
    regexes: dict[tuple[Any, int], bytes] = {}

    def recording_exec(source: Any, globals: Any = None, locals: Any = None) -> None:
        if isinstance(source, str):
            code = compile(source, "<string>", "exec", optimize=OPTIMIZE)
            dataclass_code[source] = marshal.dumps(code)
            source = code
        builtins.exec(source, globals, locals)

    compiler: Any = re._compiler  # type: ignore[attr-defined]
    sre = _RecordingSre(compiler._sre, regexes)
    real_compile = compiler.compile

    def recording_compile(pattern: Any, flags: int = 0) -> Any:
        plain = isinstance(pattern, (str, bytes)) and not flags & re.DEBUG
        sre.key = (pattern, int(flags)) if plain else None
        return real_compile(pattern, flags)

    dataclasses.exec = recording_exec  # type: ignore[attr-defined]
    compiler._sre = sre
    compiler.compile = recording_compile
    import ltsp_client

    for module in pkgutil.walk_packages(ltsp_client.__path__, "ltsp_client."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    with open(sys.argv[1], "wb") as out:
        marshal.dump({"exec": dataclass_code, "re": regexes}, out)
    print(f"startup_code: {len(dataclass_code)} methods, {len(regexes)} regexes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
