"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright logs in with
an API key, submits a batch through the form, watches its progress bar reach 100% over SSE,
filters the domain table and opens a result. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.acceptance.conftest import server_env
from tests.conftest import backend_settings
from tests.support.apiserver import ApiServer, issue_key
from tests.support.browser import chromium, shot


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_dashboard_submit_watch_filter_open(
    browser: Browser, api_backend: str, api_workdir: Path
) -> None:
    env = server_env(api_backend, api_workdir, DOMAINBATCH_EVENTS_INTERVAL_SECONDS="0.3")
    with ApiServer(env, api_workdir, "--concurrency", "4") as server:
        key = issue_key(backend_settings(api_backend, api_workdir), "browser")
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server.base + "/")
        expect(page).to_have_url(re.compile(r"/login$"))
        page.fill("#key", "dbk_wrong")
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_contain_text("not valid")
        page.fill("#key", key)
        shot(page, api_backend, "1-login")
        page.click("button[type=submit]")
        expect(page.locator("#submit-form")).to_be_visible()

        names = [f"site{i:02d}.test" for i in range(16)] + [f"fail-{i}.test" for i in range(4)]
        page.fill("#domains", "\n".join(names))
        page.fill("#options", '{"delay": 0.3}')
        page.click("#submit-form button[type=submit]")
        expect(page).to_have_url(re.compile(r"/batches/[0-9a-f-]{36}$"))
        bar = page.locator("#batch .progress")
        # Live: the bar moves over SSE before the batch ends (20 domains, 4 at a time).
        expect(bar).not_to_have_attribute("aria-valuenow", "0", timeout=15_000)
        shot(page, api_backend, "2-progress")
        expect(bar).to_have_attribute("aria-valuenow", "100", timeout=30_000)
        expect(page.locator('#batch [data-field="status"]')).to_have_text("completed")
        expect(page.locator('[data-count="failed"]')).to_have_text("4")
        expect(page.locator("#errors")).to_contain_text("http_status")
        shot(page, api_backend, "3-completed")

        page.select_option("#domain-status", "failed")
        rows = page.locator("#domains tbody tr")
        expect(rows).to_have_count(4)
        for i in range(4):
            expect(rows.nth(i).locator("td").nth(1)).to_have_text("failed")
        shot(page, api_backend, "4-filtered")

        page.select_option("#domain-status", "succeeded")
        expect(rows).to_have_count(16)
        rows.nth(3).locator("td").nth(2).click()  # a cell, not the link: the row opens
        expect(page).to_have_url(re.compile(r"/domains/\d+$"))
        expect(page.locator("#domain-status-value")).to_have_text("succeeded")
        expect(page.locator("#result")).to_contain_text('"domain": "site03.test"')
        shot(page, api_backend, "5-result")

        page.goto(server.base + "/")
        first = page.locator("#batches tbody tr").first
        expect(first.locator(".progress")).to_have_attribute("aria-valuenow", "100")
        expect(first.locator('[data-field="status"]')).to_have_text("completed")
        shot(page, api_backend, "6-list")
        page.close()


def test_dashboard_form_errors_keep_the_form(
    browser: Browser, api_backend: str, api_workdir: Path
) -> None:
    """Refused options or processors come back on the form, with what was typed; nothing is
    stored."""
    env = server_env(api_backend, api_workdir)
    with ApiServer(env, api_workdir, "--no-worker") as server:
        key = issue_key(backend_settings(api_backend, api_workdir), "form-errors")
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server.base + "/login")
        page.fill("#key", key)
        page.click("button[type=submit]")
        pasted = "kept1.test\nkept2.test"
        for processor, options, code in (
            ("", '{"foo": 1}', "invalid_options"),
            ("noop", '{"x": 1}', "invalid_options"),
            ("sys:exit", "", "unknown_processor"),
        ):
            page.fill("#domains", pasted)
            page.fill("#processor", processor)
            page.fill("#options", options)
            page.click("#submit-form button[type=submit]")
            expect(page.locator("#form-error")).to_contain_text(code)
            expect(page.locator("#domains")).to_have_value(pasted)
            expect(page.locator("#processor")).to_have_value(processor)
            expect(page.locator("#options")).to_have_value(options)
        shot(page, api_backend, "7-form-error")
        listed = server.get("/v1/batches", key=key).json()["items"]
        assert listed == []
        assert server.get("/healthz").status_code == 200
        page.close()
