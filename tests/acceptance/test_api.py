"""The HTTP API over real HTTP against a real ``domainbatch serve`` process (embedded worker), on
SQLite and on Postgres through PgBouncer in transaction mode."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable

from tests.support.apiserver import ApiServer


def test_probes_metrics_and_openapi(api: ApiServer) -> None:
    assert api.get("/healthz", key="").json() == {"status": "ok"}
    assert api.get("/readyz", key="").json() == {"status": "ready"}
    metrics = api.get("/metrics", key="")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    for family in (
        'domainbatch_batches{status="completed"}',
        "domainbatch_queue_depth ",
        "domainbatch_workers_busy ",
        "domainbatch_embedded_workers 1",
        'domainbatch_domains_processed_total{outcome="succeeded"}',
        'domainbatch_domain_processing_seconds_bucket{le="+Inf"}',
    ):
        assert family in metrics.text, family
    paths = api.get("/openapi.json", key="").json()["paths"]
    for path in (
        "/v1/batches",
        "/v1/batches/{batch_id}",
        "/v1/batches/{batch_id}/domains",
        "/v1/batches/{batch_id}/results",
        "/v1/batches/{batch_id}/events",
        "/v1/batches/{batch_id}/cancel",
        "/v1/batches/{batch_id}/retry",
    ):
        assert path in paths, path


def test_json_batch_runs_to_completion(api: ApiServer) -> None:
    response = api.post(
        "/v1/batches",
        json={"domains": ["one.test", "ONE.test.", "https://two.test/x", "fail-3.test", "bad_"]},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["total"] == 4 and created["entries"] == 5
    assert created["duplicates"] == 1 and created["invalid"] == 1
    assert created["invalid_entries"][0]["input"] == "bad_"
    assert created["invalid_entries"][0]["reason"]
    assert response.headers["location"] == created["status_url"]
    assert created["status_url"].endswith(f"/v1/batches/{created['id']}")
    final = api.wait(created["id"])
    assert final["status"] == "completed" and final["progress"] == 100
    assert final["counts"]["succeeded"] == 2 and final["counts"]["failed"] == 1
    assert final["counts"]["invalid"] == 1 and final["errors"] == {"http_status": 1}
    assert final["started_at"] <= final["finished_at"] and final["eta_seconds"] is None
    metrics = api.get("/metrics", key="").text
    done = re.search(r'domainbatch_domains_processed_total\{outcome="succeeded"\} (\S+)', metrics)
    assert done is not None and float(done.group(1)) >= 2


def test_text_and_csv_bodies(api: ApiServer) -> None:
    text = "# leads\nalpha.test\n\nbeta.test  # note\nalpha.test\n"
    created = api.post(
        "/v1/batches", data=text.encode(), headers={"Content-Type": "text/plain; charset=utf-8"}
    ).json()
    assert (created["total"], created["duplicates"]) == (2, 1)
    table = "name;Website\nA;https://gamma.test/\nB;delta.test\n"
    created = api.post("/v1/batches", data=table, headers=_csv, params={"processor": "noop"}).json()
    assert created["total"] == 2
    assert api.wait(created["id"])["processor"] == "noop"
    no_column = api.post("/v1/batches", data="a,b\n1,2\n", headers={"Content-Type": "text/csv"})
    assert no_column.status_code == 422 and no_column.json()["code"] == "invalid_input"
    assert "domain" in no_column.json()["message"]

    def chunks() -> object:  # a chunked upload (no Content-Length) streams the same way
        yield b"chunk-one.test\nchunk-"
        yield b"two.test\n"

    streamed = api.post("/v1/batches", data=chunks(), headers={"Content-Type": "text/plain"})
    assert streamed.status_code == 201 and streamed.json()["total"] == 2


def test_domains_are_paged_and_filtered(api: ApiServer) -> None:
    names = [f"{'fail-' if i % 5 == 0 else ''}page{i:02d}.test" for i in range(23)]
    batch_id = api.create(names)["id"]
    api.wait(batch_id)
    seen: list[dict[str, object]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/v1/batches/{batch_id}/domains", params=params).json()
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and [d["domain"] for d in seen] == names
    failed = api.get(f"/v1/batches/{batch_id}/domains", params={"status": "failed"}).json()
    assert [d["domain"] for d in failed["items"]] == [n for n in names if n.startswith("fail-")]
    assert all(d["error_code"] == "http_status" for d in failed["items"])
    one = api.get(f"/v1/batches/{batch_id}/domains/{seen[1]['id']}").json()
    assert one["domain"] == "page01.test" and one["result"]["domain"] == "page01.test"
    assert api.get(f"/v1/batches/{batch_id}/domains/999999999").status_code == 404
    for bad in ({"cursor": "not-a-cursor"}, {"status": "done"}, {"limit": 0}):
        response = api.get(f"/v1/batches/{batch_id}/domains", params=bad)
        assert response.status_code == 422, bad
        assert set(response.json()) == {"code", "message"}


def test_batches_list_is_paged_newest_first(
    api: ApiServer, tenant_key: Callable[[str], str]
) -> None:
    key = tenant_key(f"lister-{uuid.uuid4().hex[:8]}")
    ids = [api.create([f"list{i}.test"], key=key)["id"] for i in range(5)]
    failed_id = api.create(["bad_"], key=key)["id"]  # all invalid: stored and failed at once
    listed: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/batches", params=params, key=key).json()
        listed += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert listed == [failed_id, *reversed(ids)]
    only_failed = api.get("/v1/batches", params={"status": "failed"}, key=key).json()
    assert [b["id"] for b in only_failed["items"]] == [failed_id]
    assert api.get("/v1/batches", params={"cursor": "eyJ4Ijox"}, key=key).status_code == 422


def test_results_stream_as_jsonl_and_csv(api: ApiServer) -> None:
    batch_id = api.create(["r1.test", "fail-r2.test", "r3.test", "nope_"])["id"]
    api.wait(batch_id)
    jsonl = api.get(f"/v1/batches/{batch_id}/results")
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [r["status"] for r in rows] == ["succeeded", "failed", "succeeded", "invalid"]
    as_csv = api.get(f"/v1/batches/{batch_id}/results", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["input"] for r in table] == ["r1.test", "fail-r2.test", "r3.test", "nope_"]
    negotiated = api.get(f"/v1/batches/{batch_id}/results", headers={"Accept": "text/csv"})
    assert negotiated.text == as_csv.text
    failed = api.get(f"/v1/batches/{batch_id}/results", params={"status": "failed"}).text
    assert [json.loads(x)["domain"] for x in failed.splitlines()] == ["fail-r2.test"]
    assert api.get(f"/v1/batches/{batch_id}/results", params={"format": "xml"}).status_code == 422


def test_events_stream_progress_until_the_end(api: ApiServer) -> None:
    batch_id = api.create([f"ev{i}.test" for i in range(6)], options={"delay": 0.3})["id"]
    events = list(api.events(batch_id))
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "end" and kinds.count("end") == 1
    assert kinds.count("progress") >= 2
    progress = [data["progress"] for kind, data in events if kind == "progress"]
    assert progress == sorted(progress) and progress[-1] == 100
    assert events[-1][1]["status"] == "completed"
    # A batch that already ended gives its final snapshot and closes at once.
    assert [k for k, _ in api.events(batch_id)] == ["progress", "end"]


def test_cancel_and_retry(api: ApiServer) -> None:
    slow = api.create([f"slow-{i}.test" for i in range(40)], options={"slow": 0.5})["id"]
    cancelled = api.post(f"/v1/batches/{slow}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["affected"] > 0
    again = api.post(f"/v1/batches/{slow}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    final = api.wait(slow)
    assert final["status"] == "cancelled" and final["counts"]["cancelled"] > 0

    batch_id = api.create(["ok1.test", "fail-x.test", "fail-y.test"])["id"]
    assert api.wait(batch_id)["counts"]["failed"] == 2
    retried = api.post(f"/v1/batches/{batch_id}/retry")
    assert retried.status_code == 200 and retried.json()["affected"] == 2
    final = api.wait(batch_id)
    assert final["status"] == "completed" and final["counts"]["failed"] == 2
    assert api.post(f"/v1/batches/{batch_id}/retry").json()["affected"] == 2


def test_error_paths(api: ApiServer) -> None:
    before = len(api.get("/v1/batches", params={"limit": 500}).json()["items"])
    missing = uuid.uuid4()
    cases = [
        (api.get(f"/v1/batches/{missing}"), 404, "not_found"),
        (api.get(f"/v1/batches/{missing}/domains"), 404, "not_found"),
        (api.get(f"/v1/batches/{missing}/results"), 404, "not_found"),
        (api.get(f"/v1/batches/{missing}/events"), 404, "not_found"),
        (api.post(f"/v1/batches/{missing}/cancel"), 404, "not_found"),
        (api.post(f"/v1/batches/{missing}/retry"), 404, "not_found"),
        (api.get("/v1/batches/not-a-uuid"), 422, "validation_error"),
        (api.post("/v1/batches/42/cancel"), 422, "validation_error"),
        (api.post("/v1/batches", json={"domains": []}), 422, "empty_batch"),
        (api.post("/v1/batches", data=b"# nothing\n\n", headers=_text), 422, "empty_batch"),
        (api.post("/v1/batches", data=b"", headers=_json), 422, "invalid_input"),
        (api.post("/v1/batches", data=b"{nope", headers=_json), 422, "invalid_input"),
        (api.post("/v1/batches", json={"domain": ["a.test"]}), 422, "invalid_input"),
        (api.post("/v1/batches", json={"domains": ["a.test"], "processor": "x"}), 422, None),
        (api.post("/v1/batches", data=b"a.test", headers=_form), 415, "unsupported_media_type"),
        (api.post("/v1/batches", data=b"x" * 200_001, headers=_text), 413, "limit_exceeded"),
        (api.post("/v1/batches", data=_big_chunks(), headers=_text), 413, "limit_exceeded"),
        (api.post("/v1/batches", json={"domains": ["d.test"] * 2001}), 413, "limit_exceeded"),
        (api.post("/v1/batches", json=_hook("ftp://x.test/h")), 422, "invalid_input"),
        (api.get("/v1/nothing-here"), 404, "not_found"),
        (api.request("DELETE", "/v1/batches"), 405, "method_not_allowed"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (response.request.url, response.text)
        body = response.json()
        assert set(body) == {"code", "message"} and body["message"], body
        if code:
            assert body["code"] == code, body
    assert cases[13][0].json()["code"] == "unknown_processor"
    # Nothing refused was stored.
    assert len(api.get("/v1/batches", params={"limit": 500}).json()["items"]) == before


_text = {"Content-Type": "text/plain"}
_json = {"Content-Type": "application/json"}
_csv = {"Content-Type": "text/csv"}
_form = {"Content-Type": "application/x-www-form-urlencoded"}


def _big_chunks() -> object:
    for _ in range(30):
        yield b"abcdefgh.test\n" * 1000


def _hook(url: str) -> dict[str, object]:
    return {"domains": ["a.test"], "webhook": {"url": url, "secret": "s3cret-s3cret"}}
