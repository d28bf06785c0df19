"""The local test web: real HTTP and HTTPS servers on 127.0.0.1 with many virtual hosts.

One aiohttp.web app answers on an HTTP port and an HTTPS port (a ``trustme`` CA signs the
certificate; clients trust that CA through ``ssl_context()`` / ``ca_file``, never by turning
verification off) and picks the site by the Host header. A small DNS server serves the
``dnsweb.example`` zone for the DNS-path tests. ``settings()`` returns domainbatch Settings aimed
at all of it (``resolve_overrides={"*.test": "127.0.0.1"}``).

Every request is counted per host in ``hits`` (and its headers kept in ``last_headers``), so a
test can prove a refused redirect never reached the server, or see the User-Agent sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import shutil
import socket
import ssl
import struct
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

from domainbatch.settings import Settings
from tests.support.dnsserver import LocalDNS
from tests.testweb import pages
from tests.testweb.dns import ZONE, answer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HOST = "127.0.0.1"


class TestWeb:
    """Start with ``await web.start()`` (or the context managers in ``tests.testweb``)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        host: str = HOST,
        http_port: int = 0,
        https_port: int = 0,
        dns_port: int = 0,
        slow_seconds: float = 5.0,
    ) -> None:
        self.host = host
        self.slow_seconds = slow_seconds
        self.hits: Counter[str] = Counter()
        self.last_headers: dict[str, dict[str, str]] = {}
        self.ca = trustme.CA()
        self._cert = self.ca.issue_cert(*self._routes(), "*.bench.test", f"*.{ZONE}", "127.0.0.1")
        # A valid chain for the wrong name, and an expired one: two distinct TLS failures.
        self._wrong_cert = self.ca.issue_cert("other.invalid")
        self._expired_cert = self.ca.issue_cert(
            "expired.test",
            not_before=dt.datetime(2019, 1, 1, tzinfo=dt.UTC),
            not_after=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        )
        self._tmp = Path(tempfile.mkdtemp(prefix="testweb-"))
        self.ca_file = str(self._tmp / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self._sockets = {
            "http": _listen(host, http_port),
            "https": _listen(host, https_port),
        }
        self.http_port = self._sockets["http"].getsockname()[1]
        self.https_port = self._sockets["https"].getsockname()[1]
        # Bound but never listening: connecting to it is refused at once (RST).
        self._closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._closed.bind((host, 0))
        self.closed_port: int = self._closed.getsockname()[1]
        self._dns_port_wanted = dns_port
        self.dns_port = 0
        self._runner: web.AppRunner | None = None
        self._dns: LocalDNS | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        await web.SockSite(self._runner, self._sockets["http"]).start()
        await web.SockSite(
            self._runner, self._sockets["https"], ssl_context=self._server_ssl()
        ).start()
        self._dns = LocalDNS(self.host, self._dns_port_wanted, answer=answer).__enter__()
        self.dns_port = self._dns.port

    async def stop(self) -> None:
        if self._dns is not None:
            self._dns.__exit__(None, None, None)
        if self._runner is not None:
            await self._runner.cleanup()
        self._closed.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # -- what clients need ---------------------------------------------------------------

    def settings(self, **overrides: Any) -> Settings:
        """Settings aimed at this test web, with the SSRF guard on (its ``*.test`` names are
        trusted through ``resolve_overrides``): some of its hosts redirect or resolve to
        private and metadata addresses. A test that turns the guard off does it for hosts that
        stay on 127.0.0.1, and the harness's loopback guard refuses anything else."""
        values: dict[str, Any] = {
            "http_port": self.http_port,
            "https_port": self.https_port,
            "resolve_overrides": {"*.test": self.host},
            "nameservers": [f"{self.host}:{self.dns_port}"],
            "allow_private_addresses": False,
            "dns_timeout": 1.0,
            "connect_timeout": 1.0,
            "total_timeout": 3.0,
            "extra_suffixes": ["test", "example"],
        }
        values.update(overrides)
        return Settings(**values)

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this test web's CA."""
        return ssl.create_default_context(cafile=self.ca_file)

    def url(self, scheme: str, host: str, path: str = "/") -> str:
        port = self.https_port if scheme == "https" else self.http_port
        return f"{scheme}://{host}:{port}{path}"

    def describe(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "http_port": self.http_port,
            "https_port": self.https_port,
            "dns_port": self.dns_port,
            "closed_port": self.closed_port,
            "ca_file": self.ca_file,
            "env": self.env(),
        }

    def env(self) -> dict[str, str]:
        """Environment that aims a ``domainbatch`` process (CLI, worker) at this test web.

        The SSRF guard stays on: the test web's own names (``*.test``) are trusted through
        ``RESOLVE_OVERRIDES`` (an operator's explicit mapping), while its hosts that redirect
        or resolve to loopback, private or metadata addresses end ``blocked_address``, as they
        would on the internet. ``SSL_CERT_FILE`` makes OpenSSL's default trust store this CA
        alone (verification stays on), so a plain ``homepage`` processor fetches the https
        sites.
        """
        return {
            "DOMAINBATCH_HTTP_PORT": str(self.http_port),
            "DOMAINBATCH_HTTPS_PORT": str(self.https_port),
            "DOMAINBATCH_RESOLVE_OVERRIDES": json.dumps({"*.test": self.host}),
            "DOMAINBATCH_NAMESERVERS": f"{self.host}:{self.dns_port}",
            "DOMAINBATCH_EXTRA_SUFFIXES": "test,example",
            "SSL_CERT_FILE": self.ca_file,
        }

    # -- serving -------------------------------------------------------------------------

    def _server_ssl(self) -> ssl.SSLContext:
        def context(cert: trustme.LeafCert) -> ssl.SSLContext:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(ctx)
            return ctx

        main, wrong, expired = (
            context(self._cert),
            context(self._wrong_cert),
            context(self._expired_cert),
        )

        def pick(sslobj: Any, server_name: str | None, _ctx: ssl.SSLContext) -> None:
            if server_name in ("badcert.test", "badcert-only.test"):
                sslobj.context = wrong
            elif server_name == "expired.test":
                sslobj.context = expired

        main.sni_callback = pick
        return main

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        host = (request.url.raw_host or "").lower()
        self.hits[host] += 1
        self.last_headers[host] = dict(request.headers)
        handler = self._routes().get(host)
        if handler is None:
            handler = self._bench if host.endswith(".bench.test") else self._default
        return await handler(request)

    def _routes(self) -> dict[str, Handler]:
        return {
            "plain.test": self._html(pages.PLAIN.encode()),
            "baeckerei.test": self._html(pages.BAKERY_DE.encode()),
            "wordpress.test": self._wordpress,
            "shop.test": self._redirect_to("https", "www.shop.test", 301),
            "www.shop.test": self._shop,
            "chain.test": self._chain,
            "www.chain.test": self._html(pages.PLAIN.encode()),
            "relative.test": self._relative,
            "loop.test": self._loop,
            "endless.test": self._endless,
            "cookie.test": self._cookie,
            "slow.test": self._slow,
            "slowbody.test": self._slow_body,
            "bomb.test": self._bomb,
            "huge.test": self._huge,
            "huge-chunked.test": self._huge_chunked,
            "binary.test": self._binary,
            "octet.test": self._octet,
            "latin1.test": self._raw(pages.LATIN1, "text/html"),
            "wrongcharset.test": self._raw(pages.WRONG_CHARSET, "text/html; charset=utf-8"),
            "nocharset.test": self._raw(pages.NO_CONTENT_TYPE, None),
            "xhtml.test": self._raw(pages.XHTML, "application/xhtml+xml"),
            "notfound.test": self._status(404),
            "error.test": self._status(500),
            "unavailable.test": self._status(503),
            "ratelimit.test": self._status(429),
            "reset.test": self._reset,
            "badcert.test": self._html(pages.PLAIN.encode()),
            "badcert-only.test": self._https_only(pages.PLAIN.encode()),
            "expired.test": self._https_only(pages.PLAIN.encode()),
            "to-loopback.test": self._redirect_url(lambda: self.url("http", "127.0.0.1")),
            "to-mapped.test": self._redirect_url(
                lambda: f"http://[::ffff:127.0.0.1]:{self.http_port}/"
            ),
            "to-metadata.test": self._redirect_url(
                lambda: "http://169.254.169.254/latest/meta-data/"
            ),
            "to-dns-loopback.test": self._redirect_url(
                lambda: self.url("http", f"loopback.{ZONE}")
            ),
            "to-ftp.test": self._redirect_url(lambda: "ftp://files.test/"),
            "bigheader.test": self._big_header,
            "manyheaders.test": self._many_headers,
            "badgzip.test": self._bad_gzip,
        }

    # -- handlers ------------------------------------------------------------------------

    def _html(self, body: bytes) -> Handler:
        return self._raw(body, "text/html; charset=utf-8")

    def _raw(self, body: bytes, content_type: str | None) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if content_type is None:
                return await _without_content_type(request, body)
            return web.Response(body=body, headers={"Content-Type": content_type})

        return handler

    async def _default(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=pages.DEFAULT, content_type="text/html")

    async def _wordpress(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(body=pages.WORDPRESS.encode(), content_type="text/html")
        response.headers["Server"] = "nginx/1.24.0"
        response.headers["X-Powered-By"] = "PHP/8.2.12"
        response.headers["Link"] = '<https://wordpress.test/wp-json/>; rel="https://api.w.org/"'
        return response

    async def _shop(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(body=pages.SHOP.encode(), content_type="text/html")
        response.headers["Server"] = "cloudflare"
        response.headers["CF-Ray"] = "8a1b2c3d4e5f6789-AMS"
        response.headers["X-ShopId"] = "123456"
        response.headers["X-Shopify-Stage"] = "production"
        response.set_cookie("_shopify_y", "abc123")
        response.set_cookie("localization", "US")
        return response

    async def _bench(self, request: web.Request) -> web.StreamResponse:
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response = web.Response(body=pages.bench_page_gzip(), content_type="text/html")
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = web.Response(body=pages.bench_page(), content_type="text/html")
        response.headers["Server"] = "nginx"
        return response

    def _redirect_to(self, scheme: str, host: str, status: int, path: str = "/") -> Handler:
        return self._redirect_url(lambda: self.url(scheme, host, path), status)

    def _redirect_url(self, target: Callable[[], str], status: int = 302) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": target()})

        return handler

    async def _chain(self, request: web.Request) -> web.StreamResponse:
        # https://chain.test/ -> http://chain.test/step -> https://www.chain.test/
        if request.secure:
            return web.Response(
                status=302, headers={"Location": self.url("http", "chain.test", "/step")}
            )
        return web.Response(status=301, headers={"Location": self.url("https", "www.chain.test")})

    async def _relative(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/home":
            return web.Response(body=pages.PLAIN.encode(), content_type="text/html")
        return web.Response(status=307, headers={"Location": "/home#top"})

    async def _loop(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            status=302, headers={"Location": "/b" if request.path != "/b" else "/a"}
        )

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        step = int(request.path.strip("/") or 0)
        return web.Response(status=302, headers={"Location": f"/{step + 1}"})

    async def _cookie(self, request: web.Request) -> web.StreamResponse:
        # Redirects to itself until the cookie comes back: not a loop for a cookie-aware client.
        if request.cookies.get("seen") == "1":
            return web.Response(body=pages.PLAIN.encode(), content_type="text/html")
        response = web.Response(status=302, headers={"Location": "/"})
        response.set_cookie("seen", "1")
        return response

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.slow_seconds)
        return web.Response(body=pages.DEFAULT, content_type="text/html")

    async def _slow_body(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(b"<!doctype html><html><body>")
        for _ in range(int(self.slow_seconds * 10)):
            await asyncio.sleep(0.1)
            await response.write(b"<p>.</p>")
        await response.write_eof()
        return response

    async def _bomb(self, request: web.Request) -> web.StreamResponse:
        body = pages.gzip_bomb()
        return web.Response(
            body=body, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
        )

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        body = b"<!doctype html><html><body>" + b"<p>filler</p>" * 400_000  # ~5 MB
        return web.Response(body=body, content_type="text/html")

    async def _huge_chunked(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"<p>filler</p>" * 5_000
        for _ in range(80):  # ~5 MB, no Content-Length: only the streaming limit catches it
            await response.write(chunk)
        await response.write_eof()
        return response

    async def _binary(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=pages.PNG, content_type="image/png")

    async def _octet(self, request: web.Request) -> web.StreamResponse:
        return await self._raw(pages.PNG, None)(request)

    def _status(self, status: int) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            headers = {"Retry-After": "30"} if status in (429, 503) else {}
            body = f"<!doctype html><html><body>status {status}</body></html>".encode()
            return web.Response(status=status, body=body, content_type="text/html", headers=headers)

        return handler

    def _https_only(self, body: bytes) -> Handler:
        html = self._html(body)

        async def handler(request: web.Request) -> web.StreamResponse:
            return await (html(request) if request.secure else self._reset(request))

        return handler

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: close() sends RST instead of FIN, a real "connection reset".
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        raise asyncio.CancelledError

    async def _big_header(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(body=pages.DEFAULT, content_type="text/html")
        response.headers["X-Padding"] = "x" * 70_000
        return response

    async def _many_headers(self, request: web.Request) -> web.StreamResponse:
        # Each header is modest; together they are ~10 KB (for a total-size limit).
        response = web.Response(body=pages.DEFAULT, content_type="text/html")
        for i in range(10):
            response.headers[f"X-Filler-{i}"] = "y" * 1000
        return response

    async def _bad_gzip(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=b"this is not gzip at all" * 10,
            headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
        )


async def _without_content_type(request: web.Request, body: bytes) -> web.StreamResponse:
    # aiohttp.web always adds a Content-Type; real servers sometimes send none, so write the
    # response by hand and close the connection.
    transport = request.transport
    if transport is not None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        transport.write(head.encode() + body)
        transport.close()
    raise asyncio.CancelledError


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock
