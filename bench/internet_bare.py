"""The latency-bound limit on the simulated internet: a bare aiohttp loop that resolves each
name through the simulator's DNS (dnspython, as domainbatch does), fetches ``https://`` then
plain ``http://`` when no HTTP exchange happened, follows redirects, and discards the body.
No guard, no limits, no extraction, no retries; the same timeouts as domainbatch's defaults.

    python -m bench.internet_bare HOSTS_FILE OUTCOMES_FILE --nameserver 127.0.0.1:P
        --http-port P --https-port Q --ca-file CA [--concurrency 500] [--dns-timeout 5]
        [--connect-timeout 5] [--total-timeout 15]

Writes one JSON line per host (``domain``, ``outcome``, ``t``: seconds from the start to its
completion) and prints one JSON line: seconds, CPU seconds, peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import ssl
import time
from typing import Any

import aiohttp
import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
from aiohttp.abc import AbstractResolver, ResolveResult

from bench.common import self_cpu_seconds, self_peak_rss


class Unresolved(OSError):
    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class SimResolver(AbstractResolver):
    """A records from the given nameserver (the redirect targets resolve here too)."""

    def __init__(self, nameserver: str, timeout: float) -> None:
        host, _, port = nameserver.partition(":")
        self.dns = dns.asyncresolver.Resolver(configure=False)
        self.dns.nameservers = [dns.nameserver.Do53Nameserver(host, int(port or 53))]
        self.dns.lifetime = self.dns.timeout = timeout

    async def lookup(self, host: str) -> list[str]:
        try:
            answer = await self.dns.resolve(host, "A", search=False)
        except dns.resolver.NXDOMAIN:
            raise Unresolved("dns_nxdomain") from None
        except dns.exception.DNSException:
            raise Unresolved("dns_error") from None
        return [r.to_text() for r in answer]

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in await self.lookup(host)
        ]

    async def close(self) -> None:
        pass


def failure(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorDNSError) and isinstance(exc.os_error, Unresolved):
        return exc.os_error.outcome
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout"
    return "connect_error"


async def crawl(args: argparse.Namespace, hosts: list[str]) -> tuple[list[dict[str, Any]], float]:
    resolver = SimResolver(args.nameserver, args.dns_timeout)
    context = ssl.create_default_context(cafile=args.ca_file)
    connector = aiohttp.TCPConnector(
        limit=args.concurrency * 2, resolver=resolver, use_dns_cache=False, force_close=True
    )
    timeout = aiohttp.ClientTimeout(total=args.total_timeout, sock_connect=args.connect_timeout)
    outcomes: list[dict[str, Any]] = []
    started = time.perf_counter()
    source = iter(hosts)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def get(url: str) -> str:
            async with session.get(url, ssl=context) as response:
                await response.read()
                return "succeeded" if response.status < 400 else "http_status"

        async def one(domain: str) -> str:
            try:
                await resolver.lookup(domain)  # the DNS outcome first, as every crawler
            except Unresolved as exc:
                return exc.outcome
            deadline = time.perf_counter() + args.total_timeout
            try:
                return await get(f"https://{domain}:{args.https_port}/")
            except aiohttp.ClientConnectorDNSError as exc:  # plain http would meet it too
                return failure(exc)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
                pass  # no HTTP exchange: plain http, in what is left of the time
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                return failure(exc)
            try:
                async with asyncio.timeout(max(0.0, deadline - time.perf_counter())):
                    result = await get(f"http://{domain}:{args.http_port}/")
                return "succeeded_over_http" if result == "succeeded" else result
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                return failure(exc)

        async def worker() -> None:
            for domain in source:
                outcome = await one(domain)
                outcomes.append(
                    {"domain": domain, "outcome": outcome, "t": time.perf_counter() - started}
                )

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return outcomes, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hosts_file")
    parser.add_argument("outcomes_file")
    parser.add_argument("--nameserver", required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--dns-timeout", type=float, default=5.0)
    parser.add_argument("--connect-timeout", type=float, default=5.0)
    parser.add_argument("--total-timeout", type=float, default=15.0)
    args = parser.parse_args()
    with open(args.hosts_file) as handle:
        hosts = [line.strip() for line in handle if line.strip()]
    cpu0 = self_cpu_seconds()
    outcomes, seconds = asyncio.run(crawl(args, hosts))
    with open(args.outcomes_file, "w") as handle:
        handle.writelines(json.dumps(o) + "\n" for o in outcomes)
    print(
        json.dumps(
            {"seconds": seconds, "cpu_s": self_cpu_seconds() - cpu0, "peak_rss": self_peak_rss()}
        )
    )


if __name__ == "__main__":
    main()
