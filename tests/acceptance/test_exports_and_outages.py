"""Where output leaves and where the database goes away, through the real entry points: CSV
exports a spreadsheet opens safely (CLI and API), and a worker that rides out a database outage
with two log lines instead of a traceback per retry."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.conftest import Cli
from tests.conftest import backend_settings
from tests.support import hostile
from tests.support.apiserver import ApiServer, issue_key, server_env

HOSTILE = "tests.support.hostile:titles"
TRIGGERS = set("=+-@\t\r")
FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "@SUM(A1)",
    "-2+3",
    "=cmd|' /C calc'!A0",
]


# CSV exports ---------------------------------------------------------------------------------
def assert_csv_is_inert(text: str) -> list[dict[str, str]]:
    """Every cell is safe to open in a spreadsheet; returns the rows by column name."""
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert table and table[0][0] == "domain"
    for row in table[1:]:
        for cell in row:
            assert cell.lstrip()[:1] not in TRIGGERS, f"formula cell {cell!r} in {row}"
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    by_input = {r["input"]: r for r in rows}
    for formula in FORMULAS:
        assert by_input["'" + formula]["status"] == "invalid"
    good, bad = by_input["good.test"], by_input["fail-bad.test"]
    assert good["title"] == "'" + hostile.TITLE and good["status_code"] == "200"
    assert json.loads(good["result"])["extracted"]["title"] == hostile.TITLE
    assert bad["error_message"] == "'" + hostile.ERROR
    return rows


def assert_jsonl_is_raw(text: str) -> None:
    """JSONL is for programs: the values exactly as stored, nothing prefixed."""
    lines = [json.loads(line) for line in text.splitlines()]
    by_input = {x["input"]: x for x in lines}
    assert set(FORMULAS) <= set(by_input)
    assert by_input["good.test"]["result"]["extracted"]["title"] == hostile.TITLE
    assert by_input["fail-bad.test"]["error_message"] == hostile.ERROR
    for item in lines:
        for value in (*item.values(), (item["result"] or {}).get("extracted", {}).get("title")):
            assert not (isinstance(value, str) and value.startswith("'")), item
    for line in text.splitlines():  # compact orjson text, one object a line
        assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))


def test_cli_csv_export_neutralizes_formulas(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "hostile.txt"
    source.write_text("\n".join([*FORMULAS, "good.test", "fail-bad.test"]) + "\n")
    out_csv = tmp_path / "out.csv"
    done = cli("run", str(source), "-p", HOSTILE, "--output", str(out_csv), "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert {k: v for k, v in status["counts"].items() if v} == {
        "invalid": 5,
        "succeeded": 1,
        "failed": 1,
    }
    rows = assert_csv_is_inert(out_csv.read_text(encoding="utf-8"))
    assert len(rows) == 7
    exported = cli("results", status["id"], "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == out_csv.read_text(encoding="utf-8")
    as_jsonl = cli("results", status["id"])
    assert as_jsonl.returncode == 0, as_jsonl.stderr
    assert_jsonl_is_raw(as_jsonl.stdout)


@pytest.fixture(scope="module")
def hostile_api(api_backend: str, api_workdir: Path) -> Iterator[ApiServer]:
    """A server whose default processor is the hostile one (a tenant may not name a module)."""
    env = server_env(api_backend, api_workdir, DOMAINBATCH_DEFAULT_PROCESSOR=HOSTILE)
    server = ApiServer(env, api_workdir)
    try:
        server.start()
        server.key = issue_key(backend_settings(api_backend, api_workdir), "alpha")
        yield server
    finally:
        server.stop()


def test_api_csv_export_neutralizes_formulas(hostile_api: ApiServer) -> None:
    api = hostile_api
    created = api.create([*FORMULAS, "good.test", "fail-bad.test"])
    assert api.wait(created["id"])["status"] == "completed"
    url = f"/v1/batches/{created['id']}/results"
    as_csv = api.get(url, params={"format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert len(assert_csv_is_inert(as_csv.text)) == 7
    negotiated = api.get(url, headers={"Accept": "text/csv"})
    assert negotiated.text == as_csv.text
    as_jsonl = api.get(url)
    assert as_jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert_jsonl_is_raw(as_jsonl.text)
