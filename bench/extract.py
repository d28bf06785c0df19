"""Benchmark: extraction alone (no network), pages/s, MB/s and per-page latency.

Corpus, fixed and deterministic: the fixture pages (``tests/fixtures/pages``), a few big
real HTML documents from Debian's ``/usr/share/doc`` when present (Node.js API docs,
nettle, ...), and one generated ~500 KB e-commerce page (seeded, so identical every run).

    python bench/extract.py [--seconds N] [--no-docs]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from domainbatch.extract import extract  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "pages"
DOCS = [
    "/usr/share/doc/nodejs/api/fs.html",
    "/usr/share/doc/nodejs/api/crypto.html",
    "/usr/share/doc/nettle-dev/nettle.html",
    "/usr/share/doc/nodejs/api/process.html",
    "/usr/share/doc/socat/socat.html",
]
HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Server", "nginx/1.24.0")]
WORDS = [
    *("alpine", "trail", "coffee", "roast", "kettle", "copper", "oak", "iron", "harbor"),
    *("studio", "garden", "linen", "wool", "candle", "ceramic", "print", "paper", "leather"),
    *("canvas", "maple", "cedar", "river", "summit", "meadow"),
]


def generated_page(target_bytes: int = 500_000, seed: int = 42) -> bytes:
    """A big, realistic shop page: head tags, JSON-LD, nav, product grid, footer."""
    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    head = [
        "<!doctype html><html lang='en-US'><head><meta charset='utf-8'>",
        "<title>Big Shop — everything</title><meta name='description' content='A big shop.'>",
        "<meta name='generator' content='WordPress 6.4.2'>",
        "<link rel='canonical' href='https://bigshop.example/'>",
        "<meta property='og:title' content='Big Shop'><meta name='twitter:card' content='summary'>",
        '<script type="application/ld+json">{"@context":"https://schema.org","@graph":['
        '{"@type":"WebSite","name":"Big Shop","url":"https://bigshop.example/"},'
        '{"@type":"Organization","name":"Big Shop Inc","sameAs":["https://x.com/bigshop"]}]}'
        "</script>",
    ]
    for i in range(30):
        head.append(f"<link rel='stylesheet' href='/wp-content/plugins/p{i}/style.css?ver=1.{i}'>")
        head.append(f"<script src='/wp-content/plugins/p{i}/app.min.js?ver=2.{i}'></script>")
    head.append("</head><body><header><nav>")
    head.extend(f"<a href='/category/{words(1)}-{i}'>{words(2)}</a>" for i in range(150))
    head.append("</nav></header><main><div class='products'>")
    parts = ["".join(head)]
    size = len(parts[0])
    i = 0
    while size < target_bytes - 2_000:
        card = (
            f"<div class='product-card' data-id='{i}'><a href='/product/{i}'>"
            f"<img src='/img/{i}@2x.jpg' alt='{words(3)}'></a><h3>{words(4).title()}</h3>"
            f"<p class='desc'>{words(25)}</p><span class='price'>${rng.randint(5, 900)}."
            f"{rng.randint(0, 99):02d}</span><span class='sku'>SKU {rng.randint(10**9, 10**10)}"
            "</span></div>"
        )
        parts.append(card)
        size += len(card)
        i += 1
    parts.append(
        "</div></main><footer><p>Call (212) 555-0123 or mail help [at] bigshop [dot] example."
        "</p><a href='https://www.facebook.com/bigshop'>fb</a>"
        "<a href='https://www.instagram.com/bigshop/'>ig</a></footer></body></html>"
    )
    return "".join(parts).encode()


def corpus(use_docs: bool) -> list[tuple[str, bytes]]:
    pages = [(f"fixture:{p.name}", p.read_bytes()) for p in sorted(FIXTURES.glob("*.html"))]
    if use_docs:
        pages += [(f"doc:{Path(p).name}", Path(p).read_bytes()) for p in DOCS if Path(p).exists()]
    pages.append(("generated:shop-500k", generated_page()))
    return pages


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="run time (default 10)")
    parser.add_argument("--no-docs", action="store_true", help="skip /usr/share/doc pages")
    args = parser.parse_args()

    pages = corpus(not args.no_docs)
    total_bytes = sum(len(body) for _, body in pages)
    for _, body in pages:  # warm-up: lazy regex compilation, caches
        extract("https://bench.example/", HEADERS, body)

    latencies: dict[str, list[float]] = {name: [] for name, _ in pages}
    done_bytes = 0
    calls = 0
    started = time.perf_counter()
    deadline = started + args.seconds
    while time.perf_counter() < deadline:
        for name, body in pages:
            t0 = time.perf_counter()
            extract("https://bench.example/", HEADERS, body)
            latencies[name].append(time.perf_counter() - t0)
            done_bytes += len(body)
            calls += 1
    elapsed = time.perf_counter() - started

    every = [ms * 1000 for values in latencies.values() for ms in values]
    print(f"corpus: {len(pages)} pages, {total_bytes / 1e6:.2f} MB per pass")
    print(f"ran {calls} extractions in {elapsed:.1f} s")
    print(f"throughput: {calls / elapsed:.1f} pages/s, {done_bytes / elapsed / 1e6:.2f} MB/s")
    print(
        f"per page: p50 {statistics.median(every):.2f} ms, p90 {percentile(every, 0.9):.2f} ms,"
        f" p99 {percentile(every, 0.99):.2f} ms, max {max(every):.2f} ms"
    )
    groups: dict[str, list[float]] = {}
    for name, values in latencies.items():
        groups.setdefault(name.split(":")[0], []).extend(v * 1000 for v in values)
    for group, values in groups.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        print(f"  {group:10s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
    heaviest = sorted(latencies.items(), key=lambda item: -statistics.median(item[1]))[:5]
    print("slowest pages (median):")
    for name, values in heaviest:
        size = next(len(body) for n, body in pages if n == name)
        print(f"  {statistics.median(values) * 1000:8.2f} ms  {size / 1000:7.1f} KB  {name}")


if __name__ == "__main__":
    main()
