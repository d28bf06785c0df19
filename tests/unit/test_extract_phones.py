"""Phone numbers: tel: links, text, regions, and the false positives we refuse."""

from __future__ import annotations

import pytest

from domainbatch.extract import extract
from domainbatch.extract.phones import normalize_region, parse_phone


def phones(html: str, region: str = "US") -> list[str]:
    result = extract("https://acme.test/", [], html.encode(), default_region=region)
    assert result["errors"] == []
    return list(result["phones"])


def test_tel_links_with_separators_and_extension_params() -> None:
    html = (
        '<a href="tel:+1-212-555-0123">a</a><a href="tel:(212)%20555-0124;ext=12">b</a>'
        '<a href="tel:12">short</a><a href="TEL:+44 20 7946 0958">c</a>'
    )
    assert phones(html) == ["+12125550123", "+12125550124", "+442079460958"]


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("Call (212) 555-0123 today", "US", ["+12125550123"]),
        ("Call 212.555.0123", "US", ["+12125550123"]),
        ("Tel 020 7946 0958", "GB", ["+442079460958"]),
        ("Tel 020 7946 0958", "US", []),
        ("Tel +44 20 7946 0958", "US", ["+442079460958"]),
        ("Tel 030 901820", "DE", ["+4930901820"]),
        ("電話 03-1234-5678", "JP", ["+81312345678"]),
        ("Stand: 30.06.2024", "DE", []),
        ("Date 2024-01-15 and 01/15/2024", "US", []),
        ("Total $1,249.99 incl. tax $103.12", "US", []),
        ("P.IVA 01234567890", "IT", []),
        ("VAT no. GB 123 4567 89", "GB", []),
        ("Order #2125550123", "US", []),
        ("Routing number 272480678", "US", []),
        ("Mobile 0171 2345678", "DE", ["+491712345678"]),
    ],
)
def test_text_numbers(text: str, region: str, expected: list[str]) -> None:
    assert phones(f"<p>{text}</p>", region) == expected


def test_duplicates_across_sources_are_merged_in_first_seen_order() -> None:
    html = '<a href="tel:+12125550123">x</a><p>(212) 555-0123 or +1 212 555 0199</p>'
    assert phones(html) == ["+12125550123", "+12125550199"]


def test_numbers_in_scripts_are_ignored() -> None:
    assert phones("<script>var t='(212) 555-0123'</script><p>none</p>") == []


@pytest.mark.parametrize(
    ("region", "expected"), [("us", "US"), ("GB", "GB"), ("", "ZZ"), ("XX", "ZZ")]
)
def test_normalize_region(region: str, expected: str) -> None:
    assert normalize_region(region) == expected


def test_unknown_region_still_reads_international_numbers() -> None:
    assert phones("<p>+33 1 42 68 53 00 and 01 42 68 53 00</p>", "XX") == ["+33142685300"]


def test_parse_phone_garbage() -> None:
    assert parse_phone("", "US") is None
    assert parse_phone("not a number", "US") is None
    assert parse_phone("+" + "9" * 200, "US") is None


def test_cap_on_number_of_phones() -> None:
    html = "".join(f"<p>(212) 555-{i:04d}</p>" for i in range(100, 200))
    assert len(phones(html)) == 25
