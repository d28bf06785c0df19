"""Real ``homepage`` results, fetched from the local test web by a real server's worker, against
the schemas the server publishes in ``/openapi.json`` (``HomepageResult``, and ``Domain``
whole with its date-time formats checked): the typed schema describes what the processor
writes, key for key (it forbids unknown keys, so a new one the schema does not name fails
here), and the API hands each result on exactly as the CLI's JSONL export does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs

from tests.acceptance.conftest import backend_env, keyed_server
from tests.support.processes import run_domainbatch
from tests.testweb import running_testweb

SITES = [
    "wordpress.test",  # technologies, JSON-LD organization, socials, emails, TLS
    "shop.test",  # a redirect to www.shop.test
    "plain.test",
    "baeckerei.test",  # German page, phones in its own region
    "chain.test",  # https -> http -> https redirects
    "badcert.test",  # https fails, plain http answers: https_error
    "latin1.test",
    "xhtml.test",
    "nocharset.test",
    "cookie.test",
]


def validator(document: dict[str, Any], name: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def test_homepage_results_match_the_published_schema(api_backend: str, tmp_path: Path) -> None:
    with running_testweb() as web, keyed_server(api_backend, tmp_path, **web.env()) as api:
        batch_id = api.create(SITES, processor="homepage")["id"]
        final = api.wait(batch_id, timeout=120)
        document = api.get("/openapi.json", key="").json()
        domains: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = api.get(
                f"/v1/batches/{batch_id}/domains", params={"cursor": cursor} if cursor else {}
            ).json()
            domains += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert final["counts"]["succeeded"] == len(SITES), final
    homepage, domain = validator(document, "HomepageResult"), validator(document, "Domain")
    for row in domains:
        errors = [str(e) for e in homepage.iter_errors(row["result"])]
        assert errors == [], (row["domain"], errors)
        assert domain.is_valid(row), row["domain"]
    results = {row["domain"]: row["result"] for row in domains}
    # Every optional part of the schema was exercised by at least one real page.
    assert results["badcert.test"]["https_error"]["code"] == "tls_error"
    assert results["wordpress.test"]["tls"]["not_after"].endswith("Z")
    assert results["shop.test"]["redirects"] and results["wordpress.test"]["extracted"]["jsonld"]
    assert {t["name"] for t in results["wordpress.test"]["extracted"]["technologies"]} >= {
        "WordPress"
    }
    assert results["plain.test"]["extracted"]["socials"]["github"]

    # The API passed each result through as stored: the CLI's export has the same keys, in the
    # same order, and values.
    env = backend_env(api_backend, tmp_path)
    exported = run_domainbatch("results", batch_id, "--format", "jsonl", env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [json.dumps(line["result"]) for line in lines] == [
        json.dumps(row["result"]) for row in domains
    ]
