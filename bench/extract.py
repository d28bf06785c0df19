"""Benchmark: extraction alone (no network), pages/s, MB/s and per-page latency.

Corpus, fixed and deterministic: the fixture pages (``tests/fixtures/pages``), a few big
real HTML documents from Debian's ``/usr/share/doc`` when present (Node.js API docs,
nettle, ...), one generated ~500 KB e-commerce page, and three generated homepages of the
typical 60-120 KB size (WordPress + Elementor, Shopify, Next.js: inline CSS, JSON config and
SVG icons, menus, prose with dates and prices, a footer with contacts). Generated pages are
seeded, so identical every run; the ``realistic`` group is the one to watch for crawls.

    python bench/extract.py [--seconds N] [--no-docs]
"""

from __future__ import annotations

import argparse
import json
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


_CSS_PROPS = ("margin", "padding", "font-size", "line-height", "width", "max-width", "gap")
_SVG_ICON = (
    "<svg class='icon icon-{0}' viewBox='0 0 24 24' width='24' height='24'><path d='M{1}.5 "
    "{2}.25L{3}.75 {4}.5C{5}.1 {6}.9 {7}.4 {8}.6 {1}.2 {3}.8Z M3 3h18v18H3z'/></svg>"
)


def _css(rng: random.Random, rules: int) -> str:
    out = []
    for i in range(rules):
        props = ";".join(
            f"{rng.choice(_CSS_PROPS)}:{rng.randint(0, 64)}px" for _ in range(rng.randint(2, 5))
        )
        out.append(
            f".e-con-{i} .elementor-widget-{rng.choice(WORDS)}{{{props};color:#3a{i % 10}f2c}}"
        )
    return "".join(out)


def _svg(rng: random.Random, name: str) -> str:
    return _SVG_ICON.format(name, *(rng.randint(1, 22) for _ in range(8)))


def _prose(rng: random.Random, sentences: int) -> str:
    months = ("January", "March", "June", "September", "November")
    parts = []
    for i in range(sentences):
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize()
        if i % 5 == 1:
            sentence += (
                f", since {rng.choice(months)} {rng.randint(1, 28)}, {rng.randint(1990, 2024)}"
            )
        if i % 7 == 3:
            sentence += f" from ${rng.randint(9, 400)}.{rng.randint(0, 99):02d}"
        if i % 11 == 5:
            sentence += f" ({rng.randint(2, 40)}% off, {rng.randint(100, 9999)} reviews)"
        parts.append(sentence + ".")
    return " ".join(parts)


def _footer(rng: random.Random, host: str) -> str:
    return (
        "<footer class='site-footer'><div class='footer-col'><h4>Visit us</h4>"
        f"<p>{rng.randint(100, 9999)} Burnside St, Suite {rng.randint(100, 999)}<br>"
        f"Portland, OR 972{rng.randint(10, 99)}</p><p>Mon&ndash;Fri 9:00&ndash;17:30, "
        "Sat 10:00&ndash;14:00</p></div><div class='footer-col'><h4>Contact</h4>"
        "<p>Call <a href='tel:+15035550199'>(503) 555-0199</a> &middot; Fax 503.555.0142</p>"
        f"<p><a href='mailto:hello@{host}'>hello@{host}</a></p></div>"
        "<div class='footer-col social'>"
        f"<a href='https://www.facebook.com/{host.split('.')[0]}'>{_svg(rng, 'fb')}</a>"
        f"<a href='https://www.instagram.com/{host.split('.')[0]}/'>{_svg(rng, 'ig')}</a>"
        f"<a href='https://www.linkedin.com/company/{host.split('.')[0]}'>{_svg(rng, 'in')}</a>"
        f"<a href='https://www.facebook.com/sharer/sharer.php?u=https://{host}/'>share</a>"
        "</div><p class='copyright'>&copy; 2024 All rights reserved. "
        f"VAT no. GB 123 4567 89 &middot; Reg. no. {rng.randint(10**7, 10**8)}</p></footer>"
    )


def _menu(rng: random.Random, base: str, items: int) -> str:
    links = "".join(
        f"<li class='menu-item menu-item-{1000 + i}'><a href='{base}/{rng.choice(WORDS)}-{i}/'>"
        f"{rng.choice(WORDS).title()} {rng.choice(WORDS)}</a></li>"
        for i in range(items)
    )
    return f"<nav class='main-navigation'><ul class='menu'>{links}</ul></nav>"


def wordpress_homepage(target_bytes: int = 90_000, seed: int = 7) -> bytes:
    """A WordPress + Elementor + WooCommerce homepage, shaped like the real ones."""
    rng = random.Random(seed)
    host = "harborroast.com"
    base = f"https://{host}"
    head = [
        "<!DOCTYPE html><html lang='en-US'><head><meta charset='UTF-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<!-- This site is optimized with the Yoast SEO plugin v21.7 - https://yoast.com/ -->",
        "<title>Harbor Roast &#8211; Coffee roasters</title>",
        "<meta name='description' content='Small-batch coffee roasted in Portland.'>",
        f"<link rel='canonical' href='{base}/'><meta property='og:title' content='Harbor Roast'>",
        f"<meta property='og:image' content='{base}/wp-content/uploads/2024/01/og.jpg'>",
        "<meta name='twitter:card' content='summary_large_image'>",
        "<script type='application/ld+json' class='yoast-schema-graph'>{\"@context\":"
        '"https://schema.org","@graph":[{"@type":"Organization","name":'
        f'"Harbor Roast","url":"{base}/","sameAs":["https://x.com/harborroast"]}},'
        f'{{"@type":"WebSite","name":"Harbor Roast","url":"{base}/"}}]}}</script>',
        "<meta name='generator' content='WordPress 6.4.2'>",
        "<meta name='generator' content='WooCommerce 8.4.0'>",
        "<meta name='generator' content='Elementor 3.18.3; features: e_dom_optimization'>",
    ]
    for i, plugin in enumerate(
        ("elementor", "woocommerce", "contact-form-7", "wpforms", "jetpack")
    ):
        head.append(
            f"<link rel='stylesheet' id='{plugin}-css' href='{base}/wp-content/plugins/{plugin}/"
            f"assets/css/style.min.css?ver=3.{i}.1' media='all'>"
        )
    head.append(f"<style id='elementor-inline-css'>{_css(rng, 220)}</style>")
    config = ",".join(
        f'"{rng.choice(WORDS)}_{i}":{{"id":{rng.randint(1, 10**6)},"url":'
        f'"{base}/wp-json/wp/v2/{rng.choice(WORDS)}","enabled":true}}'
        for i in range(120)
    )
    head.append(f"<script>var elementorFrontendConfig = {{{config}}};</script>")
    head.append(
        "<script async src='https://www.googletagmanager.com/gtag/js?id=G-X1Y2Z3'></script>"
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
        "gtag('js',new Date());gtag('config','G-X1Y2Z3');</script></head>"
    )
    body = [
        "<body class='home page-template-default elementor-default elementor-kit-5'>",
        f"<header class='site-header'><a href='{base}/'>{_svg(rng, 'logo')}</a>",
        _menu(rng, base, 60),
        "</header><main>",
    ]
    size = sum(map(len, head)) + sum(map(len, body))
    section = 0
    while size < target_bytes - 6_000:
        icons = "".join(_svg(rng, f"feature-{section}-{k}") for k in range(3))
        block = (
            f"<section class='elementor-section elementor-element-{rng.randint(10**6, 10**7):x}'>"
            f"<div class='elementor-container'><h2>{rng.choice(WORDS).title()} "
            f"{rng.choice(WORDS)}</h2>{icons}<p>{_prose(rng, 6)}</p>"
            f"<div class='product'><a href='{base}/product/{rng.choice(WORDS)}-{section}/'>"
            f"<img src='{base}/wp-content/uploads/2024/0{section % 9 + 1}/p{section}-300x300.jpg'"
            f" alt='{rng.choice(WORDS)}'></a><span class='price'>${rng.randint(9, 90)}.00</span>"
            "</div></div></section>"
        )
        body.append(block)
        size += len(block)
        section += 1
    body += [
        "</main>",
        _footer(rng, host),
        f"<script src='{base}/wp-includes/js/jquery/jquery.min.js?ver=3.7.1'></script>",
        f"<script src='{base}/wp-content/plugins/elementor/assets/js/frontend.min.js?ver=3.18.3'>"
        "</script>",
        f"<script src='{base}/wp-content/plugins/woocommerce/assets/js/frontend/woocommerce.min.js"
        "?ver=8.4.0'></script></body></html>",
    ]
    return "".join(head + body).encode()


def shopify_homepage(target_bytes: int = 120_000, seed: int = 11) -> bytes:
    """A Shopify (Dawn theme) homepage with its big inline JSON."""
    rng = random.Random(seed)
    host = "northpeakcoffee.com"
    products = ",".join(
        f'{{"id":{rng.randint(10**12, 10**13)},"title":"{rng.choice(WORDS).title()}",'
        f'"price":{rng.randint(900, 9000)},"variants":[{{"id":{rng.randint(10**12, 10**13)},'
        f'"sku":"NP-{rng.randint(1000, 9999)}","available":true}}]}}'
        for _ in range(160)
    )
    head = (
        "<!doctype html><html class='no-js' lang='en'><head><meta charset='utf-8'>"
        "<title>North Peak Coffee Roasters</title>"
        "<meta name='description' content='Small-batch specialty coffee.'>"
        f"<link rel='canonical' href='https://{host}/'>"
        "<link rel='preconnect' href='https://cdn.shopify.com' crossorigin>"
        f"<script src='//{host}/cdn/shop/t/12/assets/constants.js?v=5825154475' defer></script>"
        "<script>window.Shopify = window.Shopify || {};Shopify.shop = 'north-peak.myshopify.com';"
        'Shopify.theme = {"name":"Dawn","id":128765411234,"role":"main"};</script>'
        f"<style>{_css(rng, 260)}</style>"
        f"<script id='web-pixels-manager-setup'>var products=[{products}];</script>"
        "<script src='https://cdn.shopify.com/s/trekkie.storefront.0f1c3a1a.min.js' defer></script>"
        f"<link href='//{host}/cdn/shop/t/12/assets/base.css?v=1690000000' rel='stylesheet'>"
        "</head><body class='gradient'>"
    )
    parts = [head, f"<header>{_svg(rng, 'logo')}", _menu(rng, f"https://{host}", 40), "</header>"]
    size = sum(map(len, parts))
    card = 0
    while size < target_bytes - 6_000:
        block = (
            f"<div class='card-wrapper product-card-{card}'><a href='/products/"
            f"{rng.choice(WORDS)}-{card}'>{_svg(rng, 'bag')}<h3>{rng.choice(WORDS).title()} "
            f"{rng.choice(WORDS)}</h3></a><p>{_prose(rng, 2)}</p><span class='price-item'>"
            f"${rng.randint(12, 60)}.{rng.choice(('00', '50', '95'))} USD</span></div>"
        )
        parts.append(block)
        size += len(block)
        card += 1
    parts += [_footer(rng, host), "</body></html>"]
    return "".join(parts).encode()


def nextjs_homepage(target_bytes: int = 70_000, seed: int = 5) -> bytes:
    """A Next.js marketing homepage: server-rendered markup plus a big __NEXT_DATA__ blob."""
    rng = random.Random(seed)
    host = "brightdesk.io"
    data = ",".join(
        f'{{"slug":"{rng.choice(WORDS)}-{i}","body":"{_prose(rng, 2)}",'
        f'"updatedAt":"2024-0{i % 9 + 1}-1{i % 10}T10:{i % 60:02d}:00Z"}}'
        for i in range(70)
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>BrightDesk &mdash; Help desk software</title>"
        "<meta name='description' content='The help desk your team will love.'>"
        "<link rel='preload' href='/_next/static/css/a1b2c3.css' as='style'>"
        "<script src='/_next/static/chunks/webpack-0f1e2d.js' defer></script>"
        "<script src='/_next/static/chunks/main-9a8b7c.js' defer></script></head><body>"
        f"<div id='__next'><header>{_svg(rng, 'logo')}",
        _menu(rng, f"https://{host}", 25),
        "</header><main>",
    ]
    size = sum(map(len, parts)) + len(data)
    while size < target_bytes - 5_000:
        block = (
            f"<section class='Hero_root__x{rng.randint(100, 999)}'><p>{_prose(rng, 5)}</p>"
            "</section>"
        )
        parts.append(block)
        size += len(block)
    parts += [
        "</main>",
        _footer(rng, host),
        "</div><script id='__NEXT_DATA__' type='application/json'>{\"props\":{\"pageProps\":"
        f'{{"posts":[{data}]}}}},"page":"/","buildId":"x1"}}</script></body></html>',
    ]
    return "".join(parts).encode()


def corpus(use_docs: bool) -> list[tuple[str, str, bytes]]:
    """(name, the page's own URL, body): each page is extracted as fetched from its own site,
    so what only a site's own URLs prove (a CMS's directories) is found as on the real one."""
    pages = [
        (f"fixture:{p.name}", _fixture_url(p), p.read_bytes())
        for p in sorted(FIXTURES.glob("*.html"))
    ]
    if use_docs:
        pages += [
            (f"doc:{Path(p).name}", "https://docs.bench.example/", Path(p).read_bytes())
            for p in DOCS
            if Path(p).exists()
        ]
    pages.append(("generated:shop-500k", "https://bigshop.example/", generated_page()))
    pages.append(("realistic:wordpress", "https://harborroast.com/", wordpress_homepage()))
    pages.append(("realistic:shopify", "https://northpeakcoffee.com/", shopify_homepage()))
    pages.append(("realistic:nextjs", "https://brightdesk.io/", nextjs_homepage()))
    return pages


def _fixture_url(page: Path) -> str:
    expected = page.with_suffix(".json")
    if expected.exists():
        return str(json.loads(expected.read_text()).get("url", "https://bench.example/"))
    return "https://bench.example/"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="run time (default 10)")
    parser.add_argument("--no-docs", action="store_true", help="skip /usr/share/doc pages")
    args = parser.parse_args()

    pages = corpus(not args.no_docs)
    total_bytes = sum(len(body) for _, _, body in pages)
    for _, url, body in pages:  # warm-up: lazy regex compilation, caches
        extract(url, HEADERS, body)

    latencies: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    done_bytes = 0
    calls = 0
    started = time.perf_counter()
    deadline = started + args.seconds
    while time.perf_counter() < deadline:
        for name, url, body in pages:
            t0 = time.perf_counter()
            extract(url, HEADERS, body)
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
        size = next(len(body) for n, _, body in pages if n == name)
        print(f"  {statistics.median(values) * 1000:8.2f} ms  {size / 1000:7.1f} KB  {name}")


if __name__ == "__main__":
    main()
