"""JSON-LD Organization and WebSite extraction."""

from __future__ import annotations

import json
from typing import Any

from domainbatch.extract import extract
from domainbatch.extract.jsonld import is_organization, parse_json


def jsonld(*blocks: str) -> dict[str, Any]:
    html = "".join(f'<script type="application/ld+json">{block}</script>' for block in blocks)
    result = extract("https://acme.test/", [], html.encode())
    assert result["errors"] == []
    value: dict[str, Any] = result["jsonld"]
    return value


def test_subtypes_and_type_forms() -> None:
    for kind in (
        '"LocalBusiness"',
        '"https://schema.org/Dentist"',
        '["Thing","NGO"]',
        '"AutoBodyShop"',
    ):
        org = jsonld(f'{{"@type": {kind}, "name": "Acme"}}')["organization"]
        assert org is not None and org["name"] == "Acme", kind
    assert jsonld('{"@type": "Person", "name": "Jane"}')["organization"] is None
    assert not is_organization({"@type": 42})


def test_website_publisher_reference_is_resolved() -> None:
    graph = {
        "@graph": [
            {"@type": "WebSite", "name": "Acme", "url": "/", "publisher": {"@id": "#org"}},
            {"@id": "#org", "@type": "Organization", "name": "Acme Ltd", "logo": {"@id": "#logo"}},
            {"@id": "#logo", "@type": "ImageObject", "contentUrl": "/logo.png"},
        ]
    }
    result = jsonld(json.dumps(graph))
    assert result["website"] == {"name": "Acme", "url": "https://acme.test/"}
    assert result["organization"]["name"] == "Acme Ltd"
    assert result["organization"]["logo"] == "https://acme.test/logo.png"


def test_nested_publisher_when_no_top_level_organization() -> None:
    block = '{"@type":"WebSite","name":"Blog","publisher":{"@type":"Organization","name":"Pub"}}'
    assert jsonld(block)["organization"]["name"] == "Pub"


def test_values_of_unexpected_shapes_are_tolerated() -> None:
    block = json.dumps(
        {
            "@type": "Organization",
            "name": {"@value": "Acme", "@language": "en"},
            "sameAs": [None, 3, {"url": "https://x.com/acme"}, "https://x.com/acme", "ftp://no"],
            "contactPoint": [None, {"@type": "ContactPoint", "telephone": 12125550123}, "text"],
            "email": ["MAILTO:Info@Acme.test"],
            "logo": [],
            "url": True,
        }
    )
    org = jsonld(block)["organization"]
    assert org == {
        "name": "Acme",
        "url": None,
        "logo": None,
        "same_as": ["https://x.com/acme"],
        "telephone": None,
        "email": "info@acme.test",
        "contact_points": [{"telephone": "12125550123", "email": None, "contact_type": None}],
    }


def test_invalid_json_repairs() -> None:
    assert parse_json('{"a": 1,}') == {"a": 1}
    assert parse_json('<!-- {"a": [1, 2,]} -->') == {"a": [1, 2]}
    assert parse_json('/*<![CDATA[*/{"a": "x\ny"}/*]]>*/') == {"a": "x\ny"}
    assert parse_json("{nope") is None
    assert parse_json("") is None
    assert parse_json("[" * 100_000) is None


def test_deep_and_wide_structures_are_bounded() -> None:
    deep = '{"a":' * 500 + '{"@type":"Organization","name":"Deep"}' + "}" * 500
    assert jsonld(deep)["organization"] is None  # beyond MAX_DEPTH
    wide = json.dumps([{"@type": "Thing"}] * 10_000 + [{"@type": "Organization", "name": "Late"}])
    assert jsonld(wide)["organization"] is None  # beyond MAX_LIST_ITEMS


def test_same_as_keeps_absolute_http_urls_only() -> None:
    block = json.dumps(
        {
            "@type": "Organization",
            "name": "Vergleich.de",
            "sameAs": [
                "Vergleich.de auf Facebook",
                "/impressum",
                "www.facebook.com/vergleich",
                {"url": "relative/page"},
                " https://www.facebook.com/vergleich ",
                "HTTPS://x.com/vergleich",
            ],
        }
    )
    html = f'<script type="application/ld+json">{block}</script>'
    result = extract("https://www.vergleich.de/", [], html.encode())
    assert result["jsonld"]["organization"]["same_as"] == [
        "https://www.facebook.com/vergleich",
        "HTTPS://x.com/vergleich",
    ]
    assert result["socials"]["facebook"] == ["https://www.facebook.com/vergleich"]
    assert result["socials"]["x"] == ["https://x.com/vergleich"]
