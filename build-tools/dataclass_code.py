"""Precompile the methods @dataclass generates, for the frozen binary: dataclass_code.py OUT.

At import, every @dataclass writes the source of __init__, __repr__, __eq__ ...
and compiles it with exec(); for `ltsp login` that compiling was a fifth of
the start's instructions (callgrind, docs/benchmarks.md), paid on every start
and under emulation. This script imports every ltsp_client module (as the
frozen binary may) with dataclasses' exec() recording each source, and writes
{source: marshalled code} to OUT. rthook_dataclass_code.py hands the recorded
code to exec() at run time, unmarshalling only what is used (all of it at
once cost more than compiling a login's). Run by ltsp.spec with the build's
own Python, so the code fits the bundled interpreter; a source that is not
in the table is compiled as usual. (namedtuple's eval() of its one-line
`__new__` is left alone: doing the same for it cost more than it saved.)
"""

import builtins
import dataclasses
import importlib
import marshal
import pkgutil
import sys
from typing import Any

# the frozen binary is built with optimize=2: compile as its exec() would
OPTIMIZE = 2


def main() -> int:
    recorded: dict[str, bytes] = {}

    def recording_exec(source: Any, globals: Any = None, locals: Any = None) -> None:
        if isinstance(source, str):
            code = compile(source, "<string>", "exec", optimize=OPTIMIZE)
            recorded[source] = marshal.dumps(code)
            source = code
        builtins.exec(source, globals, locals)

    dataclasses.exec = recording_exec  # type: ignore[attr-defined]
    import ltsp_client

    for module in pkgutil.walk_packages(ltsp_client.__path__, "ltsp_client."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    with open(sys.argv[1], "wb") as out:
        marshal.dump(recorded, out)
    print(f"dataclass_code: {len(recorded)} methods", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
