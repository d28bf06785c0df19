"""Hostile input through the real entry points: the CLI as a subprocess, the API and the
dashboard over HTTP against a real server. Multi-member gzip is read whole; truncated gzip,
JSON of any depth and forged cursors are refused with one clear error and leave nothing stored;
a UTF-8 byte-order mark is accepted everywhere."""

from __future__ import annotations

import base64
import gzip
import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from domainbatch.core.inputs import MAX_JSON_DEPTH
from tests.acceptance.conftest import Cli, stored_batch_ids
from tests.support.apiserver import ApiServer

BOUND = f"deeper than {MAX_JSON_DEPTH} levels"
BOM = b"\xef\xbb\xbf"
COOKIE = "domainbatch_key"  # the dashboard's login cookie (api/auth.py)


def two_members() -> bytes:
    return gzip.compress(b"one.test\ntwo.test\n") + gzip.compress(b"three.test\nfour.test\n")


def truncated_gzip(lines: int) -> bytes:
    whole = gzip.compress(b"".join(b"site%d.test\n" % i for i in range(lines)))
    return whole[: len(whole) // 2]


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def cursor(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


# --- CLI -------------------------------------------------------------------------------------


def assert_one_line_input_error(result: Any, *expected: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and lines[0].endswith("[invalid_input]"), lines[0]
    for text in expected:
        assert text in lines[0], lines[0]


def test_cli_reads_every_gzip_member(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "m.txt.gz"
    source.write_bytes(two_members())
    submitted = cli("submit", str(source))
    assert submitted.returncode == 0, submitted.stderr
    status = json.loads(cli("status", submitted.stdout.strip(), "--json").stdout)
    assert status["total"] == 4


def test_cli_refuses_truncated_gzip_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    before = stored_batch_ids(cli)
    source = tmp_path / "half.txt.gz"
    source.write_bytes(truncated_gzip(100_000))
    assert_one_line_input_error(cli("submit", str(source)), "truncated")
    assert stored_batch_ids(cli) == before


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_cli_refuses_deep_json_and_stores_nothing(cli: Cli, tmp_path: Path, depth: int) -> None:
    before = stored_batch_ids(cli)
    source = tmp_path / "deep.json"
    source.write_bytes(deep(depth))
    assert_one_line_input_error(cli("submit", str(source)), BOUND)
    assert_one_line_input_error(cli("run", str(source)), BOUND)
    assert stored_batch_ids(cli) == before


def test_cli_accepts_json_with_a_byte_order_mark(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "bom.json"
    source.write_bytes(BOM + b'{"domains": ["a.test", "b.test"]}')
    submitted = cli("submit", str(source))
    assert submitted.returncode == 0, submitted.stderr
    assert json.loads(cli("status", submitted.stdout.strip(), "--json").stdout)["total"] == 2


# --- API and dashboard -----------------------------------------------------------------------


def batches_of(api: ApiServer, key: str) -> list[str]:
    page = api.get("/v1/batches", key=key)
    assert page.status_code == 200, page.text
    return [b["id"] for b in page.json()["items"]]


def assert_invalid_input(response: requests.Response, *expected: str) -> None:
    assert response.status_code == 422, (response.url, response.status_code, response.text[:300])
    body = response.json()
    assert body["code"] == "invalid_input", body
    for text in expected:
        assert text in body["message"], body


def upload(api: ApiServer, key: str, name: str, data: bytes) -> requests.Response:
    """The dashboard's submit form with a file, as a logged-in browser sends it."""
    files = {"file": (name, data, "application/octet-stream")}
    cookies = {COOKIE: key}
    return api.post("/ui/batches", key="", files=files, cookies=cookies, allow_redirects=False)


def assert_form_error(response: requests.Response, *expected: str) -> None:
    """The dashboard answers a refused form with its page and the error in it."""
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    text = html.unescape(response.text)
    assert "[invalid_input]" in text
    for part in expected:
        assert part in text, part


def test_api_reads_every_gzip_member(api: ApiServer) -> None:
    for kind in ("application/octet-stream", "text/plain"):
        created = api.post("/v1/batches", data=two_members(), headers={"Content-Type": kind})
        assert created.status_code == 201, created.text
        assert created.json()["total"] == 4


def test_api_refuses_truncated_gzip_and_stores_nothing(
    api: ApiServer, tenant_key: Callable[[str], str]
) -> None:
    key = tenant_key("truncated-gzip")
    body = truncated_gzip(1_500)  # under the test server's MAX_ENTRIES (2,000)
    for kind in ("application/octet-stream", "text/plain", ""):
        headers = {"Content-Type": kind} if kind else {}
        response = api.post("/v1/batches", data=body, headers=headers, key=key)
        assert_invalid_input(response, "truncated")
    assert_form_error(upload(api, key, "leads.txt.gz", body), "truncated")
    assert batches_of(api, key) == []


@pytest.mark.parametrize("depth", [1_000, 90_000])  # 90,000 levels: 180 kB, under the 200 kB cap
def test_api_refuses_deep_json_and_stores_nothing(
    api: ApiServer, tenant_key: Callable[[str], str], depth: int
) -> None:
    key = tenant_key(f"deep-json-{depth}")
    octets = {"Content-Type": "application/octet-stream"}
    as_json = {"Content-Type": "application/json"}
    in_object = b'{"domains": ' + deep(depth) + b"}"
    responses = [
        api.post("/v1/batches", data=deep(depth), headers=octets, key=key),
        api.post("/v1/batches", data=in_object, headers=octets, key=key),
        api.post("/v1/batches", data=deep(depth), headers=as_json, key=key),
        api.post("/v1/batches", data=in_object, headers=as_json, key=key),
        api.post(
            "/v1/batches",
            data=b'{"domains": ["a.test"], "options": {"x": ' + deep(depth) + b"}}",
            headers=as_json,
            key=key,
        ),
        api.post(
            "/v1/batches",
            data=b"a.test\n",
            headers={"Content-Type": "text/plain"},
            params={"options": '{"x": ' + deep(min(depth, 5_000)).decode() + "}"},
            key=key,
        ),
    ]
    for response in responses:
        assert_invalid_input(response, BOUND)
    assert_form_error(upload(api, key, "deep.json", deep(depth)), BOUND)
    assert batches_of(api, key) == []


def test_api_accepts_json_with_a_byte_order_mark(api: ApiServer) -> None:
    body = BOM + b'{"domains": ["bom-one.test", "bom-two.test"]}'
    response = api.post("/v1/batches", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["total"] == 2


def test_malformed_cursors_are_validation_errors(api: ApiServer) -> None:
    batch_id = api.create(["cursor-one.test"])["id"]
    log_before = len(api.output())
    huge_id = {"cursor": cursor("[9223372036854775808]")}
    nul_id = {"cursor": cursor('[1.5,"x\\u0000"]')}
    responses = [
        api.get(f"/v1/batches/{batch_id}/domains", params=huge_id),
        api.get("/v1/batches", params=nul_id),
        api.get("/", key="", params=nul_id, cookies={COOKIE: api.key or ""}),
        api.get(f"/batches/{batch_id}", key="", params=huge_id, cookies={COOKIE: api.key or ""}),
    ]
    for response in responses:
        assert response.status_code == 422, (response.url, response.status_code, response.text)
        assert response.json()["code"] == "validation_error", response.text
        assert "cursor" in response.json()["message"]
    assert " ERROR " not in api.output()[log_before:]
