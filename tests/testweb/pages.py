"""HTML of the test web's sites: small, but shaped like the real thing the extractor targets."""

from __future__ import annotations

import struct
import zlib
from functools import cache

PLAIN = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Plain Example Co</title>
  <meta name="description" content="A plain site with contact details.">
  <link rel="canonical" href="https://plain.test/">
  <link rel="icon" href="/favicon.ico">
  <meta property="og:title" content="Plain Example Co">
  <meta property="og:site_name" content="Plain">
  <meta name="twitter:card" content="summary">
</head>
<body>
  <h1>Plain Example Co</h1>
  <p>Write to <a href="mailto:hello@plainexample.com">hello@plainexample.com</a>
     or call <a href="tel:+14155550123">+1 415 555 0123</a>.</p>
  <p>Find us on <a href="https://www.linkedin.com/company/plain-example">LinkedIn</a>,
     <a href="https://github.com/plain-example">GitHub</a> and
     <a href="https://twitter.com/plainexample">X</a>.</p>
</body>
</html>
"""

WORDPRESS = """<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Press Bakery &#8211; Fresh bread daily</title>
<meta name="description" content="Artisan bakery in Portland.">
<meta name="generator" content="WordPress 6.4.2">
<meta name="generator" content="Elementor 3.18.3; features: e_dom_optimization">
<meta name="generator" content="WooCommerce 8.4.0">
<link rel="stylesheet" id="wp-block-library-css"
  href="https://wordpress.test/wp-includes/css/dist/block-library/style.min.css?ver=6.4.2">
<link rel="stylesheet" id="elementor-frontend-css"
  href="https://wordpress.test/wp-content/plugins/elementor/assets/css/frontend.min.css?ver=3.18.3">
<link rel="stylesheet" id="woocommerce-general-css"
  href="https://wordpress.test/wp-content/plugins/woocommerce/assets/css/woocommerce.css?ver=8.4.0">
<script src="https://wordpress.test/wp-includes/js/jquery/jquery.min.js?ver=3.7.1"></script>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ"></script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}
gtag('js', new Date());gtag('config', 'G-ABC123XYZ');</script>
<link rel="https://api.w.org/" href="https://wordpress.test/wp-json/">
<script type="application/ld+json">
{"@context":"https://schema.org","@graph":[
 {"@type":"Organization","name":"Press Bakery","url":"https://wordpress.test/",
  "logo":"https://wordpress.test/wp-content/uploads/logo.png",
  "sameAs":["https://www.facebook.com/pressbakery","https://www.instagram.com/pressbakery"]},
 {"@type":"WebSite","name":"Press Bakery","url":"https://wordpress.test/"}]}
</script>
</head>
<body class="home page-template-default elementor-default">
<div class="elementor elementor-12">
 <p>Orders: <a href="mailto:orders@pressbakery.com">orders@pressbakery.com</a>,
    phone (503) 555-0199.</p>
 <a href="https://www.facebook.com/pressbakery">Facebook</a>
 <a href="https://www.instagram.com/pressbakery/">Instagram</a>
 <a href="https://www.youtube.com/@pressbakery">YouTube</a>
</div>
</body>
</html>
"""

SHOP = """<!doctype html>
<html lang="en" class="no-js">
<head>
<meta charset="utf-8">
<title>Shop Test Store</title>
<meta name="description" content="Handmade goods, shipped worldwide.">
<meta property="og:type" content="website">
<meta property="og:title" content="Shop Test Store">
<meta property="og:image" content="https://cdn.shopify.com/s/files/1/0000/0001/files/og.png">
<link rel="preconnect" href="https://cdn.shopify.com" crossorigin>
<link href="//www.shop.test/cdn/shop/t/3/assets/base.css?v=1234" rel="stylesheet">
<script src="https://cdn.shopify.com/s/trekkie.storefront.min.js" defer></script>
<script>var Shopify = Shopify || {};Shopify.shop = "shop-test.myshopify.com";
Shopify.theme = {"name":"Dawn","id":123456789,"role":"main"};</script>
</head>
<body>
<footer>
 <a href="https://www.tiktok.com/@shoptest">TikTok</a>
 <a href="https://www.instagram.com/shoptest">Instagram</a>
 <p>Contact: support@shoptest.com</p>
</footer>
</body>
</html>
"""

LATIN1 = (
    "<!doctype html><html lang='de'><head><meta charset='iso-8859-1'>"
    "<title>Café Müller</title></head><body><p>Grüße aus Köln</p></body></html>"
).encode("latin-1")

# A German bakery on a generic name: only its language tells the region its numbers are in.
BAKERY_DE = """<!doctype html><html lang="de-DE"><head><meta charset="utf-8">
<title>Bäckerei Sonnenschein</title></head><body>
<p>Bestellungen: 030 12345678 (Mo-Fr), Filiale <a href="tel:0049 40 7654321">Hamburg</a></p>
<p>Stand: 27.06.2018 09:54 · Umsatz 701 / 8818 / 471</p>
</body></html>"""

# Header says UTF-8; the bytes are windows-1252 ("Café" with a 0xE9 byte): must not crash.
WRONG_CHARSET = (
    "<!doctype html><html><head><title>Caf\u00e9 Wrong</title></head>"
    "<body>\u201cquoted\u201d</body></html>"
).encode("cp1252")

NO_CONTENT_TYPE = b"<!doctype html><html><head><title>Sniffed</title></head><body>ok</body></html>"

XHTML = b"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>XHTML Site</title></head>
<body><p>xhtml</p></body></html>
"""

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

DEFAULT = b"<!doctype html><html><head><title>Default vhost</title></head><body>hi</body></html>"

_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"


@cache
def gzip_bomb(decompressed_mib: int = 1024) -> bytes:
    """A valid gzip stream of an HTML prefix plus ``decompressed_mib`` MiB of zeros (~1 KB/MiB).

    One MiB is deflated once after a full flush (no back-references), so its compressed bytes
    can be repeated: building the 1 GiB bomb takes a CRC pass, not a gigabyte of compression.
    """
    prefix = b"<!doctype html><html><head><title>bomb</title></head><body>"
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    mib = bytes(1 << 20)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(decompressed_mib):
        crc = zlib.crc32(mib, crc)
    size = (len(prefix) + (decompressed_mib << 20)) & 0xFFFFFFFF
    return _GZIP_HEADER + head + block * decompressed_mib + end + struct.pack("<II", crc, size)


@cache
def bench_page() -> bytes:
    """A ~40 KB WordPress-like page: the typical homepage the benchmark fetches."""
    filler = "".join(
        f'<article class="post-{i}"><h2><a href="/blog/post-{i}/">Post {i}</a></h2>'
        f"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
        f"tempor incididunt ut labore et dolore magna aliqua {i}.</p></article>\n"
        for i in range(150)
    )
    return WORDPRESS.replace("</body>", filler + "</body>").encode()


@cache
def bench_page_gzip() -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    return compressor.compress(bench_page()) + compressor.flush()
