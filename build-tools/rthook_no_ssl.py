"""PyInstaller runtime hook: a stand-in `ssl` module (the real one is excluded).

pyroute2 imports ssl at module level for a TLS probe that ltsp never runs;
asyncio reads two exception classes from it at import time, and checks
`isinstance(sock, ssl.SSLSocket)` when a connection is made on a given socket
(dbus-next does that for `ltsp login`). Anything that really tries TLS gets a
clear AttributeError instead of a missing library.
"""

import sys
import types


def _install() -> None:
    try:
        import ssl  # noqa: F401
    except ImportError:
        pass
    else:
        return
    stub = types.ModuleType("ssl", "ltsp's frozen binary carries no TLS support")

    class SSLError(OSError):
        pass

    for name in (
        "SSLWantReadError",
        "SSLWantWriteError",
        "SSLSyscallError",
        "SSLZeroReturnError",
        "SSLEOFError",
        "CertificateError",
    ):
        setattr(stub, name, type(name, (SSLError,), {}))
    stub.SSLError = SSLError
    # never instantiated: only the targets of asyncio's isinstance() checks
    stub.SSLSocket = type("SSLSocket", (), {})
    stub.SSLObject = type("SSLObject", (), {})
    sys.modules["ssl"] = stub


_install()
