"""Phone numbers: tel: links, text, regions, and the false positives we refuse."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainbatch.extract import extract
from domainbatch.extract.phones import (
    candidate_windows,
    min_digits,
    normalize_region,
    parse_phone,
)


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


def test_dotted_identifiers_are_not_phones() -> None:
    text = "OID 1.3.101.110, gateway 192.168.1.1, build 2.4.57.1; call 212.555.0123"
    assert phones(f"<p>{text}</p>") == ["+12125550123"]


def test_a_footer_number_after_many_short_numbers_is_found() -> None:
    # Hundreds of short numbers ("Post 12", prices, years) must not use up the matcher's
    # budget before the footer.
    posts = "".join(
        f"<article><h2>Post {i}</h2><p>From ${i}.99, {1990 + i % 30}, item {i * 7}</p></article>"
        for i in range(400)
    )
    html = f"{posts}<footer>Call (503) 555-0142</footer>"
    assert phones(html) == ["+15035550142"]


def test_many_labelled_identifiers_stay_cheap_and_do_not_hide_tel_links() -> None:
    skus = "".join(f"<li>SKU {2125550100 + i}</li>" for i in range(600))
    html = f'<a href="tel:+15035550199">call</a><ul>{skus}</ul>'
    assert phones(html) == ["+15035550199"]


def _whole_text(text: str, region: str) -> list[tuple[int, str, str]]:
    matcher = phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.VALID, max_tries=10**9
    )
    return [(m.start, m.raw_string, phonenumbers.format_number(m.number, 0)) for m in matcher]


def _windowed(text: str, region: str) -> list[tuple[int, str, str]]:
    found = []
    for start, stop in candidate_windows(text, region):
        for m in _whole_text(text[start:stop], region):
            found.append((start + m[0], m[1], m[2]))
    return found


_PIECES = [
    *"0123456789",
    *" -.()+/\nx#$,%:\t[]*=~",
    "ext", "ext.", "int", "anexo ", "доб", ";ext=", "Tel: ", "Call ", "Post ", "SKU ",
    "555", "0123", "212", "+1", "+44", "20", "7946", "0958", "030", "901820", "(0)",
    "2024-01-15 ", " 08:00", "\u00a0", "\u00ad", "\u200b", "\u3000", "\u2012", "\uff0d",
    "\uff10", "\u0661", "\u00e9", "\u017f", "\u0130", "e", "s", "o", "n", "tax ", "one ",
    "\u2013", "\u20ac", "?", "\u2212",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=60).map("".join),
    st.sampled_from(["US", "DE", "GB", "ZZ", "FR", "JP", "AT", "NU"]),
)
def test_windows_find_what_the_whole_text_finds(text: str, region: str) -> None:
    assert _windowed(text, region) == _whole_text(text, region)


def test_windows_skip_text_without_long_digit_chains() -> None:
    text = "Post 12 Lorem ipsum 2024. Price $19.99\nCall us at (212) 555-0123 ext. 45 today!"
    windows = candidate_windows(text, "US")
    # From the character before the run of phone characters ("u") to the one after ("y").
    assert [text[start:stop] for start, stop in windows] == ["us at (212) 555-0123 ext. 45 today"]


def test_min_digits_bounds_every_example_number() -> None:
    international = min_digits("ZZ")  # no national numbers: only +CC numbers count
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number(region)
        if example is None:
            continue
        national = phonenumbers.national_significant_number(example)
        assert len(national) >= min_digits(region), region
        assert len(str(example.country_code)) + len(national) >= international, region
        assert min_digits(region) <= international, region
    assert min_digits("US") <= 10


def test_latin1_text_has_no_other_decimal_digits() -> None:
    # candidate_windows reads a Latin-1 view of the text with [0-9] instead of \d.
    assert [chr(c) for c in range(256) if chr(c).isdecimal()] == list("0123456789")


@pytest.mark.parametrize(
    "text",
    [
        "Tel 212\u2010555\u20100123 \u2013 ok",  # wide hyphens: "?" in the view
        "Tel \uff12\uff11\uff12 555 0123",  # fullwidth digits: read with \\d
        "Café \u20ac 12 \u2014 call 212 555 0123?",
        "Tel \u0662\u0661\u0662\u0665\u0665\u0665\u0660\u0661\u0662\u0663",
    ],
)
def test_windows_with_characters_above_latin1(text: str) -> None:
    assert _windowed(text, "US") == _whole_text(text, "US")
    assert _whole_text(text, "US")


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("Posted 27.06.2018 09:54 by admin", "US"),
        ("Posted 26 / 04 / 2020 03:44 by admin", "US"),
        ("Posted 26 / 04 / 2020 03:44 by admin", "DE"),
        ("Posted 26-04-2020 03:44", "IN"),
        ("Updated 2020-04-26", "US"),
        ("Read / write / seek: 701 / 8818 / 471 MB/sec", "US"),
        ("Read / write / seek: 701/8818/471 MB/sec", "IN"),
        ("1,234,567 downloads", "US"),
        ("1.234.567.890 visits and 1 234 567 890 views", "BR"),
        ("firmware 7.01.8818.471", "US"),
        ("ver 22.04.5678", "NO"),
        ("v1.0.0-2125550123", "DE"),
        # Seen on real pages (tests/fixtures/real): a release name, a domain name, licences.
        ("CryptoCurrency-Catalog-20180308.1.0 released", "US"),
        ("Welcome to 0368119500.jp", "JP"),
        ("苏ICP备2022026944号-1", "CN"),
        ("京公网安备 11010502030143号", "CN"),
    ],
)
def test_dates_times_figures_and_versions_are_not_phones(text: str, region: str) -> None:
    assert phones(f"<p>{text}</p>", region) == []


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("Tel. 06.12.34.56.78", "FR", ["+33612345678"]),
        ("Llámenos: 912 345 678", "ES", ["+34912345678"]),
        ("Numero verde 800 123 456", "IT", ["+39800123456"]),
        ("Tel. 030 / 12345678", "DE", ["+493012345678"]),
        ("Open 27.06.2018; call 030 12345678", "DE", ["+493012345678"]),
        ("Tel 0368119500. Fax 0368119501", "JP", ["+81368119500", "+81368119501"]),
        ("客服 0514-87367111", "CN", ["+8651487367111"]),
    ],
)
def test_phones_near_the_lookalike_shapes_are_kept(
    text: str, region: str, expected: list[str]
) -> None:
    assert phones(f"<p>{text}</p>", region) == expected


@pytest.mark.parametrize(
    ("href", "region", "expected"),
    [
        ("tel://+4930123456", "US", "+4930123456"),
        ("tel:+49%2030%2012345678", "US", "+493012345678"),
        ("tel:0049 30 12345678", "US", "+493012345678"),
        ("tel:4930123456", "US", "+4930123456"),
        ("tel:+1 800 555 1234p123", "US", "+18005551234"),
        ("tel:+49 30 12345678 (Zentrale)", "US", "+493012345678"),
        ("tel:(11) 3456-7890", "BR", "+551134567890"),
    ],
)
def test_valid_tel_links_are_kept(href: str, region: str, expected: str) -> None:
    assert phones(f'<a href="{href}">call</a>', region) == [expected]


def test_tel_links_that_are_no_number_stay_out() -> None:
    html = '<a href="tel:12">a</a><a href="tel:0000">b</a><a href="tel:+999 123">c</a>'
    assert phones(html) == []
