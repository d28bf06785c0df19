"""The Scrapy side of the fetch bench: a spider that fetches the same homepages and extracts the
same fields (title, description, emails, links) with Scrapy's own selectors. Run in its own
process (Scrapy owns a Twisted reactor):

    python -m bench.scrapy_spider URLS_FILE CONCURRENCY [CA_FILE]

Prints one JSON line: domains fetched, items, seconds and CPU seconds between the spider's
opening and closing, and the process's peak RSS. Names resolve to 127.0.0.1 through a resolver
installed on the reactor (the equivalent of domainbatch's ``resolve_overrides``).
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from twisted.internet import defer
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from bench.common import self_peak_rss

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@implementer(IResolverSimple)
class LoopbackResolver:
    """Every name is 127.0.0.1 (the bench's virtual hosts)."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> LoopbackResolver:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def getHostByName(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        return defer.succeed("127.0.0.1")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class HomepageSpider(scrapy.Spider):
    name = "homepages"
    stats: dict[str, Any] = {}  # noqa: RUF012

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> HomepageSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.opened, signal=scrapy.signals.spider_opened)
        crawler.signals.connect(spider.closed_, signal=scrapy.signals.spider_closed)
        return spider

    def opened(self, spider: scrapy.Spider) -> None:
        self.stats.update(started=time.perf_counter(), cpu_started=cpu(), items=0, titles=0)

    def closed_(self, spider: scrapy.Spider, reason: str) -> None:
        self.stats.update(ended=time.perf_counter(), cpu_ended=cpu(), reason=reason)

    async def start(self) -> Any:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    def start_requests(self) -> Iterator[scrapy.Request]:  # Scrapy < 2.13
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response: Response) -> Iterator[dict[str, Any]]:
        title = response.css("title::text").get()
        description = response.xpath("//meta[@name='description']/@content").get()
        hrefs = response.css("a::attr(href)").getall()
        emails = {h[7:].split("?")[0].lower() for h in hrefs if h.lower().startswith("mailto:")}
        # The body's text as one string (XPath string()): Scrapy's cheapest idiom, far
        # cheaper than joining a Selector per text node ("body ::text").
        text = response.xpath("string(//body)").get() or ""
        emails.update(e.lower() for e in EMAIL.findall(text))
        links = [response.urljoin(h) for h in hrefs if not h.lower().startswith("mailto:")]
        self.stats["items"] += 1
        if title:
            self.stats["titles"] += 1
        yield {
            "url": response.url,
            "title": title.strip() if title else None,
            "description": description,
            "emails": sorted(emails),
            "links": links,
        }


def main(argv: list[str]) -> None:
    urls_file, concurrency = argv[0], int(argv[1])
    with open(urls_file) as handle:
        urls = [line.strip() for line in handle if line.strip()]
    settings = {
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "RETRY_ENABLED": False,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_TIMEOUT": 15,
        "DOWNLOAD_MAXSIZE": 2 * 1024 * 1024,
        # Newer Scrapy reads TWISTED_DNS_RESOLVER, older DNS_RESOLVER (both: either works).
        "TWISTED_DNS_RESOLVER": "bench.scrapy_spider.LoopbackResolver",
        "DNS_RESOLVER": "bench.scrapy_spider.LoopbackResolver",
        "DNSCACHE_ENABLED": False,
        "REACTOR_THREADPOOL_MAXSIZE": 10,
    }
    process = CrawlerProcess(settings)
    process.crawl(HomepageSpider, urls=urls)
    process.start()
    stats = HomepageSpider.stats
    print(
        json.dumps(
            {
                "domains": len(urls),
                "items": stats.get("items", 0),
                "titles": stats.get("titles", 0),
                "seconds": stats["ended"] - stats["started"],
                "cpu_s": stats["cpu_ended"] - stats["cpu_started"],
                "peak_rss": self_peak_rss(),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
