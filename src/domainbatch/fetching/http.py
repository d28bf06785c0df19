"""The homepage fetcher: one shared aiohttp session per worker, every resource bounded.

``Fetcher.visit(domain)`` resolves the domain (the DNS facts of its record) and fetches it.
``Fetcher.fetch(domain)`` tries ``https://<domain>/`` and falls back to ``http://<domain>/`` when
no HTTP exchange could happen at all (refused, unreachable, TLS failure, connect timeout).
Redirects are followed by hand (``allow_redirects=False``) so every hop goes through the SSRF
guard, the chain is recorded, and loops are caught. The body is read as a decompressed stream
and abandoned at ``max_body_bytes``, so a gzip bomb costs one chunk of memory, not a gigabyte.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.connect import AiohttpResolver, current_host
from domainbatch.fetching.facts import FactsResponse, FetchResult, FetchTimer, Visit, trace_config
from domainbatch.fetching.guard import blocked_message
from domainbatch.fetching.hops import (
    CHUNK_BYTES,
    check_body,
    check_final_response,
    check_redirects,
    origin_url,
    read_body,
    redirect_target,
    remember_cookies,
)
from domainbatch.fetching.lookup import GuardedResolver
from domainbatch.fetching.slots import Budget, ConnectionSlots
from domainbatch.fetching.translate import (
    CONNECTION_CODES,
    ConnectFailure,
    fallback_failed,
    is_connect_failure,
    translate,
)
from domainbatch.settings import Settings

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


@dataclass(frozen=True)
class FetchLimits:
    """The per-fetch bounds; a batch's options may tighten them (see the homepage processor)."""

    total_timeout: float
    max_body_bytes: int
    max_redirects: int
    user_agent: str

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            total_timeout=settings.total_timeout,
            max_body_bytes=settings.max_body_bytes,
            max_redirects=settings.max_redirects,
            user_agent=settings.http_user_agent(),
        )


@dataclass
class _Hop:
    response: aiohttp.ClientResponse
    address: str | None
    tls: dict[str, Any] | None


@dataclass
class _Chain:
    redirects: list[dict[str, Any]] = field(default_factory=list)
    visited: set[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=set)
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)


class Fetcher:
    """Owns the worker's ClientSession; use as ``async with Fetcher(settings) as fetcher``.

    ``ssl_context`` / ``ca_file`` let tests and private deployments trust their own CA; the
    default is the system trust store, always with verification on.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.settings = settings
        self.limits = FetchLimits.from_settings(settings)
        self._resolver = GuardedResolver.from_settings(settings, trust_overrides=True)
        self._aiohttp_resolver = AiohttpResolver(self._resolver)
        self._ssl = ssl_context or ssl.create_default_context(cafile=ca_file)
        self._session: aiohttp.ClientSession | None = None
        self._slots = ConnectionSlots(settings.connection_limit(), settings.http_limit_per_host)

    async def __aenter__(self) -> Fetcher:
        settings = self.settings
        connector = aiohttp.TCPConnector(
            # No limits here: ``self._slots`` holds them, so a wait for a slot is ours to keep
            # out of a domain's timeouts (see fetching.slots).
            limit=0,
            limit_per_host=0,
            resolver=self._aiohttp_resolver,
            # Our resolver caches; aiohttp's cache would hide DNS timings and override changes.
            use_dns_cache=False,
            ssl=self._ssl,
            socket_factory=self._aiohttp_resolver.socket_factory,
            # A crawl visits each host once: pooled keep-alive connections would only pile up
            # idle TLS sockets (measured: ~0.3 MiB each, 700 MiB RSS over 2,000 hosts against
            # 80 MiB with force_close, and slower). Only same-host redirect hops reconnect.
            force_close=True,
            # Only interpreters before 3.12.7 leak aborted TLS transports without this.
            enable_cleanup_closed=sys.version_info < (3, 12, 7),
        )
        header_limit = settings.max_header_bytes
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Cookies must never travel between domains; per-fetch cookies are handled by hand.
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout),
            trace_configs=[trace_config()],
            headers={"Accept": ACCEPT, "Accept-Language": "en;q=0.9, *;q=0.5"},
            max_line_size=header_limit,
            max_field_size=header_limit,
            read_bufsize=CHUNK_BYTES,
            response_class=FactsResponse,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def limits_with(self, **changes: Any) -> FetchLimits:
        return replace(self.limits, **changes)

    async def visit(self, domain: str, *, limits: FetchLimits | None = None) -> Visit:
        """Resolve ``domain`` (A/AAAA/MX) and fetch its homepage; raises
        ``DomainProcessingError``. The page's ``dns_ms`` counts both lookups."""
        started = time.perf_counter()
        answer = await self._resolver.lookup(domain, want_mx=True)
        # First step (README, "The homepage processor"): refuse a domain whose every address is
        # blocked, before any connection; the connect reuses this answer (cached) and re-checks
        # each address it actually uses.
        self._resolver.screen(domain, answer.addresses)
        dns_seconds = time.perf_counter() - started
        timer = FetchTimer()
        page = await self.fetch(domain, limits=limits, timer=timer)
        page.timings["dns_ms"] = round((dns_seconds + timer.dns) * 1000, 2)
        return Visit(answer=answer, page=page)

    async def fetch(
        self, domain: str, *, limits: FetchLimits | None = None, timer: FetchTimer | None = None
    ) -> FetchResult:
        """Fetch the domain's homepage; raises ``DomainProcessingError`` and an error code."""
        limits = limits or self.limits
        timer = timer or FetchTimer()
        try:
            async with asyncio.timeout(limits.total_timeout) as deadline:
                return await self._fetch(domain, limits, timer, Budget(deadline))
        except TimeoutError as exc:
            raise DomainProcessingError(
                "timeout", f"{domain}: no complete response within {limits.total_timeout:g} s"
            ) from exc

    async def _fetch(
        self, domain: str, limits: FetchLimits, timer: FetchTimer, budget: Budget
    ) -> FetchResult:
        https_url = origin_url("https", domain, self.settings.https_port)
        try:
            return await self._follow(https_url, limits, timer, budget)
        except ConnectFailure as failure:
            https_error = failure.error
        http_url = origin_url("http", domain, self.settings.http_port)
        try:
            result = await self._follow(http_url, limits, timer, budget)
        except ConnectFailure as failure:
            raise fallback_failed(https_error, failure.error) from failure.__cause__
        except DomainProcessingError as error:
            if error.code in CONNECTION_CODES:
                raise fallback_failed(https_error, error) from error
            raise
        result.https_error = {"code": https_error.code, "message": https_error.message}
        return result

    async def _follow(
        self, start: URL, limits: FetchLimits, timer: FetchTimer, budget: Budget
    ) -> FetchResult:
        chain = _Chain()
        url = start
        while True:
            cookies = chain.cookies.get(url.raw_host or "", {})
            state = (str(url), tuple(sorted(cookies.items())))
            if state in chain.visited:
                raise DomainProcessingError(
                    "too_many_redirects",
                    f"redirect loop: {url} revisited after {len(chain.redirects)} redirects",
                )
            chain.visited.add(state)
            async with self._slots.hold(url, budget) as waited:
                timer.queued += waited
                hop = await self._send(url, limits, timer, cookies, first=not chain.redirects)
                response = hop.response
                try:
                    remember_cookies(chain.cookies, url, response)
                    target = redirect_target(url, response)
                    if target is None:
                        return await self._finish(start, url, hop, chain, limits, timer)
                    chain.redirects.append(
                        {"url": str(url), "status": response.status, "location": str(target)}
                    )
                    check_redirects(len(chain.redirects), limits.max_redirects, url, target)
                finally:
                    response.release()
            url = target

    async def _send(
        self,
        url: URL,
        limits: FetchLimits,
        timer: FetchTimer,
        cookies: dict[str, str],
        *,
        first: bool,
    ) -> _Hop:
        if self._session is None:
            raise RuntimeError("Fetcher is not open; use 'async with Fetcher(...)'")
        headers = {"User-Agent": limits.user_agent}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        # The socket factory reads this to trust override addresses for this host only.
        token = current_host.set(url.raw_host)
        try:
            response = await self._session.get(
                url, allow_redirects=False, headers=headers, trace_request_ctx=timer
            )
        except Exception as exc:
            error = translate(exc, str(url))
            if first and is_connect_failure(exc):
                raise ConnectFailure(error) from exc
            raise error from exc
        finally:
            current_host.reset(token)
        timer.first_byte = timer.elapsed()
        facts = response if isinstance(response, FactsResponse) else None
        address = facts.peer_address if facts else None
        # Defence in depth: the socket factory refused blocked addresses before connecting;
        # this re-checks the peer of the connection that actually answered.
        reason = self._resolver.guard.reason(address, url.raw_host) if address else None
        if reason is not None and address is not None:
            response.close()
            raise DomainProcessingError(
                "blocked_address", blocked_message(address, url.raw_host, reason)
            )
        return _Hop(response=response, address=address, tls=facts.tls if facts else None)

    async def _finish(
        self,
        start: URL,
        url: URL,
        hop: _Hop,
        chain: _Chain,
        limits: FetchLimits,
        timer: FetchTimer,
    ) -> FetchResult:
        response = hop.response
        content_type = check_final_response(response, url, self.settings.max_header_bytes)
        body = await read_body(response, url, limits.max_body_bytes)
        check_body(content_type, body, url)
        return FetchResult(
            url=str(start),
            final_url=str(url),
            status=response.status,
            redirects=chain.redirects,
            headers=list(response.headers.items()),
            body=body,
            content_type=content_type,
            remote_address=hop.address,
            tls=hop.tls,
            timings=timer.as_ms(timer.elapsed()),
        )
