"""The simulated internet's web servers, in their own process (their CPU is not the client's):

    python -m bench.internet_web --http-port P --https-port Q --folder DIR [--scale S]
                                 [--total-timeout T] [--hosts N]

On 127.0.0.1 (``SERVING``): plain http and https (certificates of a ``trustme`` CA whose
certificate it writes to ``DIR/ca.pem``) that answer each host as bench/internet_sim.py draws
it: after its time to first byte, a redirect (to ``www.<host>`` or to ``/en/``, never off
the simulated zone: asserted), a bot wall (403/503), or a real-sized page, at once or
trickled. A host that fails TLS gets a handshake-failure alert. On 127.0.0.3 (``TARPIT``), the
same ports accept connections and never answer. Nothing listens on 127.0.0.2 (``REFUSING``).
Prints ``ready`` once listening; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
from functools import cache
from pathlib import Path
from typing import Any

import trustme

from bench.internet_sim import SERVING, TARPIT, Timing, host, host_names, in_zone

DOCS = Path("/usr/share/doc")
MAX_PAGES = 60
CHUNKS = 16  # a trickled body arrives in this many pieces
WALL = b"<!doctype html><html><head><title>Access denied</title></head><body>bot?</body></html>"


def pick_pages() -> list[bytes]:
    """Real HTML pages of homepage sizes (20-100 KB): Debian's documentation when installed,
    else the extraction bench's generated homepages at several sizes."""
    docs = sorted(
        p
        for p in DOCS.rglob("*.html")
        if p.is_file() and not p.is_symlink() and 20_000 <= p.stat().st_size <= 100_000
    )
    if len(docs) >= 10:
        return [p.read_bytes() for p in docs[:: max(1, len(docs) // MAX_PAGES)][:MAX_PAGES]]
    from bench.extract import nextjs_homepage, shopify_homepage, wordpress_homepage

    makers = (wordpress_homepage, shopify_homepage, nextjs_homepage)
    return [makers[i % 3](target_bytes=20_000 + 8_000 * i, seed=i) for i in range(10)]


class Site:
    """What every connection shares: the pages, the ports, the timing, the TLS contexts."""

    def __init__(self, http_port: int, https_port: int, timing: Timing, ca: trustme.CA) -> None:
        self.ports = {"http": http_port, "https": https_port}
        self.timing = timing
        self.pages = pick_pages()
        self.ca = ca
        self.tls = self._context("localhost")
        self.tls.sni_callback = self._sni

    @cache  # noqa: B019 - one Site per process, for its whole life
    def _context(self, *names: str) -> ssl.SSLContext:
        # One certificate per host, issued on its first handshake: OpenSSL matches no
        # wildcard right under a top-level domain ("*.test").
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert(*names).configure_cert(context)
        return context

    def _sni(self, sslobj: Any, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
        if server_name is None:
            return None
        context = self.context_for(server_name)
        if context is None:
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
        sslobj.context = context
        return None

    def context_for(self, name: str) -> ssl.SSLContext | None:
        """The TLS context of a host and its www name; ``None`` for a host that fails TLS."""
        h = host(name, self.timing)
        return None if h.tls_fail else self._context(h.name, f"www.{h.name}")

    def response(self, name: str, path: str, scheme: str) -> tuple[int, list[str], bytes]:
        """(status, extra header lines, body) for ``path`` of ``name``."""
        h = host(name, self.timing)
        if h.redirect == "www" and not name.startswith("www."):
            target = f"www.{h.name}"
            if not in_zone(target):
                raise AssertionError(f"redirect from {name} would leave the simulation")
            return 301, [f"Location: {scheme}://{target}:{self.ports[scheme]}/"], b""
        if h.redirect == "path" and path == "/":
            return 301, ["Location: /en/"], b""
        if path not in ("/", "/en/"):
            return 404, [], b"not found"
        if h.wall:
            return h.wall, ["Retry-After: 3600"], WALL
        return 200, [], self.pages[h.page % len(self.pages)]


REASONS = {200: "OK", 301: "Moved Permanently", 403: "Forbidden", 404: "Not Found", 503: "x"}


class Http(asyncio.Protocol):
    """One connection: one request, one answer, then close (as the clients all force)."""

    def __init__(self, site: Site, scheme: str) -> None:
        self.site, self.scheme = site, scheme
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.task is not None:
            return
        self.buffer += data
        head, found, _ = self.buffer.partition(b"\r\n\r\n")
        if not found:
            if len(self.buffer) > 65536 and self.transport is not None:
                self.transport.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1] if lines[0].count(" ") >= 2 else "/"
        hosts = (line[5:].strip() for line in lines[1:] if line.lower().startswith("host:"))
        name = next(hosts, "")
        name = name.rsplit(":", 1)[0].lower() if name.count(":") == 1 else name.lower()
        self.task = asyncio.get_running_loop().create_task(self.answer(name, path))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()

    async def answer(self, name: str, path: str) -> None:
        transport = self.transport
        assert transport is not None
        h = host(name, self.site.timing)
        await asyncio.sleep(h.ttfb)
        status, extra, body = self.site.response(name, path, self.scheme)
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Service Unavailable')}\r\n"
            "Server: internet-sim\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
            + "".join(f"{line}\r\n" for line in extra)
            + "\r\n"
        ).encode()
        if h.trickle and status == 200:
            transport.write(head)
            step = -(-len(body) // CHUNKS)
            for start in range(0, len(body), step):
                await asyncio.sleep(h.trickle / CHUNKS)
                transport.write(body[start : start + step])
        else:
            transport.write(head + body)
        transport.close()


class Tarpit(asyncio.Protocol):
    """Accepts, reads, never answers: a hanging host (the client's timeout ends it)."""

    def data_received(self, data: bytes) -> None:
        pass


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(Path(args.folder) / "ca.pem"))
    site = Site(args.http_port, args.https_port, Timing(args.total_timeout, args.scale), ca)
    for name in host_names(args.hosts):  # now, so no client's run pays for issuing them
        site.context_for(name)
    servers = [
        await loop.create_server(lambda: Http(site, "http"), SERVING, args.http_port, backlog=4096),
        await loop.create_server(
            lambda: Http(site, "https"), SERVING, args.https_port, ssl=site.tls, backlog=4096
        ),
        *[
            await loop.create_server(Tarpit, TARPIT, port, backlog=4096)
            for port in (args.http_port, args.https_port)
        ],
    ]
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        for server in servers:
            server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--total-timeout", type=float, default=15.0)
    parser.add_argument("--hosts", type=int, default=0, help="certificates to issue up front")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
