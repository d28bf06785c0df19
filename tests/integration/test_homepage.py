"""The ``homepage`` processor end to end against the local test web: the result record."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from domainbatch.errors import ConfigurationError, DomainProcessingError, InvalidOptionsError
from domainbatch.processors.homepage import build, parse_options
from domainbatch.processors.registry import load_processor
from domainbatch.service.columns import HOMEPAGE_KEYS
from domainbatch.settings import Settings
from tests.testweb import TestWeb
from tests.testweb.fixtures import loopback_only, testweb

pytestmark = pytest.mark.usefixtures("loopback_only")
__all__ = ["loopback_only", "testweb"]  # fixtures, imported for pytest

RECORD_KEYS = {
    "url",
    "final_url",
    "status_code",
    "redirects",
    "https_error",
    "timings",
    "headers",
    "content_type",
    "body_bytes",
    "tls",
    "addresses",
    "remote_address",
    "mx",
    "accepts_mail",
    "extracted",
}


async def process(
    web: TestWeb, domain: str, options: Mapping[str, Any] | None = None, **settings: Any
) -> dict[str, Any]:
    async with build(web.settings(**settings), ca_file=web.ca_file) as processor:
        return await processor(domain, options or {})


async def process_error(
    web: TestWeb, domain: str, options: Mapping[str, Any] | None = None, **settings: Any
) -> DomainProcessingError:
    with pytest.raises(DomainProcessingError) as info:
        await process(web, domain, options, **settings)
    return info.value


def tech(record: dict[str, Any]) -> dict[str, str | None]:
    return {t["name"]: t["version"] for t in record["extracted"]["technologies"]}


async def test_record_shape_and_json(testweb: TestWeb) -> None:
    record = await process(testweb, "plain.test")
    assert set(record) == RECORD_KEYS
    # The export's list of homepage keys (a result with only these gets no `result` column)
    # is a copy of this shape: it must follow the processor.
    assert RECORD_KEYS == HOMEPAGE_KEYS
    # Round-trips through JSON unchanged: what the store writes is what the processor returned.
    assert json.loads(json.dumps(record)) == record
    assert record["status_code"] == 200
    assert record["final_url"] == f"https://plain.test:{testweb.https_port}/"
    assert record["addresses"] == ["127.0.0.1"]
    assert record["remote_address"] == "127.0.0.1"
    assert record["mx"] == [] and record["accepts_mail"] is False
    assert record["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert record["headers"]["content-type"] == "text/html; charset=utf-8"
    assert record["body_bytes"] > 0
    assert set(record["timings"]) == {
        "dns_ms",
        "connect_ms",
        "first_byte_ms",
        "fetch_ms",
        "extract_ms",
        "total_ms",
    }
    assert record["timings"]["total_ms"] >= record["timings"]["fetch_ms"]
    extracted = record["extracted"]
    assert extracted["title"] == "Plain Example Co"
    assert extracted["description"] == "A plain site with contact details."
    assert extracted["language"] == "en"
    assert extracted["emails"] == ["hello@plainexample.com"]
    assert "+14155550123" in extracted["phones"]
    assert extracted["socials"]["github"] == ["https://github.com/plain-example"]


async def test_wordpress_site(testweb: TestWeb) -> None:
    record = await process(testweb, "wordpress.test")
    found = tech(record)
    assert found["WordPress"] == "6.4.2"
    assert found["Elementor"] == "3.18.3"
    assert found["WooCommerce"] == "8.4.0"
    assert "PHP" in found and "nginx" in found
    assert record["headers"]["x-powered-by"] == "PHP/8.2.12"
    assert record["headers"]["server"] == "nginx/1.24.0"
    organization = record["extracted"]["jsonld"]["organization"]
    assert organization["name"] == "Press Bakery"
    assert record["extracted"]["emails"] == ["orders@pressbakery.com"]
    assert "https://www.facebook.com/pressbakery" in organization["same_as"]


async def test_shopify_site_behind_an_apex_redirect(testweb: TestWeb) -> None:
    record = await process(testweb, "shop.test")
    assert record["final_url"] == f"https://www.shop.test:{testweb.https_port}/"
    assert [r["status"] for r in record["redirects"]] == [301]
    found = tech(record)
    assert "Shopify" in found
    assert "Cloudflare" in found
    assert record["headers"]["cf-ray"] == "8a1b2c3d4e5f6789-AMS"
    assert record["extracted"]["socials"]["tiktok"]


@pytest.mark.parametrize(
    ("domain", "title"),
    [
        ("latin1.test", "Café Müller"),
        ("wrongcharset.test", None),  # decoded somehow; must not fail
        ("nocharset.test", "Sniffed"),
        ("xhtml.test", "XHTML Site"),
    ],
)
async def test_charsets_and_types(testweb: TestWeb, domain: str, title: str | None) -> None:
    record = await process(testweb, domain)
    if title is not None:
        assert record["extracted"]["title"] == title
    else:
        assert record["extracted"]["title"]
    json.dumps(record)


async def test_mx_records_give_accepts_mail(testweb: TestWeb) -> None:
    # The zone points these names at 127.0.0.1 by DNS (not an override): guard off for them.
    record = await process(testweb, "mail.dnsweb.example", allow_private_addresses=True)
    assert record["mx"] == ["mx1.dnsweb.example", "mx2.dnsweb.example"]
    assert record["accepts_mail"] is True
    assert record["addresses"] == ["127.0.0.1"]
    record = await process(testweb, "nomail.dnsweb.example", allow_private_addresses=True)
    assert record["mx"] == [] and record["accepts_mail"] is False


@pytest.mark.parametrize(
    ("domain", "code", "settings"),
    [
        ("nx.dnsweb.example", "dns_nxdomain", {}),
        ("servfail.dnsweb.example", "dns_error", {}),
        ("private.dnsweb.example", "blocked_address", {"allow_private_addresses": False}),
        ("loopback.dnsweb.example", "blocked_address", {"allow_private_addresses": False}),
        ("to-loopback.test", "blocked_address", {"allow_private_addresses": False}),
        ("notfound.test", "http_status", {}),
        ("ratelimit.test", "http_status", {}),
        ("binary.test", "not_html", {}),
        ("bomb.test", "too_large", {}),
        ("loop.test", "too_many_redirects", {}),
        ("reset.test", "connect_error", {}),
        ("badcert-only.test", "tls_error", {}),
    ],
)
async def test_failures_carry_spec_codes(
    testweb: TestWeb, domain: str, code: str, settings: dict[str, Any]
) -> None:
    error = await process_error(testweb, domain, **settings)
    assert error.code == code
    assert error.message


async def test_blocked_dns_answer_is_refused_before_any_connection(
    testweb: TestWeb, loopback_only: list[str]
) -> None:
    error = await process_error(testweb, "loopback.dnsweb.example", allow_private_addresses=False)
    assert error.code == "blocked_address"
    assert loopback_only == []  # refused at the lookup, no socket was even created


async def test_guard_on_still_fetches_override_hosts(testweb: TestWeb) -> None:
    record = await process(testweb, "wordpress.test", allow_private_addresses=False)
    assert record["status_code"] == 200


# -- options ---------------------------------------------------------------------------------


async def test_default_region_option_changes_phone_parsing(testweb: TestWeb) -> None:
    us = await process(testweb, "wordpress.test")
    assert "+15035550199" in us["extracted"]["phones"]
    gb = await process(testweb, "wordpress.test", {"default_region": "gb"})
    assert "+15035550199" not in gb["extracted"]["phones"]


async def test_each_page_is_read_in_its_own_region(testweb: TestWeb) -> None:
    """A German page on a generic name, through the processor: with no batch region its
    numbers are read in its language's region (DE); dates and figures are not numbers; a
    batch region still forces its own."""
    inferred = await process(testweb, "baeckerei.test")
    assert sorted(inferred["extracted"]["phones"]) == ["+493012345678", "+49407654321"]
    forced = await process(testweb, "baeckerei.test", {"default_region": "us"})
    assert "+493012345678" not in forced["extracted"]["phones"]
    assert "+49407654321" in forced["extracted"]["phones"]  # the tel: link says +49 itself


async def test_user_agent_option(testweb: TestWeb) -> None:
    await process(testweb, "plain.test", {"user_agent": "BatchBot/2.0"})
    assert testweb.last_headers["plain.test"]["User-Agent"] == "BatchBot/2.0"


async def test_options_tighten_limits(testweb: TestWeb) -> None:
    started = time.perf_counter()
    error = await process_error(testweb, "slow.test", {"total_timeout": 0.3})
    assert error.code == "timeout"
    assert time.perf_counter() - started < 1.5
    error = await process_error(testweb, "plain.test", {"max_body_bytes": 100})
    assert error.code == "too_large"
    error = await process_error(testweb, "shop.test", {"max_redirects": 0})
    assert error.code == "too_many_redirects"


async def test_options_never_loosen_settings(testweb: TestWeb) -> None:
    started = time.perf_counter()
    error = await process_error(testweb, "slow.test", {"total_timeout": 60}, total_timeout=0.4)
    assert error.code == "timeout"
    assert time.perf_counter() - started < 1.5
    parsed = parse_options(
        {"max_body_bytes": 10**12, "max_redirects": 99},
        Settings(max_body_bytes=1000, max_redirects=2),
    )
    assert parsed.limits.max_body_bytes == 1000
    assert parsed.limits.max_redirects == 2


@pytest.mark.parametrize(
    "options",
    [
        {"nonsense": 1},
        {"default_region": "USA"},
        {"default_region": 1},
        {"user_agent": ""},
        {"user_agent": "a\r\nX-Injected: 1"},
        {"total_timeout": 0},
        {"total_timeout": "5"},
        {"total_timeout": float("nan")},
        {"max_body_bytes": True},
        {"max_redirects": -1},
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptionsError):
        parse_options(options, Settings())


def test_homepage_is_registered() -> None:
    assert load_processor("homepage") is build


FINGERPRINTS = Path(__file__).resolve().parents[1] / "fixtures" / "wappalyzer"


@pytest.mark.parametrize("processes", [1, 0])  # an extraction child, or the thread
async def test_a_user_fingerprint_database_extends_ours(testweb: TestWeb, processes: int) -> None:
    assert "Plainmark" not in tech(await process(testweb, "plain.test"))
    found = tech(
        await process(testweb, "plain.test", fingerprints=FINGERPRINTS, extract_processes=processes)
    )
    assert "Plainmark" in found  # only the user's database knows it (a DOM text rule)
    wordpress = tech(await process(testweb, "wordpress.test", fingerprints=FINGERPRINTS))
    assert wordpress["WordPress"] == "6.4.2"  # ours still there (extend)


async def test_a_bad_fingerprint_database_stops_the_processor(
    testweb: TestWeb, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        await process(testweb, "plain.test", fingerprints=tmp_path / "missing")
