"""Title, description, language, canonical, favicon, OpenGraph and Twitter fields."""

from __future__ import annotations

from typing import Any

import pytest

from domainbatch.extract import extract
from domainbatch.extract.metadata import normalize_language


def run(html: str, headers: Any = (), url: str = "https://acme.test/a/b") -> dict[str, Any]:
    result = extract(url, headers, html.encode())
    assert result["errors"] == []
    return result


def test_title_skips_svg_titles_and_collapses_whitespace() -> None:
    html = "<body><svg><title>Icon</title></svg><title>\n  Real\t title </title></body>"
    assert run(html)["title"] == "Real title"


def test_description_is_meta_description_only() -> None:
    html = '<meta property="og:description" content="og"><meta name="Description" content=" d ">'
    result = run(html)
    assert result["description"] == "d"
    assert result["opengraph"] == {"description": "og"}
    assert run('<meta property="og:description" content="og">')["description"] is None


def test_meta_name_description_beats_an_earlier_itemprop() -> None:
    html = '<meta itemprop="description" content="micro"><meta name="description" content="meta">'
    assert run(html)["description"] == "meta"


def test_description_fallbacks_in_documented_order() -> None:
    name = '<meta name="description" content="name">'
    prop = '<meta property="description" content="property">'
    item = '<meta itemprop="description" content="itemprop">'
    equiv = '<meta http-equiv="description" content="http-equiv">'
    assert run(equiv + item + prop + name)["description"] == "name"
    assert run(equiv + item + prop)["description"] == "property"
    assert run(equiv + item)["description"] == "itemprop"
    assert run(equiv)["description"] == "http-equiv"
    # A blank one is skipped, like a missing one.
    assert run('<meta name="description" content=" ">' + item)["description"] == "itemprop"


def test_meta_name_description_that_also_carries_og_description() -> None:
    html = '<meta property="og:description" name="description" content="both">'
    result = run(html)
    assert result["description"] == "both"
    assert result["opengraph"] == {"description": "both"}


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en", "en"),
        ("EN-us", "en-US"),
        ("en_GB", "en-GB"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("", None),
        ("  ", None),
        ("{{ lang }}", None),
        ("de, en", "de"),
        ("pt-br", "pt-BR"),
        ("de-DE-1996", "de-DE-1996"),
        ("sr-Latn-RS", "sr-Latn-RS"),
        ("zh-yue-HK", "zh-yue-HK"),
        ("en-US-x-twain", "en-US-x-twain"),
        ("DE-u-co-PHONEBK", "de-u-co-phonebk"),
        ("en-" + "a" * 200, None),
        ("UTF-8", None),
        ("utf8", None),
        ("japanese", None),
        ("english", None),
        ("x", None),
        ("x-klingon", None),
        ("i-klingon", None),
        ("123", None),
        ("en-", None),
        ("en--US", None),
        ("en-US-", None),
        ("e1", None),
    ],
)
def test_normalize_language(tag: str, expected: str | None) -> None:
    assert normalize_language(tag) == expected


def test_language_falls_back_to_header_then_meta() -> None:
    assert run("<p>x</p>", [("Content-Language", "fr-CA")])["language"] == "fr-CA"
    html = '<meta http-equiv="content-language" content="nl">'
    assert run(html)["language"] == "nl"
    assert run('<html lang="pt"><p>x</p>', {"content-language": "fr"})["language"] == "pt"


def test_language_skips_a_charset_or_word_and_falls_back() -> None:
    assert run('<html lang="UTF-8"><p>x</p>')["language"] is None
    assert run('<html lang="japanese"><p>x</p>')["language"] is None
    html = '<html lang="UTF-8" xml:lang="japanese"><p>x</p>'
    assert run(html, {"content-language": "ja"})["language"] == "ja"
    html = '<html lang="utf8"><meta http-equiv="content-language" content="ja-JP">'
    assert run(html)["language"] == "ja-JP"


def test_relative_canonical_and_base_href() -> None:
    assert run('<link rel="canonical" href="../c">')["canonical_url"] == "https://acme.test/c"
    html = '<base href="https://cdn.acme.test/x/"><link rel="canonical" href="y">'
    assert run(html)["canonical_url"] == "https://cdn.acme.test/x/y"
    assert run('<link rel="canonical" href="javascript:void(0)">')["canonical_url"] is None


def test_favicon_preference_and_default() -> None:
    html = (
        '<link rel="apple-touch-icon" href="/apple.png">'
        '<link rel="icon" href="data:image/png;base64,AAAA">'
        '<link rel="SHORTCUT ICON" href="/fav.ico">'
    )
    result = run(html)
    assert (result["favicon_url"], result["favicon_declared"]) == (
        "https://acme.test/fav.ico",
        True,
    )
    result = run('<link rel="apple-touch-icon" href="/apple.png">')
    assert result["favicon_url"] == "https://acme.test/apple.png"
    result = run("<p>no icon</p>")
    assert (result["favicon_url"], result["favicon_declared"]) == (
        "https://acme.test/favicon.ico",
        False,
    )


def test_no_usable_url_gives_no_absolute_links() -> None:
    result = run('<link rel="canonical" href="/c"><link rel="icon" href="/i.png">', url="not a url")
    assert result["canonical_url"] is None
    assert result["favicon_url"] is None


def test_cards_first_value_wins_urls_resolved_and_capped() -> None:
    html = (
        '<meta property="og:image" content="/one.png"><meta property="og:image" content="/two.png">'
        '<meta name="og:title" content="T"><meta property="twitter:card" content="summary">'
        '<meta name="twitter:image:src" content="/tw.png"><meta property="og:" content="empty">'
        + "".join(f'<meta property="og:x{i}" content="v">' for i in range(100))
    )
    result = run(html)
    og = result["opengraph"]
    assert og["image"] == "https://acme.test/one.png"
    assert og["title"] == "T"
    assert len(og) == 40
    assert result["twitter"] == {"card": "summary", "image:src": "https://acme.test/tw.png"}


def test_headers_as_mapping_or_pairs_case_insensitive() -> None:
    body = "café".encode("cp1252")
    for headers in (
        {"CONTENT-TYPE": "text/html; charset=latin-1"},
        [("content-type", "text/html; charset=latin-1")],
    ):
        result = extract("https://acme.test/", headers, body)
        assert (result["charset"], result["charset_source"]) == ("cp1252", "header")
