"""What the dashboard shows, in Chromium: status badges and bars that say how a batch ended,
errors by code and times updated live over SSE, refused forms that keep what was typed, a
domain's result as a card (escaped: results come from hostile sites), and a phone layout."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.acceptance.conftest import server_env
from tests.conftest import backend_settings
from tests.support.apiserver import ApiServer, issue_key
from tests.support.browser import PHONE, chromium, log_in, shot
from tests.support.cards import JS_URL, SCRIPT

CARDS = "tests.support.cards:homepage_like"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def server(api_backend: str, api_workdir: Path) -> Iterator[ApiServer]:
    env = server_env(
        api_backend,
        api_workdir,
        DOMAINBATCH_DEFAULT_PROCESSOR=CARDS,
        DOMAINBATCH_EVENTS_INTERVAL_SECONDS="0.2",
        DOMAINBATCH_MAX_REQUEST_BYTES="20000",
    )
    with ApiServer(env, api_workdir, "--concurrency", "4") as started:
        started.key = issue_key(backend_settings(api_backend, api_workdir), "views")
        yield started


@pytest.fixture
def page(browser: Browser, server: ApiServer) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1200, "height": 900})
    assert server.key is not None
    log_in(opened, server.base, server.key)
    yield opened
    opened.close()


def ended(server: ApiServer, domains: list[str], **body: object) -> str:
    batch_id: str = server.create(domains, **body)["id"]
    server.wait(batch_id)
    return batch_id


def test_errors_and_times_update_live(page: Page, server: ApiServer, api_backend: str) -> None:
    """While a batch runs, its page shows errors by code, start time, duration and ETA from the
    SSE stream, without a reload; the ended batch's badge and bar say how it went."""
    page.fill("#domains", "fail-1.test\nfail-2.test\ntimeout-1.test\nslow-1.test")
    page.fill("#options", '{"delay": 1, "slow": 7}')
    page.click("#submit-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/batches/[0-9a-f-]{36}$"))
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    # SSE times may be epoch seconds or RFC 3339 strings: both read as the server writes them.
    shown = page.evaluate(
        "[when(1796050702.123), when('2026-11-30T14:58:22.123Z'), when(null), seconds(3725.44)]"
    )
    assert shown == ["2026-11-30 14:58:22 UTC"] * 2 + ["-", "1h02m05.4s"]
    errors = page.locator("#errors")
    # Failures land after about 1 s and the batch ends after 8 s: only SSE shows them in time.
    expect(errors).to_contain_text("http_status", timeout=5_000)
    expect(page.locator('#errors [data-error="http_status"]')).to_have_text("2")
    expect(page.locator('#errors [data-error="timeout"]')).to_have_text("1")
    started = page.locator('#batch [data-field="started_at"]')
    expect(started).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(page.locator('#batch [data-field="duration"]')).to_have_text(re.compile(r"^0m\d"))
    expect(page.locator('#batch [data-field="status"]')).to_have_text("processing")
    assert page.evaluate("window.sameDocument") is True
    shot(page, api_backend, "live-errors")

    badge = page.locator('#batch [data-field="status"]')
    expect(badge).to_have_text("completed", timeout=20_000)
    page.wait_for_function("!window.sameDocument")  # the ended batch's page is reloaded once
    expect(badge).to_have_attribute("data-status", "completed")
    expect(page.locator('#batch [data-field="finished_at"]')).to_have_text(re.compile("UTC$"))
    bar = page.locator("#batch .progress")
    expect(bar).to_have_attribute("data-status", "completed")
    widths = {
        name: bar.locator(f'[data-seg="{name}"]').evaluate("e => e.style.width")
        for name in ("succeeded", "failed", "cancelled")
    }
    assert widths == {"succeeded": "25%", "failed": "75%", "cancelled": "0%"}
    # The icon is CSS with empty alternative text: the badge reads as its word alone.
    icon = badge.evaluate("e => getComputedStyle(e, '::before').content")
    assert icon == '"✓" / ""'
    expect(page.locator("#domains tbody .status").first).to_have_attribute(
        "data-status", re.compile("failed|succeeded")
    )


def test_index_and_batch_pages_show_how_batches_ended(
    page: Page, server: ApiServer, api_backend: str
) -> None:
    failed = ended(server, ["fail-a.test", "fail-b.test"])
    slow = [f"slow-{i}.test" for i in range(6)]  # more than the worker's 4 slots: some wait
    cancelled = server.create(slow, options={"slow": 2})["id"]
    assert server.post(f"/v1/batches/{cancelled}/cancel").status_code == 200
    server.wait(cancelled)
    page.goto(server.base + "/")
    for batch_id, status, segment in (
        (failed, "failed", "failed"),
        (cancelled, "cancelled", "cancelled"),
    ):
        row = page.locator(f'tr[data-batch="{batch_id}"]')
        expect(row.locator('[data-field="status"]')).to_have_attribute("data-status", status)
        expect(row.locator(".progress")).to_have_attribute("data-status", status)
        width = row.locator(f'[data-seg="{segment}"]').evaluate("e => e.style.width")
        assert width != "0%"
    shot(page, api_backend, "index-statuses")
    page.goto(f"{server.base}/batches/{failed}")
    expect(page.locator('#batch [data-field="status"]')).to_have_text("failed")
    colour = page.locator('#batch [data-field="status"]').evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(185, 28, 28)"
    expect(page.locator("#domains tbody .status").first).to_have_text("failed")


def test_refused_form_keeps_the_list_with_the_error_at_its_field(
    page: Page, server: ApiServer, api_backend: str
) -> None:
    before = server.get("/v1/batches").json()["items"]
    pasted = "not a domain\nalso bad!!\nhttp://"
    page.fill("#domains", pasted)
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#domains-error")).to_contain_text("no valid domain")
    expect(page.locator("#form-error")).to_contain_text("invalid_input")
    expect(page.locator("#domains")).to_have_value(pasted)
    expect(page.locator("#domains")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#domains")).to_be_focused()
    shot(page, api_backend, "form-error-invalid")

    # Larger than the server reads: refused unread, and the list comes back from the tab.
    big = "\n".join(f"site{i:05d}.test" for i in range(3000))
    page.evaluate("text => { document.getElementById('domains').value = text }", big)
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#domains-error")).to_contain_text("larger than 20,000 bytes")
    expect(page.locator("#domains")).to_have_value(big)

    page.fill("#domains", "ok.test")
    page.fill("#processor", "no-such-processor")
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#processor-error")).to_contain_text("unknown processor")
    expect(page.locator("#processor")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#domains")).to_have_value("ok.test")

    page.fill("#processor", "")
    page.fill("#options", "[1]")
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#options-error")).to_contain_text("JSON object")
    expect(page.locator("#domains-error")).to_have_count(0)
    page.fill("#options", '{"nope": 1}')
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#options-error")).to_contain_text("nope")
    assert server.get("/v1/batches").json()["items"] == before

    page.fill("#options", "")
    empty = {"name": "empty.txt", "mimeType": "text/plain", "buffer": b""}
    page.set_input_files("#file", files=[empty])
    page.click("#submit-form button[type=submit]")
    expect(page.locator("#file-error")).to_contain_text("no entries")
    expect(page.locator("#file")).to_have_attribute("aria-invalid", "true")
    assert server.get("/v1/batches").json()["items"] == before

    page.fill("#domains", "ok.test")
    page.click("#submit-form button[type=submit]")  # accepted: the kept copy is dropped
    expect(page).to_have_url(re.compile(r"/batches/[0-9a-f-]{36}$"))
    page.goto(server.base + "/")
    expect(page.locator("#domains")).to_have_value("")


def open_domain(page: Page, base: str, batch_id: str, name: str) -> None:
    page.goto(f"{base}/batches/{batch_id}")
    page.locator("#domains a", has_text=name).click()
    expect(page).to_have_url(re.compile(r"/domains/\d+$"))


def test_domain_result_card(page: Page, server: ApiServer, api_backend: str) -> None:
    batch_id = ended(server, ["shop.test"])
    open_domain(page, server.base, batch_id, "shop.test")
    card = page.locator("#card")
    expect(card.locator("#card-title")).to_have_text(
        "Maple Ledger — Bookkeeping for Canadian small businesses"
    )
    expect(card.locator("#card-final-url a")).to_have_attribute("href", "https://www.shop.test/en/")
    expect(card.locator("#card-emails a").first).to_have_attribute("href", "mailto:hello@shop.test")
    expect(card.locator("#card-phones a")).to_have_attribute("href", "tel:+16045550186")
    expect(card.locator("#card-socials a").first).to_have_attribute(
        "href", "https://www.facebook.com/mapleledger"
    )
    chips = card.locator("#card-technologies .chip")
    expect(chips).to_have_count(4)
    expect(chips.first).to_contain_text("Apache 2.4.41 Web server")
    expect(card.locator("#card-dns")).to_contain_text("10 mail.shop.test.")
    raw = page.locator("#raw")
    expect(raw).not_to_have_attribute("open", "")
    expect(page.locator("#result")).not_to_be_visible()
    page.click("#raw summary")
    expect(page.locator("#result")).to_contain_text('"status_code": 200')
    shot(page, api_backend, "domain-card")


def test_hostile_result_stays_text(page: Page, server: ApiServer, api_backend: str) -> None:
    batch_id = ended(server, ["hostile-site.test"])
    open_domain(page, server.base, batch_id, "hostile-site.test")
    card = page.locator("#card")
    expect(card.locator("#card-title")).to_have_text(SCRIPT)
    expect(card.locator("#card-final-url")).to_have_text(JS_URL)
    assert card.locator("script, b").count() == 0
    # javascript:, data: and the like are never links, nor are addresses that are not plain.
    assert page.locator("a[href^='javascript:' i], a[href^='data:' i]").count() == 0
    assert card.locator("#card-final-url a, #card-socials a, #card-emails a").count() == 0
    assert card.locator("#card-phones a").count() == 0
    expect(card.locator("#card-socials")).to_contain_text("data:text/html,<script>")
    page.click("#raw summary")
    expect(page.locator("#result")).to_contain_text('"title": "<script>')
    assert page.title() != "pwned"
    shot(page, api_backend, "domain-hostile")


def test_other_processors_render_as_fields(page: Page, server: ApiServer) -> None:
    batch = server.create(["plain.test"], processor="noop")["id"]
    server.wait(batch)
    open_domain(page, server.base, batch, "plain.test")
    expect(page.locator("#card-other")).to_contain_text("domain")
    expect(page.locator("#card-other")).to_contain_text("plain.test")
    expect(page.locator("#card-title")).to_have_count(0)
    expect(page.locator("#result")).to_contain_text('"domain": "plain.test"')


def test_phone_layout_does_not_overflow(
    browser: Browser, server: ApiServer, api_backend: str
) -> None:
    batch_id = ended(
        server, ["a-rather-long-subdomain-name.example-company.test", "fail-x.test", "shop2.test"]
    )
    phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    assert server.key is not None
    log_in(phone, server.base, server.key)
    domain_id = server.get(f"/v1/batches/{batch_id}/domains").json()["items"][0]["id"]
    for name, path in (
        ("index", "/"),
        ("batch", f"/batches/{batch_id}"),
        ("domain", f"/batches/{batch_id}/domains/{domain_id}"),
    ):
        phone.goto(server.base + path)
        widths = phone.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert widths[1] == PHONE["width"], widths
        assert widths[0] <= widths[1], (name, widths)
        shot(phone, api_backend, f"phone-{name}")
    phone.goto(server.base + "/")
    for field in ("#domains", "#file", "#processor", "#options", "#submit-form button"):
        box = phone.locator(field).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    phone.close()
