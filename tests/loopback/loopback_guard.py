"""The test harness's own loopback guard: every Python process of a test run may connect (TCP,
or UDP datagrams) only to 127.0.0.0/8, ::1 and Unix sockets.

The product has its own SSRF guard, but tests turn it off on purpose (to reach the test web on
127.0.0.1) while the test web serves pages that redirect to private and metadata addresses: a
test mixing the two would send real traffic off the machine. This guard sits below the product,
on ``socket.socket``, so it holds whatever the code under test decides. A refused attempt raises
``ConnectionRefusedError`` (what a client would see from a closed port) and is appended to the
file named by ``TEST_LOOPBACK_LOG``; the pytest session fails if that file holds an
attempt that a test did not declare as expected (``TEST_LOOPBACK_EXPECTED`` in the
process's environment, or ``expecting()`` in-process).

Installed by ``tests/conftest.py`` in the pytest process (as this same top-level module) and,
through ``sitecustomize`` (this folder is put first on ``PYTHONPATH``), in every Python process
the tests start. Native clients (libpq, Chromium, nginx, PgBouncer) are aimed at loopback by
their configuration instead.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

LOG_VARIABLE = "TEST_LOOPBACK_LOG"  # not DOMAINBATCH_*: test helpers drop those
EXPECTED_VARIABLE = "TEST_LOOPBACK_EXPECTED"
_expected = 0
_original: dict[str, Any] = {}


def is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _allowed(family: int, address: Any) -> bool:
    if family not in (socket.AF_INET, socket.AF_INET6):
        return True  # Unix sockets, netlink: never leave the machine
    host = str(address[0])
    if is_loopback(host):
        return True
    try:  # a name: allowed only if every address it stands for is loopback
        infos = _original["getaddrinfo"](host, None)
    except OSError:
        return False
    return bool(infos) and all(is_loopback(str(info[4][0])) for info in infos)


def _refuse(sock: socket.socket, address: Any) -> ConnectionRefusedError:
    expected = _expected > 0 or os.environ.get(EXPECTED_VARIABLE) == "1"
    line = f"{'expected' if expected else 'VIOLATION'} pid={os.getpid()} to={address!r}\n"
    path = os.environ.get(LOG_VARIABLE)
    if path:
        with contextlib.suppress(OSError), open(path, "a") as handle:
            handle.write(line)
    return ConnectionRefusedError(
        errno.ECONNREFUSED, f"loopback-only test harness refused a connection to {address!r}"
    )


def _connect(self: socket.socket, address: Any) -> None:
    if not _allowed(self.family, address):
        raise _refuse(self, address)
    _original["connect"](self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    if not _allowed(self.family, address):
        _refuse(self, address)
        return errno.ECONNREFUSED
    result: int = _original["connect_ex"](self, address)
    return result


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    address = args[-1]
    if not _allowed(self.family, address):
        raise _refuse(self, address)
    result: int = _original["sendto"](self, data, *args)
    return result


def install() -> None:
    """Patch ``socket.socket`` (idempotent)."""
    if _original:
        return
    _original["getaddrinfo"] = socket.getaddrinfo
    for name, patched in (("connect", _connect), ("connect_ex", _connect_ex), ("sendto", _sendto)):
        _original[name] = getattr(socket.socket, name)
        setattr(socket.socket, name, patched)


def installed() -> bool:
    return bool(_original)


@contextlib.contextmanager
def expecting() -> Iterator[None]:
    """Refusals inside this block are a test's deliberate probes, not violations."""
    global _expected
    _expected += 1
    try:
        yield
    finally:
        _expected -= 1


def violations(path: str) -> list[str]:
    with contextlib.suppress(FileNotFoundError), open(path) as handle:
        return [line.strip() for line in handle if line.startswith("VIOLATION")]
    return []
