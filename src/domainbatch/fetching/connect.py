"""Where aiohttp meets our resolver and the SSRF guard (the homepage fetch and webhooks alike).

Two checks, at two moments:

* ``AiohttpResolver`` (an ``aiohttp.abc.AbstractResolver``) resolves host names through the shared
  ``GuardedResolver``, so ``resolve_overrides`` and the configured nameservers apply to every hop,
  and blocked addresses are dropped before aiohttp ever sees them.
* ``AiohttpResolver.socket_factory`` runs for every new socket, with the address about to be
  connected to. This is the check that cannot be bypassed: aiohttp skips the resolver for IP
  literals (``http://169.254.169.254/`` in a redirect), and a DNS answer could change between the
  first lookup and the connect. The host the connection is for travels in a ``ContextVar`` set by
  the fetcher per hop (aiohttp connects in the request's task, and happy-eyeballs tasks copy the
  context); when it is missing, the check fails closed.
"""

from __future__ import annotations

import socket
from contextvars import ContextVar
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.guard import AddressesRefused, blocked_message, parse_address
from domainbatch.fetching.lookup import GuardedResolver

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


class UnresolvedHostError(OSError):
    """The lookup failed or every address was refused. An ``OSError``, so aiohttp raises it as
    ``ClientConnectorDNSError``; ``error`` is the documented error (``fetching.translate``
    returns it), the text is what a webhook delivery records."""

    def __init__(self, error: DomainProcessingError) -> None:
        text = error.message
        if isinstance(error, AddressesRefused):
            refused = "; ".join(f"{address}: {reason}" for address, reason in error.refused)
            text = f"{error.host} resolves only to refused addresses ({refused})"
        super().__init__(text)
        self.error = error


class AiohttpResolver(AbstractResolver):
    """aiohttp's view of a ``GuardedResolver``: screened addresses, and a socket factory that
    checks the address of each connect."""

    def __init__(self, resolver: GuardedResolver) -> None:
        self.resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await self.resolver.addresses(host)
        except DomainProcessingError as error:
            # ``error`` travels as the attribute; chaining it would loop back once translated.
            raise UnresolvedHostError(error) from None
        results: list[ResolveResult] = []
        for address in addresses:
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
        self.resolver.clear()

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's ``socket_factory``: refuse blocked addresses right before connecting."""
        family, type_, proto, _canonname, sockaddr = addr_info
        address = str(sockaddr[0])
        host = current_host.get()
        reason = self.resolver.guard.reason(address, host)
        if reason is not None:
            raise BlockedAddressError(blocked_message(address, host, reason))
        return socket.socket(family=family, type=type_, proto=proto)
