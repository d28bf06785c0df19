"""Where aiohttp meets our resolver and the SSRF guard.

Two checks, at two moments:

* ``GuardedResolver`` (an ``aiohttp.abc.AbstractResolver``) resolves host names through our
  ``Resolver``, so ``resolve_overrides`` and the configured nameservers apply to every hop, and it
  drops blocked addresses before aiohttp ever sees them.
* ``GuardedResolver.socket_factory`` runs for every new socket, with the address about to be
  connected to. This is the check that cannot be bypassed: aiohttp skips the resolver for IP
  literals (``http://169.254.169.254/`` in a redirect), and a DNS answer could change between the
  first lookup and the connect. The host the connection is for travels in a ``ContextVar`` set by
  the fetcher per hop (aiohttp connects in the request's task, and happy-eyeballs tasks copy the
  context); when it is missing, the check fails closed.
"""

from __future__ import annotations

import socket
import time
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.guard import AddressGuard, blocked_message, parse_address
from domainbatch.fetching.resolver import Answer, Resolver

# The host name of the request being connected, for override trust in ``socket_factory``.
current_host: ContextVar[str | None] = ContextVar("domainbatch_fetch_host", default=None)

# aiohttp wraps our socket-factory refusal in ClientConnectorError (sometimes merged into one
# "Multiple exceptions" OSError); this marker lets the translator recognise it in the text.
BLOCKED_MARKER = "[blocked_address]"


class BlockedAddressError(OSError):
    """Raised from the socket factory; an ``OSError`` so aiohappyeyeballs handles it cleanly."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{BLOCKED_MARKER} {message}")
        self.message = message


class GuardedResolver(AbstractResolver):
    """Resolver for aiohttp backed by our ``Resolver``, with a small TTL cache.

    The cache lets the processor look a domain up once (A/AAAA/MX, for the result record) and
    have aiohttp's connect reuse that answer instead of querying DNS a second time.
    """

    def __init__(
        self,
        resolver: Resolver,
        guard: AddressGuard,
        *,
        cache_ttl: float = 30.0,
        cache_size: int = 4096,
    ) -> None:
        self.resolver = resolver
        self.guard = guard
        self._ttl = cache_ttl
        self._size = cache_size
        self._cache: OrderedDict[tuple[str, bool], tuple[float, Answer]] = OrderedDict()

    async def lookup(self, host: str, *, want_mx: bool = True) -> Answer:
        """A/AAAA (and MX) for ``host``, cached; raises ``DomainProcessingError``."""
        host = host.lower().rstrip(".")
        now = time.monotonic()
        # An answer that carries MX also serves a lookup that does not need it.
        for key in ((host, True), (host, want_mx)):
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        answer = await self.resolver.resolve(host, want_mx=want_mx)
        self._cache[(host, want_mx)] = (now + self._ttl, answer)
        self._cache.move_to_end((host, want_mx))
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return answer

    def allowed_addresses(self, host: str, addresses: list[str]) -> list[str]:
        """``addresses`` minus blocked ones; ``blocked_address`` when none is left."""
        allowed = [a for a in addresses if self.guard.reason(a, host) is None]
        if not allowed and addresses:
            first = addresses[0]
            reason = self.guard.reason(first, host) or "blocked"
            raise DomainProcessingError("blocked_address", blocked_message(first, host, reason))
        return allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answer = await self.lookup(host, want_mx=False)
        results: list[ResolveResult] = []
        for address in self.allowed_addresses(host, answer.addresses):
            parsed = parse_address(address)
            if parsed is None:
                continue
            addr_family = socket.AF_INET if parsed.version == 4 else socket.AF_INET6
            if family not in (socket.AF_UNSPEC, addr_family):
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=str(parsed),
                    port=port,
                    family=addr_family,
                    proto=0,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError(f"{host} has no usable address")
        return results

    async def close(self) -> None:
        self._cache.clear()

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's ``socket_factory``: refuse blocked addresses right before connecting."""
        family, type_, proto, _canonname, sockaddr = addr_info
        address = str(sockaddr[0])
        host = current_host.get()
        reason = self.guard.reason(address, host)
        if reason is not None:
            raise BlockedAddressError(blocked_message(address, host, reason))
        return socket.socket(family=family, type=type_, proto=proto)
