"""The API's documented surface over HTTP, against a real server: RFC 3339 times in every JSON
shape (API responses, SSE, the JSONL export, and the CLI's ``--json`` and ``results`` run as
subprocesses on the same database, all the same text), ``/docs`` and ``/redoc`` built from
same-origin assets only (and Swagger UI rendering the operations in Chromium with every other
origin refused), and a stable camelCase ``operationId`` and a summary on every operation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route, sync_playwright

from tests.acceptance.conftest import backend_env
from tests.support.apiserver import ApiServer
from tests.support.processes import run_domainbatch

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CHROMIUM = "/usr/bin/chromium"
CAMEL = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]*)+|[a-z]+")


def times(shown: dict[str, Any]) -> dict[str, Any]:
    """The time fields of a JSON object, every one checked to be RFC 3339 (or null)."""
    found = {k: v for k, v in shown.items() if k.endswith("_at")}
    assert found, shown
    for name, value in found.items():
        assert value is None or RFC3339.fullmatch(value), (name, value)
    return found


def test_every_json_shape_has_the_same_rfc3339_times(
    api: ApiServer, api_backend: str, api_workdir: Path, tenant_key: Callable[[str], str]
) -> None:
    batch_id = api.create(["time-one.test", "time-two.test", "fail-time.test"])["id"]
    final = api.wait(batch_id)
    shown = times(final)
    assert shown.pop("deadline_at") is None  # no deadline: the one time an ended batch lacks
    assert None not in shown.values() and shown["created_at"] <= shown["started_at"]
    shown["deadline_at"] = None
    # Durations stay numbers (an ended batch has no ETA).
    assert isinstance(final["duration_seconds"], float) and final["eta_seconds"] is None

    listed = next(b for b in api.get("/v1/batches").json()["items"] if b["id"] == batch_id)
    assert times(listed) == shown
    *_, (event, ended) = api.events(batch_id)
    assert event == "end" and times(ended) == shown

    domains = api.get(f"/v1/batches/{batch_id}/domains").json()["items"]
    assert len(domains) == 3 and all(None not in times(d).values() for d in domains)
    one = api.get(f"/v1/batches/{batch_id}/domains/{domains[0]['id']}").json()
    assert one == domains[0]
    jsonl = api.get(f"/v1/batches/{batch_id}/results").text
    exported = [json.loads(line) for line in jsonl.splitlines()]
    assert [times(row) for row in exported] == [times(d) for d in domains]

    # The operator's CLI on the same database prints the same text.
    env = backend_env(api_backend, api_workdir)
    status = run_domainbatch("status", batch_id, "--json", env=env, cwd=api_workdir)
    assert status.returncode == 0, status.stderr
    assert times(json.loads(status.stdout)) == shown
    results = run_domainbatch("results", batch_id, "--format", "jsonl", env=env, cwd=api_workdir)
    assert results.returncode == 0, results.stderr
    assert [times(json.loads(line)) for line in results.stdout.splitlines()] == [
        times(d) for d in domains
    ]
    listing = run_domainbatch("list", "--json", env=env, cwd=api_workdir)
    assert times(next(b for b in json.loads(listing.stdout) if b["id"] == batch_id)) == shown

    tenant_key("time-keys")
    keys = run_domainbatch("keys", "list", "--tenant", "time-keys", "--json", env=env)
    assert keys.returncode == 0, keys.stderr
    (key,) = json.loads(keys.stdout)
    assert times(key)["revoked_at"] is None and key["created_at"] is not None


def test_the_schemas_document_times_as_date_time_strings(api: ApiServer) -> None:
    schemas = api.get("/openapi.json", key="").json()["components"]["schemas"]
    for name in ("Batch", "BatchDetail", "Domain"):
        properties = schemas[name]["properties"]
        stamps = [p for p in properties if p.endswith("_at")]
        assert stamps, name
        for stamp in stamps:
            first = properties[stamp].get("anyOf", [properties[stamp]])[0]
            assert (first["type"], first["format"]) == ("string", "date-time"), (name, stamp)
    durations = schemas["BatchDetail"]["properties"]["duration_seconds"]["anyOf"]
    assert durations[0]["type"] == "number"


def test_every_operation_has_a_camelcase_id_and_a_summary(api: ApiServer) -> None:
    document = api.get("/openapi.json", key="").json()
    operations = {
        (method.upper(), path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    ids = [op.get("operationId", "") for op in operations.values()]
    assert len(ids) == 12 and len(set(ids)) == len(ids)
    for (method, path), op in operations.items():
        assert CAMEL.fullmatch(op["operationId"]), (method, path, op["operationId"])
        assert op["summary"] and op["description"], (method, path)
    assert {
        path: op["operationId"] for (_, path), op in operations.items() if "/v1" not in path
    } == {
        "/healthz": "getHealth",
        "/readyz": "getReadiness",
        "/metrics": "getMetrics",
    }


def same_origin_assets(html: str) -> list[str]:
    """Every URL a docs page loads; each must be a path on the page's own origin."""
    urls = re.findall(r'(?:src|href|spec-url)="([^"]*)"', html) + re.findall(
        r"url: '([^']*)'", html
    )
    assert urls and "http://" not in html and "https://" not in html and "//cdn" not in html
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
    return urls


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_only_same_origin_assets(api: ApiServer, path: str) -> None:
    page = api.get(path, key="")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]  # the browser refuses any other origin
    assert "default-src 'none'" in policy and "https:" not in policy and "*" not in policy
    for url in same_origin_assets(page.text):
        asset = api.get(url, key="")
        assert asset.status_code == 200 and len(asset.content) > 1000, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def test_swagger_ui_and_redoc_render_with_no_other_origin(api: ApiServer, browser: Browser) -> None:
    refused: list[str] = []
    console: list[str] = []

    def same_origin_only(route: Route) -> None:
        if route.request.url.startswith(api.base + "/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context = browser.new_context()
    try:
        context.route("**/*", same_origin_only)
        page = context.new_page()
        page.on("console", lambda message: console.append(message.text))
        page.on("pageerror", lambda error: console.append(f"page error: {error}"))
        page.goto(api.base + "/docs")
        page.locator(".opblock").first.wait_for(timeout=20_000)
        assert page.locator(".opblock").count() == 12
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert {"/healthz", "/v1/batches/{batch_id}/results"} <= {p.strip() for p in paths}
        assert page.get_by_text("Liveness probe").count() == 1
        page.goto(api.base + "/redoc")
        page.locator("h2", has_text="Export a batch's results").wait_for(timeout=20_000)
        assert page.locator("h2", has_text="Liveness probe").count() == 1
    finally:
        context.close()
    assert refused == [], refused
    # What the page logs is the policy refusing ReDoc's vendor logo (a CDN image), nothing else.
    assert all("Content Security Policy" in m and "cdn.redoc.ly" in m for m in console), console
