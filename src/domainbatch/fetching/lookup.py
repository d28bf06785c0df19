"""The one path from a host name to the addresses a connection may use.

``GuardedResolver`` resolves through our ``Resolver`` (configured nameservers, then
``resolve_overrides``) and screens the answer with the SSRF guard (``AddressGuard.screen``,
honouring ``allow_private_addresses``). The homepage fetch and webhook delivery both resolve
through it, by way of the aiohttp adapter in ``fetching.connect``, which also checks the exact
address of every connect.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from domainbatch.fetching.guard import AddressGuard
from domainbatch.fetching.resolver import Answer, Resolver
from domainbatch.settings import Settings


class GuardedResolver:
    """``Resolver`` plus ``AddressGuard``, with a small TTL cache.

    The cache lets the homepage processor look a domain up once (A/AAAA/MX, for the result
    record) and have aiohttp's connect reuse that answer instead of querying DNS a second time.
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

    @classmethod
    def from_settings(
        cls, settings: Settings, *, trust_overrides: bool, cache_ttl: float = 30.0
    ) -> GuardedResolver:
        """``trust_overrides``: whether an address written in ``resolve_overrides`` is allowed
        for the names its pattern matches even when the guard would refuse it."""
        resolver = Resolver.from_settings(settings)
        guard = AddressGuard(
            allow_private=settings.allow_private_addresses,
            trusted_for=resolver.override_for if trust_overrides else None,
        )
        return cls(resolver, guard, cache_ttl=cache_ttl)

    async def lookup(self, host: str, *, want_mx: bool = True) -> Answer:
        """A/AAAA (and MX) for ``host``, cached and not screened (the facts a result records);
        raises ``DomainProcessingError``."""
        host = host.lower().rstrip(".")
        now = time.monotonic()
        # An answer that carries MX also serves a lookup that does not need it.
        for key in ((host, True), (host, want_mx)):
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        answer = await self.resolver.resolve(host, want_mx=want_mx)
        if self._ttl > 0:
            self._cache[(host, want_mx)] = (now + self._ttl, answer)
            self._cache.move_to_end((host, want_mx))
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return answer

    def screen(self, host: str, addresses: list[str]) -> list[str]:
        """``addresses`` minus refused ones; ``AddressesRefused`` (``blocked_address``) when
        none is left."""
        return self.guard.screen(host, addresses)

    async def addresses(self, host: str) -> list[str]:
        """The addresses ``host`` may be connected to; raises ``DomainProcessingError``."""
        answer = await self.lookup(host, want_mx=False)
        return self.screen(host, answer.addresses)

    def clear(self) -> None:
        self._cache.clear()
