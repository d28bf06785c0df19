"""The page's own region for national phone numbers: ccTLD, language, hreflang, JSON-LD
address; the setting when none tells, and an explicit region always (issue 13)."""

from __future__ import annotations

import pytest

from domainbatch.extract import extract
from domainbatch.processors.homepage import parse_options
from domainbatch.settings import Settings


def phones(url: str, html: str, region: str = "US", *, infer: bool = True) -> list[str]:
    result = extract(url, [], html.encode(), default_region=region, infer_region=infer)
    assert result["errors"] == []
    return list(result["phones"])


BRAZIL = "<html lang='pt'><p>Ligue (11) 3456-7890</p></html>"


def test_brazilian_page_on_com_br() -> None:
    assert phones("https://www.padaria.com.br/", BRAZIL) == ["+551134567890"]


def test_german_page_on_de() -> None:
    html = "<html lang='de'><p>Telefon: 030 12345678</p></html>"
    assert phones("https://www.tischlerei.de/kontakt", html) == ["+493012345678"]


def test_indian_page_by_language_region() -> None:
    html = "<html lang='en-IN'><p>Call us: 098765 43210 or 022 2345 6789</p></html>"
    assert phones("https://www.spices.com/", html) == ["+919876543210", "+912223456789"]


def test_norwegian_page_by_hreflang_when_all_agree() -> None:
    head = (
        "<head><link rel='alternate' hreflang='nb-NO' href='/'>"
        "<link rel='alternate' hreflang='x-default' href='/'>"
        "<link rel='alternate' hreflang='nn-NO' href='/nn/'></head>"
    )
    html = f"<html>{head}<p>Ring 22 12 34 56</p></html>"
    assert phones("https://fjord.com/", html) == ["+4722123456"]
    disagree = html.replace("nn-NO", "en-GB")
    assert phones("https://fjord.com/", disagree) == []  # read in US: no valid number


def test_region_from_json_ld_address() -> None:
    html = (
        '<script type="application/ld+json">{"@type": "LocalBusiness", "name": "Fjordkafé",'
        ' "address": {"@type": "PostalAddress", "addressCountry": "NO"}}</script>'
        "<p>Ring 22 12 34 56</p>"
    )
    assert phones("https://fjordkafe.com/", html) == ["+4722123456"]


def test_us_page_stays_us() -> None:
    html = "<html lang='en-US'><p>Call (212) 555-0123</p></html>"
    assert phones("https://www.deli.com/", html) == ["+12125550123"]
    assert phones("https://www.deli.com/", "<p>Call (212) 555-0123</p>") == ["+12125550123"]


@pytest.mark.parametrize("url", ["https://startup.io/", "https://shop.co/", "https://x.tv/"])
def test_generic_cctlds_tell_nothing(url: str) -> None:
    assert phones(url, BRAZIL, "BR") == ["+551134567890"]
    assert phones(url, "<p>Call (212) 555-0123</p>") == ["+12125550123"]


def test_uk_tld_is_gb() -> None:
    assert phones("https://shop.co.uk/", "<p>Tel 020 7946 0958</p>") == ["+442079460958"]


def test_explicit_region_wins() -> None:
    assert phones("https://www.padaria.com.br/", BRAZIL, "US", infer=False) == []
    us_on_br = "<html lang='pt-BR'><p>Call (212) 555-0123</p></html>"
    assert phones("https://www.padaria.com.br/", us_on_br, infer=False) == ["+12125550123"]


def test_batch_option_is_explicit_and_the_setting_is_the_fallback() -> None:
    settings = Settings(default_region="de")
    given = parse_options({"default_region": "br"}, settings)
    assert (given.default_region, given.infer_region) == ("BR", False)
    inferred = parse_options({}, settings)
    assert (inferred.default_region, inferred.infer_region) == ("DE", True)
