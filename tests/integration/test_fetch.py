"""The fetcher against the local test web: every page, its error code and the recorded facts.

Every test runs with ``loopback_only``: a socket to anything but 127.0.0.1 fails the test, so a
broken SSRF guard can never send a packet anywhere real.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.facts import FetchResult
from domainbatch.fetching.http import Fetcher
from tests.testweb import TestWeb, pages
from tests.testweb.fixtures import loopback_only, testweb

pytestmark = pytest.mark.usefixtures("loopback_only")
__all__ = ["loopback_only", "testweb"]  # fixtures, imported for pytest

GUARD_ON = {"allow_private_addresses": False}  # the test web's default, said where it matters
# Off only for controls whose hosts resolve and redirect to 127.0.0.1 alone.
GUARD_OFF = {"allow_private_addresses": True}


@asynccontextmanager
async def open_fetcher(web: TestWeb, trust: bool = True, **settings: Any) -> AsyncIterator[Fetcher]:
    context = web.ssl_context() if trust else None
    async with Fetcher(web.settings(**settings), ssl_context=context) as fetcher:
        yield fetcher


async def fetch(web: TestWeb, domain: str, **settings: Any) -> FetchResult:
    async with open_fetcher(web, **settings) as fetcher:
        return await fetcher.fetch(domain)


async def fetch_error(web: TestWeb, domain: str, **settings: Any) -> DomainProcessingError:
    with pytest.raises(DomainProcessingError) as info:
        await fetch(web, domain, **settings)
    return info.value


# -- success paths ---------------------------------------------------------------------------


async def test_plain_site_over_verified_https(testweb: TestWeb) -> None:
    result = await fetch(testweb, "plain.test")
    assert result.status == 200
    assert result.url == result.final_url == f"https://plain.test:{testweb.https_port}/"
    assert result.redirects == []
    assert result.https_error is None
    assert b"Plain Example Co" in result.body
    assert result.content_type == "text/html; charset=utf-8"
    assert result.remote_address == "127.0.0.1"
    assert result.tls is not None
    assert result.tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert result.tls["cipher"]
    assert "trustme" in result.tls["issuer"]
    assert result.tls["not_after"] == "3000-01-01T00:00:00.000Z"
    assert result.tls["days_remaining"] > 0
    assert set(result.timings) == {"dns_ms", "connect_ms", "first_byte_ms", "fetch_ms"}
    assert result.timings["connect_ms"] > 0  # a fresh connection, TLS handshake included
    assert 0 < result.timings["first_byte_ms"] <= result.timings["fetch_ms"]
    assert ("Content-Type", "text/html; charset=utf-8") in result.headers


async def test_user_agent_and_accept_headers_are_sent(testweb: TestWeb) -> None:
    await fetch(testweb, "plain.test", user_agent="DomainbatchTest/1.0 (+tests)")
    sent = testweb.last_headers["plain.test"]
    assert sent["User-Agent"] == "DomainbatchTest/1.0 (+tests)"
    assert "text/html" in sent["Accept"]
    assert "gzip" in sent["Accept-Encoding"]


async def test_apex_to_www_redirect_is_recorded(testweb: TestWeb) -> None:
    result = await fetch(testweb, "shop.test")
    port = testweb.https_port
    assert result.redirects == [
        {
            "url": f"https://shop.test:{port}/",
            "status": 301,
            "location": f"https://www.shop.test:{port}/",
        }
    ]
    assert result.final_url == f"https://www.shop.test:{port}/"
    assert ("Server", "cloudflare") in result.headers
    assert sum(1 for k, _ in result.headers if k.lower() == "set-cookie") == 2


async def test_https_http_https_chain_keeps_explicit_ports(testweb: TestWeb) -> None:
    result = await fetch(testweb, "chain.test")
    http, https = testweb.http_port, testweb.https_port
    assert result.redirects == [
        {
            "url": f"https://chain.test:{https}/",
            "status": 302,
            "location": f"http://chain.test:{http}/step",
        },
        {
            "url": f"http://chain.test:{http}/step",
            "status": 301,
            "location": f"https://www.chain.test:{https}/",
        },
    ]
    assert result.final_url == f"https://www.chain.test:{https}/"
    assert result.tls is not None  # facts of the final (https) hop


async def test_relative_redirect_and_fragment(testweb: TestWeb) -> None:
    result = await fetch(testweb, "relative.test")
    home = f"https://relative.test:{testweb.https_port}/home"
    assert result.redirects[0]["location"] == home
    assert result.redirects[0]["status"] == 307
    assert result.final_url == home


async def test_cookie_redirect_is_not_a_loop(testweb: TestWeb) -> None:
    result = await fetch(testweb, "cookie.test")
    assert result.status == 200
    assert len(result.redirects) == 1
    assert testweb.last_headers["cookie.test"].get("Cookie") == "seen=1"


async def test_cookies_never_travel_between_fetches(testweb: TestWeb) -> None:
    # The second fetch starts without the first one's cookie: it is redirected again.
    async with open_fetcher(testweb) as fetcher:
        first = await fetcher.fetch("cookie.test")
        second = await fetcher.fetch("cookie.test")
    assert len(first.redirects) == len(second.redirects) == 1


async def test_redirect_loop(testweb: TestWeb) -> None:
    before = testweb.hits["loop.test"]
    error = await fetch_error(testweb, "loop.test")
    assert error.code == "too_many_redirects"
    assert "loop" in error.message
    assert error.transient is False
    assert testweb.hits["loop.test"] - before == 3  # /, /b, /a: stopped at the repeat


async def test_endless_redirects_stop_at_max_redirects(testweb: TestWeb) -> None:
    before = testweb.hits["endless.test"]
    error = await fetch_error(testweb, "endless.test", max_redirects=3)
    assert error.code == "too_many_redirects"
    assert "more than 3 redirects" in error.message
    assert testweb.hits["endless.test"] - before == 4


async def test_max_redirects_zero_refuses_any_redirect(testweb: TestWeb) -> None:
    error = await fetch_error(testweb, "shop.test", max_redirects=0)
    assert error.code == "too_many_redirects"


async def test_redirect_to_unsupported_scheme(testweb: TestWeb) -> None:
    error = await fetch_error(testweb, "to-ftp.test")
    assert error.code == "http_status"
    assert "ftp://files.test/" in error.message


# -- https -> http fallback --------------------------------------------------------------------


async def test_refused_https_falls_back_to_http_then_redirects_to_https(testweb: TestWeb) -> None:
    # Nothing on the https port: plain http answers, and redirects to https on an explicit port.
    result = await fetch(testweb, "shop.test", https_port=testweb.closed_port)
    assert result.url == f"http://shop.test:{testweb.http_port}/"
    assert result.https_error is not None
    assert result.https_error["code"] == "connect_error"
    assert "refused" in result.https_error["message"]
    assert result.redirects == [
        {
            "url": f"http://shop.test:{testweb.http_port}/",
            "status": 301,
            "location": f"https://www.shop.test:{testweb.https_port}/",
        }
    ]
    assert result.final_url == f"https://www.shop.test:{testweb.https_port}/"


async def test_plain_tcp_on_the_https_port_is_a_tls_failure_then_http(testweb: TestWeb) -> None:
    result = await fetch(testweb, "plain.test", https_port=testweb.http_port)
    assert result.final_url == f"http://plain.test:{testweb.http_port}/"
    assert result.https_error is not None
    assert result.https_error["code"] == "tls_error"
    assert result.tls is None


async def test_both_ports_refused(testweb: TestWeb) -> None:
    closed = testweb.closed_port
    error = await fetch_error(testweb, "plain.test", https_port=closed, http_port=closed)
    assert error.code == "connect_error"
    assert error.transient is True
    assert error.message.count("connection refused") == 2


async def test_certificate_for_another_name_falls_back_to_http(testweb: TestWeb) -> None:
    result = await fetch(testweb, "badcert.test")
    assert result.final_url == f"http://badcert.test:{testweb.http_port}/"
    assert result.https_error is not None
    assert result.https_error["code"] == "tls_error"
    assert "badcert.test" in result.https_error["message"]


@pytest.mark.parametrize(
    ("domain", "fragment"),
    [("badcert-only.test", "not valid for 'badcert-only.test'"), ("expired.test", "expired")],
)
async def test_tls_failure_without_usable_http(
    testweb: TestWeb, domain: str, fragment: str
) -> None:
    error = await fetch_error(testweb, domain)
    assert error.code == "tls_error"
    assert error.transient is False
    assert fragment in error.message
    assert "plain http fallback" in error.message


async def test_verification_is_on_without_the_test_ca(testweb: TestWeb) -> None:
    async with open_fetcher(testweb, trust=False) as fetcher:
        result = await fetcher.fetch("plain.test")
    assert result.https_error is not None
    assert result.https_error["code"] == "tls_error"
    assert result.final_url.startswith("http://")


# -- bounds ----------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["slow.test", "slowbody.test"])
async def test_slow_server_hits_the_total_timeout(testweb: TestWeb, domain: str) -> None:
    started = time.perf_counter()
    error = await fetch_error(testweb, domain, total_timeout=0.5)
    elapsed = time.perf_counter() - started
    assert error.code == "timeout"
    assert error.transient is True
    assert "0.5 s" in error.message
    assert elapsed < 1.5


async def test_gzip_bomb_is_cut_at_max_body_bytes_without_blowing_memory(
    testweb: TestWeb,
) -> None:
    pages.gzip_bomb()  # built once, outside the measurement
    async with open_fetcher(testweb) as fetcher:
        tracemalloc.start()
        try:
            with pytest.raises(DomainProcessingError) as info:
                await fetcher.fetch("bomb.test")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert info.value.code == "too_large"
    assert "decompressed" in info.value.message
    # The bomb inflates to 1 GiB; the fetch may hold max_body_bytes plus a few buffers.
    assert peak < 48 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(
    ("domain", "fragment"),
    [("huge.test", "announces"), ("huge-chunked.test", "exceeds")],
)
async def test_huge_pages_are_too_large(testweb: TestWeb, domain: str, fragment: str) -> None:
    error = await fetch_error(testweb, domain)
    assert error.code == "too_large"
    assert fragment in error.message
    assert error.transient is False


async def test_body_limit_boundary(testweb: TestWeb) -> None:
    size = len(pages.PLAIN.encode())
    async with open_fetcher(testweb) as fetcher:
        exact = await fetcher.fetch("plain.test", limits=fetcher.limits_with(max_body_bytes=size))
        assert len(exact.body) == size
        with pytest.raises(DomainProcessingError) as info:
            await fetcher.fetch("plain.test", limits=fetcher.limits_with(max_body_bytes=size - 1))
    assert info.value.code == "too_large"


async def test_oversized_header_is_too_large(testweb: TestWeb) -> None:
    error = await fetch_error(testweb, "bigheader.test")
    assert error.code == "too_large"
    assert "header" in error.message
    assert len(error.message) < 300


async def test_total_header_size_is_bounded(testweb: TestWeb) -> None:
    # Every header fits the per-field limit, the sum does not.
    error = await fetch_error(testweb, "manyheaders.test", max_header_bytes=4096)
    assert error.code == "too_large"
    assert "limit 4096" in error.message
    result = await fetch(testweb, "manyheaders.test")  # default 64 KiB: fine
    assert result.status == 200


# -- content ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("domain", "fragment"), [("binary.test", "image/png"), ("octet.test", "")])
async def test_binary_content_is_not_html(testweb: TestWeb, domain: str, fragment: str) -> None:
    error = await fetch_error(testweb, domain)
    assert error.code == "not_html"
    assert fragment in error.message


async def test_missing_content_type_with_html_body_is_accepted(testweb: TestWeb) -> None:
    result = await fetch(testweb, "nocharset.test")
    assert result.content_type is None
    assert result.body == pages.NO_CONTENT_TYPE


async def test_xhtml_is_html(testweb: TestWeb) -> None:
    result = await fetch(testweb, "xhtml.test")
    assert result.content_type == "application/xhtml+xml"


@pytest.mark.parametrize(
    ("domain", "body"), [("latin1.test", pages.LATIN1), ("wrongcharset.test", pages.WRONG_CHARSET)]
)
async def test_bodies_are_passed_on_as_bytes(testweb: TestWeb, domain: str, body: bytes) -> None:
    result = await fetch(testweb, domain)
    assert result.body == body


async def test_corrupt_gzip_body(testweb: TestWeb) -> None:
    error = await fetch_error(testweb, "badgzip.test")
    assert error.code == "connect_error"
    assert error.transient is False
    assert "compressed" in error.message


# -- HTTP and connection errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "status", "transient"),
    [
        ("notfound.test", 404, False),
        ("ratelimit.test", 429, True),
        ("error.test", 500, True),
        ("unavailable.test", 503, True),
    ],
)
async def test_http_error_statuses(
    testweb: TestWeb, domain: str, status: int, transient: bool
) -> None:
    error = await fetch_error(testweb, domain)
    assert error.code == "http_status"
    assert error.transient is transient
    assert f"HTTP {status}" in error.message


async def test_connection_reset(testweb: TestWeb) -> None:
    error = await fetch_error(testweb, "reset.test")
    assert error.code == "connect_error"
    assert error.transient is True
    assert "reset" in error.message


@pytest.mark.parametrize(
    ("domain", "code"),
    [("nx.dnsweb.example", "dns_nxdomain"), ("servfail.dnsweb.example", "dns_error")],
)
async def test_dns_failures(testweb: TestWeb, domain: str, code: str) -> None:
    error = await fetch_error(testweb, domain)
    assert error.code == code


# -- SSRF guard (allow_private_addresses=False) ------------------------------------------------


async def test_override_hosts_are_reachable_with_the_guard_on(testweb: TestWeb) -> None:
    result = await fetch(testweb, "plain.test", **GUARD_ON)
    assert result.status == 200


async def test_redirect_to_loopback_literal_is_refused_before_connecting(
    testweb: TestWeb,
) -> None:
    before = testweb.hits["127.0.0.1"]
    error = await fetch_error(testweb, "to-loopback.test", **GUARD_ON)
    assert error.code == "blocked_address"
    assert "127.0.0.1" in error.message
    assert "loopback" in error.message
    assert testweb.hits["127.0.0.1"] == before  # the request never reached the server
    # Control: with the guard off the very same redirect is followed and answered, so the
    # refusal above is the guard's doing, not an unreachable target.
    result = await fetch(testweb, "to-loopback.test", **GUARD_OFF)
    assert result.final_url == f"http://127.0.0.1:{testweb.http_port}/"
    assert testweb.hits["127.0.0.1"] == before + 1


async def test_redirect_to_ipv4_mapped_loopback_is_refused(testweb: TestWeb) -> None:
    error = await fetch_error(testweb, "to-mapped.test", **GUARD_ON)
    assert error.code == "blocked_address"
    assert "IPv4-mapped 127.0.0.1" in error.message


async def test_redirect_to_cloud_metadata_is_refused(
    testweb: TestWeb, loopback_only: list[str]
) -> None:
    error = await fetch_error(testweb, "to-metadata.test", **GUARD_ON)
    assert error.code == "blocked_address"
    assert "169.254.169.254" in error.message
    assert "cloud metadata" in error.message
    assert all(a.startswith("127.") for a in loopback_only)


async def test_dns_answer_pointing_at_loopback_is_refused(testweb: TestWeb) -> None:
    domain = "loopback.dnsweb.example"
    before = testweb.hits[domain]
    error = await fetch_error(testweb, domain, **GUARD_ON)
    assert error.code == "blocked_address"
    assert f"{domain} -> 127.0.0.1" in error.message
    assert testweb.hits[domain] == before
    # Control: reachable with the guard off (DNS gave 127.0.0.1, not an override).
    result = await fetch(testweb, domain, **GUARD_OFF)
    assert result.status == 200
    assert testweb.hits[domain] == before + 1


async def test_redirect_to_a_name_resolving_to_loopback_is_refused(testweb: TestWeb) -> None:
    before = testweb.hits["loopback.dnsweb.example"]
    error = await fetch_error(testweb, "to-dns-loopback.test", **GUARD_ON)
    assert error.code == "blocked_address"
    assert testweb.hits["loopback.dnsweb.example"] == before


@pytest.mark.parametrize(
    ("domain", "fragment"),
    [
        ("private.dnsweb.example", "RFC 1918"),
        ("cgnat.dnsweb.example", "CGNAT"),
        ("metadata.dnsweb.example", "cloud metadata"),
        ("mapped.dnsweb.example", "IPv4-mapped"),
        ("ula.dnsweb.example", "unique local"),
    ],
)
async def test_dns_answers_pointing_inside_are_refused(
    testweb: TestWeb, domain: str, fragment: str
) -> None:
    error = await fetch_error(testweb, domain, **GUARD_ON)
    assert error.code == "blocked_address"
    assert fragment in error.message


# -- the shared session ----------------------------------------------------------------------


async def test_many_concurrent_fetches_share_one_session(testweb: TestWeb) -> None:
    async with open_fetcher(testweb, http_connection_limit=8) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(f"s{i}.bench.test") for i in range(60)))
        session = fetcher._session
        assert session is not None
    assert all(r.status == 200 and len(r.body) == len(pages.bench_page()) for r in results)
    assert session.closed
