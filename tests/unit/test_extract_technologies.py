"""The built-in fingerprint table and the matcher (its database: test_builtin_fingerprints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domainbatch.extract import extract
from domainbatch.extract.document import Document
from domainbatch.extract.fingerprint_table import builtin_table
from domainbatch.extract.patterns import required_literal, required_literals
from domainbatch.extract.technologies import detect_technologies

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"


def techs(html: str = "", headers: Any = (), url: str = "https://acme.test/") -> dict[str, Any]:
    result = extract(url, headers, html.encode())
    assert result["errors"] == []
    return {tech["name"]: tech["version"] for tech in result["technologies"]}


def test_table_size_and_coverage() -> None:
    table = builtin_table()
    names = [fingerprint.name for fingerprint in table.fingerprints]
    assert len(names) >= 40
    categories = {fingerprint.category for fingerprint in table.fingerprints}
    for wanted in ("CMS", "E-commerce", "JavaScript framework", "Analytics", "CDN", "Web server"):
        assert wanted in categories
    for fingerprint in table.fingerprints:
        for implied, _ in fingerprint.implies:
            assert implied in names, (fingerprint.name, implied)


def test_every_pattern_compiles_and_versions_come_from_one_group() -> None:
    table = builtin_table()
    assert builtin_table() is table  # compiled once
    for fingerprint in table.fingerprints:
        patterns = [p for _, p in fingerprint.headers] + [p for _, p in fingerprint.meta]
        patterns += [p for _, group in fingerprint.sources for p in group]
        for pattern in patterns:
            assert pattern.regex.groups <= 1, (fingerprint.name, pattern.regex.pattern)
            if pattern.regex.groups:  # a group is there for the version: the tag says so
                assert pattern.template == "\\1", (fingerprint.name, pattern.regex.pattern)


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"cdn\.shopify\.com/", "cdn.shopify.com/"),
        (r"\sng-version=[\"']([\d.]+)", "ng-version="),
        (r"/(?:core/)?misc/drupal\.js", "misc/drupal.js"),
        (r"https?://x\.y", "://x.y"),
        (r"abc|def", ""),
        (r"ab?", ""),
        (r"x{2,3}yz", ""),
        (r"[abc]+defg", "defg"),
        (r"^WordPress(?: ([\d.]+))?", "wordpress"),
    ],
)
def test_required_literal(pattern: str, literal: str) -> None:
    assert required_literal(pattern) == literal
    if literal:
        assert literal in pattern.replace("\\", "").lower()


def test_required_literals_lists_every_run() -> None:
    assert required_literals(r"gtag\(\s*[\"']config[\"']") == ("config", "gtag(")
    assert required_literals(r"a|bcd") == ()


def test_required_literal_is_in_every_sample_match() -> None:
    samples = [
        '<script id="__NEXT_DATA__" type="application/json">',
        "<!-- This site is optimized with the Yoast SEO Premium plugin v21.7 - https://yoast.com",
        "gtag('config', 'G-ABC')",
        '<input type="hidden" name="__VIEWSTATE" value="x">',
        "!function(){fbq('init', '1')}",
        '<div class="elementor elementor-kit-12">',
    ]
    for fingerprint in builtin_table().fingerprints:
        for _, group in fingerprint.sources:
            for pattern in group:
                for sample in samples:
                    if pattern.regex.search(sample):
                        for needle in pattern.needles:
                            assert needle in sample.lower(), pattern.regex.pattern


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("nginx/1.25.3", {"nginx": "1.25.3"}),
        ("nginx", {"nginx": None}),
        ("Apache/2.4.57 (Debian) OpenSSL/3.0.11", {"Apache": "2.4.57"}),
        ("Apache", {"Apache": None}),
        ("Apache-Coyote/1.1", {"Apache Tomcat": None}),
        ("Microsoft-IIS/8.5", {"IIS": "8.5"}),
        ("LiteSpeed", {"LiteSpeed": None}),
        ("openresty/1.21.4.3", {"OpenResty": "1.21.4.3", "nginx": None}),
        ("cloudflare", {"Cloudflare": None}),
        ("Vercel", {"Vercel": None}),
        ("Netlify", {"Netlify": None}),
        ("AkamaiGHost", {"Akamai": None}),
        ("gws", {}),
    ],
)
def test_server_header(server: str, expected: dict[str, Any]) -> None:
    assert techs("<p>x</p>", [("Server", server)]) == expected


def test_other_headers_and_cookies() -> None:
    headers = [
        ("X-Powered-By", "PHP/8.3.1"),
        ("CF-RAY", "abc-FRA"),
        ("Set-Cookie", "laravel_session=abc; path=/; httponly"),
        ("Set-Cookie", "hubspotutk=1; path=/"),
        ("X-Amz-Cf-Id", "x"),
    ]
    assert techs("<p>x</p>", headers) == {
        "PHP": "8.3.1",
        "Cloudflare": None,
        "Laravel": None,
        "HubSpot": None,
        "Amazon CloudFront": None,
    }


def test_versions_from_urls_and_generators() -> None:
    html = (
        '<meta name="generator" content="WordPress 6.5">'
        '<script src="https://code.jquery.com/jquery-3.7.1.slim.min.js"></script>'
        '<script src="https://cdn.jsdelivr.net/npm/vue@3.4.15/dist/vue.global.prod.js"></script>'
        '<link rel="stylesheet" href="https://use.fontawesome.com/releases/v6.5.1/css/all.css">'
        '<script src="https://www.googletagmanager.com/gtag/js?id=UA-1234-1"></script>'
    )
    assert techs(html) == {
        "WordPress": "6.5",
        "PHP": None,
        "jQuery": "3.7.1",
        "jQuery CDN": None,
        "Vue.js": "3.4.15",
        "jsDelivr": None,
        "Font Awesome": "6.5.1",
        "Google Analytics": "UA",
    }


def test_implied_chain_and_sorting() -> None:
    html = '<link rel="stylesheet" href="/wp-content/plugins/woocommerce/x.css?ver=8.0.1">'
    result = extract("https://acme.test/", [], html.encode())
    assert result["technologies"] == [
        {"name": "PHP", "category": "Programming language", "version": None},
        {"name": "WooCommerce", "category": "E-commerce", "version": "8.0.1"},
        {"name": "WordPress", "category": "CMS", "version": None},
    ]


def test_invalid_versions_are_dropped() -> None:
    assert techs("<p>x</p>", [("Server", "nginx/" + "1." * 40)]) == {"nginx": None}


def test_plain_page_has_no_technologies() -> None:
    assert techs("<html><head><title>Hello</title></head><body><p>Hi</p></body></html>") == {}


def test_prefilter_never_changes_results() -> None:
    for path in sorted(PAGES.glob("*.html")):
        doc = Document("https://acme.test/", [], path.read_bytes())
        assert detect_technologies(doc) == detect_technologies(doc, prefilter=False), path.name


def test_case_insensitive_matching() -> None:
    assert techs('<SCRIPT SRC="HTTPS://CDN.SHOPIFY.COM/S/X.JS"></SCRIPT>') == {"Shopify": None}
