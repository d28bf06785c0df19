"""Debian's headless Chromium driven by Playwright, for the dashboard's tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"
PHONE = {"width": 375, "height": 740}  # an iPhone SE/8-sized viewport, CSS pixels


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is required at {CHROMIUM} (Debian package chromium; scripts/test.sh "
            "installs it)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def shot(page: Page, backend: str, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{backend}-{name}.png"), full_page=True)


def log_in(page: Page, base: str, key: str) -> None:
    page.goto(base + "/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
