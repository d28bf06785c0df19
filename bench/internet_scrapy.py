"""Scrapy on the simulated internet: bench/scrapy_spider.py's spider (same fields, same
selectors) given the simulator's DNS and an https -> plain http fallback, recording each host's
outcome. Run in its own process (Scrapy owns a Twisted reactor):

    python -m bench.internet_scrapy HOSTS_FILE OUTCOMES_FILE --preset default|tuned
        --nameserver 127.0.0.1:P --http-port P --https-port Q [--dns-timeout 5]
        [--total-timeout 15]

``default``: Scrapy's own settings (16 requests at once, 8 per domain, 2 retries), except the
timeouts, set to domainbatch's (Scrapy's 180 s download and 60 s DNS timeouts would make the
hanging hosts alone take hours); logs at ERROR. ``tuned``: Scrapy's broad-crawl advice: 500
requests at once, no retries, no cookies, a bigger thread pool, the downloader-aware queue.
Writes one JSON line per host (``domain``, ``outcome``, ``t``) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import CannotResolveHostError, DownloadTimeoutError
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet.error import DNSLookupError, TimeoutError
from twisted.internet.interfaces import IResolverSimple
from twisted.names import client, dns, error
from twisted.python.failure import Failure
from zope.interface import implementer

from bench.common import self_peak_rss
from bench.scrapy_spider import HomepageSpider

OPTIONS: dict[str, Any] = {}  # the command line's, for the resolver and the spider
# Why each name failed to resolve: Twisted's endpoint reports every failure as "no results".
DNS_FAILURES: dict[str, str] = {}


@implementer(IResolverSimple)
class SimResolver:
    """A records from the simulator's nameserver (Twisted's own DNS client); each failure's
    kind is kept in ``DNS_FAILURES`` for the spider's outcome."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        host, _, port = OPTIONS["nameserver"].partition(":")
        self.client = client.Resolver(servers=[(host, int(port))], reactor=reactor)

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> SimResolver:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def getHostByName(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        d = self.client.lookupAddress(name, timeout=(OPTIONS["dns_timeout"],))

        def address(result: Any) -> str:
            for record in result[0]:
                if record.type == dns.A:
                    return str(record.payload.dottedQuad())
            DNS_FAILURES[name.lower()] = "dns_nxdomain"
            raise DNSLookupError(f"dns_nxdomain: {name} has no A record")

        def failed(failure: Failure) -> None:
            kind = "dns_nxdomain" if failure.check(error.DNSNameError) else "dns_error"
            DNS_FAILURES[name.lower()] = kind
            raise DNSLookupError(f"{kind}: {name}: {failure.value!r}")

        return d.addCallbacks(address, failed)


class SimSpider(HomepageSpider):
    name = "internet"

    def __init__(self, hosts: list[str], **kwargs: Any) -> None:
        super().__init__(urls=[], **kwargs)
        self.hosts = hosts
        self.outcomes: list[dict[str, Any]] = []

    def visit(self, domain: str, scheme: str) -> scrapy.Request:
        port = OPTIONS["https_port"] if scheme == "https" else OPTIONS["http_port"]
        return scrapy.Request(
            f"{scheme}://{domain}:{port}/",
            callback=self.page,
            errback=self.failed,
            dont_filter=True,
            meta={"domain": domain, "scheme": scheme},
        )

    async def start(self) -> Any:
        for domain in self.hosts:
            yield self.visit(domain, "https")

    def start_requests(self) -> Iterator[scrapy.Request]:  # Scrapy < 2.13
        for domain in self.hosts:
            yield self.visit(domain, "https")

    def record(self, domain: str, outcome: str) -> None:
        elapsed = time.perf_counter() - self.stats["started"]
        self.outcomes.append({"domain": domain, "outcome": outcome, "t": elapsed})

    def page(self, response: Response) -> Iterator[dict[str, Any]]:
        meta = response.meta
        over_http = meta["scheme"] == "http"
        self.record(meta["domain"], "succeeded_over_http" if over_http else "succeeded")
        yield from self.parse(response)

    def failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        meta = failure.request.meta  # type: ignore[attr-defined]
        if failure.check(HttpError):
            outcome = "http_status"
        elif failure.check(CannotResolveHostError, DNSLookupError):
            host = urlsplit(failure.request.url).hostname or ""  # type: ignore[attr-defined]
            outcome = DNS_FAILURES.get(host, "dns_error")
        elif failure.check(DownloadTimeoutError, TimeoutError, defer.TimeoutError):
            outcome = "timeout"  # the whole download's time is spent: no fallback
        elif meta["scheme"] == "https":
            yield self.visit(meta["domain"], "http")  # no HTTP exchange: plain http
            return
        else:
            outcome = "connect_error"
        self.record(meta["domain"], outcome)


def settings(preset: str) -> dict[str, Any]:
    common = {
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "DOWNLOAD_TIMEOUT": OPTIONS["total_timeout"],
        "DNS_TIMEOUT": OPTIONS["dns_timeout"],
        "TWISTED_DNS_RESOLVER": "bench.internet_scrapy.SimResolver",
        "DNS_RESOLVER": "bench.internet_scrapy.SimResolver",
    }
    if preset == "default":
        return common
    return {
        **common,
        "CONCURRENT_REQUESTS": 500,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 500,
        "REACTOR_THREADPOOL_MAXSIZE": 20,
        "RETRY_ENABLED": False,
        "COOKIES_ENABLED": False,
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hosts_file")
    parser.add_argument("outcomes_file")
    parser.add_argument("--preset", choices=("default", "tuned"), required=True)
    parser.add_argument("--nameserver", required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--dns-timeout", type=float, default=5.0)
    parser.add_argument("--total-timeout", type=float, default=15.0)
    args = parser.parse_args(argv)
    OPTIONS.update(vars(args))
    with open(args.hosts_file) as handle:
        hosts = [line.strip() for line in handle if line.strip()]
    process = CrawlerProcess(settings(args.preset))
    crawler = process.create_crawler(SimSpider)
    process.crawl(crawler, hosts=hosts)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, SimSpider)
    with open(args.outcomes_file, "w") as handle:
        handle.writelines(json.dumps(o) + "\n" for o in spider.outcomes)
    stats = spider.stats
    print(
        json.dumps(
            {
                "seconds": stats["ended"] - stats["started"],
                "cpu_s": stats["cpu_ended"] - stats["cpu_started"],
                "peak_rss": self_peak_rss(),
            }
        )
    )


if __name__ == "__main__":
    # As the module Scrapy imports by name (the resolver setting), not a second copy.
    from bench.internet_scrapy import main as run_main

    run_main(sys.argv[1:])
