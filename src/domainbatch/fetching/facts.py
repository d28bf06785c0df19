"""Cheap facts about a fetch: its result, timings (aiohttp tracing), headers of interest, TLS
details."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp.connector import Connection

from domainbatch.core.humanize import rfc3339
from domainbatch.fetching.resolver import Answer

# Response headers worth keeping in the result record: who serves the site, what it runs on,
# what it protects. Everything else stays out so records stay small (the extractor sees all).
HEADERS_OF_INTEREST = (
    "server",
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
    "x-powered-by",
    "x-generator",
    "x-drupal-cache",
    "x-shopify-stage",
    "x-wix-request-id",
    "x-served-by",
    "x-cache",
    "via",
    "cf-ray",
    "cf-cache-status",
    "x-amz-cf-id",
    "x-vercel-id",
    "x-nf-request-id",
    "strict-transport-security",
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "last-modified",
    "cache-control",
    "alt-svc",
)
MAX_HEADER_VALUE = 512


def headers_of_interest(raw: Iterable[tuple[str, str]]) -> dict[str, str]:
    picked: dict[str, str] = {}
    for name, value in raw:
        key = name.lower()
        if key in HEADERS_OF_INTEREST:
            joined = f"{picked[key]}, {value}" if key in picked else value
            picked[key] = joined[:MAX_HEADER_VALUE]
    return picked


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int
    redirects: list[dict[str, Any]]
    headers: list[tuple[str, str]]
    body: bytes
    content_type: str | None
    remote_address: str | None
    tls: dict[str, Any] | None
    timings: dict[str, float]
    https_error: dict[str, str] | None = None


@dataclass(frozen=True)
class Visit:
    """One domain's DNS answer (all its addresses, and MX) and its homepage."""

    answer: Answer
    page: FetchResult


@dataclass
class FetchTimer:
    """Per-fetch timings in seconds; aiohttp trace callbacks add to it across redirect hops.
    They measure the site: ``queued`` (waits for our own connection slots) is left out."""

    started: float = field(default_factory=time.perf_counter)
    queued: float = 0.0
    dns: float = 0.0
    connect: float = 0.0
    first_byte: float | None = None
    _marks: dict[str, float] = field(default_factory=dict)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started - self.queued

    def mark(self, name: str) -> None:
        self._marks[name] = time.perf_counter()

    def since(self, name: str) -> float:
        return time.perf_counter() - self._marks.pop(name, time.perf_counter())

    def as_ms(self, total: float) -> dict[str, float]:
        def ms(seconds: float) -> float:
            return round(seconds * 1000, 2)

        return {
            "dns_ms": ms(self.dns),
            "connect_ms": ms(self.connect),
            "first_byte_ms": ms(self.first_byte or 0.0),
            "fetch_ms": ms(total),
        }


def _timer(ctx: SimpleNamespace) -> FetchTimer | None:
    timer = ctx.trace_request_ctx
    return timer if isinstance(timer, FetchTimer) else None


async def _conn_start(_s: Any, ctx: SimpleNamespace, _p: Any) -> None:
    if (timer := _timer(ctx)) is not None:
        timer.mark("connect")


async def _conn_end(_s: Any, ctx: SimpleNamespace, _p: Any) -> None:
    # Connection creation includes the TLS handshake, which is part of "connect" here.
    if (timer := _timer(ctx)) is not None:
        timer.connect += timer.since("connect")


async def _dns_start(_s: Any, ctx: SimpleNamespace, _p: Any) -> None:
    if (timer := _timer(ctx)) is not None:
        timer.mark("dns")


async def _dns_end(_s: Any, ctx: SimpleNamespace, _p: Any) -> None:
    if (timer := _timer(ctx)) is not None:
        timer.dns += timer.since("dns")


def trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_connection_create_start.append(_conn_start)
    config.on_connection_create_end.append(_conn_end)
    config.on_dns_resolvehost_start.append(_dns_start)
    config.on_dns_resolvehost_end.append(_dns_end)
    return config


class FactsResponse(aiohttp.ClientResponse):
    """A response that notes its connection's peer address and TLS facts as it starts.

    A small body arrives with the headers, and aiohttp hands the connection back to the pool
    before ``session.get`` returns, so afterwards ``response.connection`` is ``None``: the
    transport can only be seen here.
    """

    peer_address: str | None = None
    tls: dict[str, Any] | None = None

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        self.peer_address = peer_address(transport)
        if self.url.scheme == "https":
            self.tls = tls_facts(transport)
        return await super().start(connection)


def peer_address(transport: asyncio.Transport | None) -> str | None:
    if transport is None:
        return None
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if peer else None


def tls_facts(transport: asyncio.Transport | None) -> dict[str, Any] | None:
    """Protocol, cipher and certificate facts of a verified TLS connection, or ``None``."""
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    cipher = ssl_object.cipher()
    facts: dict[str, Any] = {
        "version": ssl_object.version(),
        "cipher": cipher[0] if cipher else None,
    }
    # asyncio already decoded the certificate after the handshake; decoding is not free.
    cert = transport.get_extra_info("peercert") or ssl_object.getpeercert()
    if cert:
        not_after = _cert_time(cert.get("notAfter"))
        facts.update(
            subject=_name(cert.get("subject", ())).get("commonName"),
            issuer=_issuer(_name(cert.get("issuer", ()))),
            not_before=rfc3339(_cert_time(cert.get("notBefore"))),
            not_after=rfc3339(not_after),
            days_remaining=(
                int((not_after - time.time()) // 86400) if not_after is not None else None
            ),
            san_count=len(cert.get("subjectAltName", ())),
        )
    return facts


def _name(rdns: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    for rdn in rdns:
        for key, value in rdn:
            fields.setdefault(str(key), str(value))
    return fields


def _issuer(fields: dict[str, str]) -> str | None:
    """``Let's Encrypt (R11)``: the CA's organization, then its issuing certificate's name."""
    org, cn = fields.get("organizationName"), fields.get("commonName")
    if org and cn and cn != org:
        return f"{org} ({cn})"
    return org or cn


def _cert_time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return float(ssl.cert_time_to_seconds(value))
    except ValueError:
        return None
