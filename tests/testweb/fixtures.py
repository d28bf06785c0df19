"""pytest fixtures for the test web. Import them into a test module (or list this module in a
conftest's ``pytest_plugins``)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from domainbatch.fetching.connect import AiohttpResolver
from tests.testweb import TestWeb, running_testweb


@pytest.fixture(scope="session")
def testweb() -> Iterator[TestWeb]:
    """One test web for the whole session, in a thread: any test's event loop can use it."""
    with running_testweb(slow_seconds=3.0) as web:
        yield web


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse, after the real guard has run, any socket to an address other than loopback.

    A safety net so that a broken SSRF guard fails a test instead of sending packets to
    169.254.169.254 or an RFC 1918 host. Returns the list of addresses connected to.
    """
    real = AiohttpResolver.socket_factory
    connected: list[str] = []

    def tripwire(self: AiohttpResolver, addr_info: tuple[Any, ...]) -> socket.socket:
        sock = real(self, addr_info)  # the guard under test decides first
        address = str(addr_info[4][0])
        if address not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            sock.close()
            raise AssertionError(f"SSRF guard let a connection to {address} through")
        connected.append(address)
        return sock

    monkeypatch.setattr(AiohttpResolver, "socket_factory", tripwire)
    return connected
