"""Property tests: ``extract`` never raises, never records a step error, and always returns a
JSON-serializable dict of the same shape, whatever bytes, text or HTML-ish soup it is given."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domainbatch.extract import empty_result, extract
from domainbatch.extract.socials import PLATFORM_KEYS

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TAGS = [
    "html", "head", "title", "meta", "link", "base", "script", "style", "noscript", "body",
    "div", "p", "a", "span", "b", "table", "tr", "td", "ul", "li", "svg", "template", "br",
    "img", "iframe", "textarea", "form", "input", "button", "section",
]  # fmt: skip
ATTRIBUTES = [
    "href", "src", "rel", "name", "property", "content", "charset", "lang", "type", "class",
    "id", "http-equiv", "data-cfemail", "itemprop", "xml:lang", "ng-version",
]  # fmt: skip
VALUES = st.sampled_from(
    [
        "",
        "icon",
        "canonical",
        "shortcut icon",
        "apple-touch-icon",
        "me",
        "description",
        "generator",
        "og:title",
        "og:image",
        "twitter:card",
        "application/ld+json",
        "text/html; charset=shift_jis",
        "utf-8",
        "rot13",
        "windows-1252",
        "en-US",
        "x_Y-z",
        "WordPress 6.4.2",
        "Elementor 3.1; features",
        "mailto:a@b.co?subject=x",
        "mailto:",
        "tel:+1 212 555 0123",
        "tel:",
        "/favicon.png",
        "//cdn.test/x.js",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "https://twitter.com/intent/tweet",
        "https://www.facebook.com/acme",
        "https://github.com/acme/repo",
        "http://[::1",
        "/wp-content/plugins/woocommerce/a.js?ver=8.0",
        "5a3f2c3f",
        "zz",
        "%",
        "&#0;",
        "&amp;",
        '{"@type":"Organization","name":"A","sameAs":["https://x.com/a"]}',
        '{"@graph":[{"@id":"#o","@type":["Corporation"],"logo":{"@id":"#o"}}]}',
        "[[[[[[",
        "{,}",
        "\x00",
        "\ud7ff",
        "\U0001f600",
    ]
) | st.text(max_size=40)
TEXTS = st.sampled_from(
    [
        "info [at] acme [dot] com",
        "jo(at)acme.io",
        "x at y dot org",
        "logo@2x.png",
        "(212) 555-0123",
        "+44 20 7946 0958",
        "30.06.2024",
        "P.IVA 01234567890",
        "$1,249.99",
        "<",
        ">",
        "&",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "</script>",
        "</title>",
    ]
) | st.text(max_size=60)


JSON_KEYS = st.sampled_from(
    ["@type", "@id", "@graph", "@value", "name", "legalName", "url", "logo", "image", "sameAs",
     "contactPoint", "telephone", "email", "contactType", "publisher", "contentUrl"]
) | st.text(max_size=8)  # fmt: skip
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.sampled_from(
        ["Organization", "WebSite", "LocalBusiness", "#o", "https://x.com/a", "/l.png"]
    )
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(JSON_KEYS, children, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def jsonld_block(draw: st.DrawFn) -> str:
    text = orjson.dumps(draw(JSON_VALUES)).decode()
    if draw(st.booleans()):  # damage it
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from([",", "}", "<!--", "", "\\ud800"])) + text[cut:]
    return f'<script type="application/ld+json">{text}</script>'


@st.composite
def html_soup(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 4))
        tag = draw(st.sampled_from(TAGS))
        if kind == 4:
            parts.append(draw(jsonld_block()))
        elif kind == 0:
            attrs = draw(st.lists(st.tuples(st.sampled_from(ATTRIBUTES), VALUES), max_size=4))
            rendered = "".join(f' {k}="{v}"' for k, v in attrs)
            parts.append(f"<{tag}{rendered}>")
        elif kind == 1:
            parts.append(f"</{tag}>")
        else:
            parts.append(draw(TEXTS))
    return "".join(parts)


HEADERS = st.lists(
    st.tuples(
        st.sampled_from(
            ["Content-Type", "Server", "Set-Cookie", "X-Powered-By", "content-language"]
        )
        | st.text(max_size=10),
        st.sampled_from(["text/html; charset=utf-8", "text/html; charset=", "nginx/1.2", "PHP"])
        | st.text(max_size=30),
    ),
    max_size=5,
)
URLS = st.sampled_from(["https://acme.test/", "http://x.y/a/b?c#d", "", "nonsense", "http://[::1"])
REGIONS = st.sampled_from(["US", "GB", "DE", "JP", "ZZ", "", "xx", "de"])


def check(result: dict[str, Any]) -> None:
    assert result["errors"] == []
    assert list(result) == list(empty_result())
    assert list(result["socials"]) == list(PLATFORM_KEYS)
    assert all(isinstance(email, str) and "@" in email for email in result["emails"])
    assert all(isinstance(phone, str) and phone.startswith("+") for phone in result["phones"])
    assert orjson.loads(orjson.dumps(result)) == result


@SETTINGS
@given(body=st.binary(max_size=4_000), headers=HEADERS, url=URLS, region=REGIONS)
def test_random_bytes(body: bytes, headers: list[tuple[str, str]], url: str, region: str) -> None:
    check(extract(url, headers, body, default_region=region))


@SETTINGS
@given(
    text=st.text(max_size=2_000),
    encoding=st.sampled_from(["utf-8", "utf-16", "cp1252", "shift_jis", "gb18030"]),
)
def test_random_text(text: str, encoding: str) -> None:
    body = text.encode(encoding, errors="replace")
    check(extract("https://acme.test/", [("content-type", f"text/html; charset={encoding}")], body))


@SETTINGS
@given(soup=html_soup(), headers=HEADERS, url=URLS, region=REGIONS)
def test_random_html(soup: str, headers: list[tuple[str, str]], url: str, region: str) -> None:
    body = soup.encode("utf-8", errors="surrogatepass")
    check(extract(url, headers, body, default_region=region))
