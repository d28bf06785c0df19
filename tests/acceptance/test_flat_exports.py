"""Exports of real homepage results, through the real entry points: ``domainbatch run`` and
``domainbatch results`` as subprocesses, and the API's results endpoint over HTTP, on batches
the homepage processor fetched from the local test web. The flat CSV (one column per field,
``; `` between values, RFC 3339 times), ``--excel``, ``--fields`` and Parquet read back with
pyarrow."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.acceptance.conftest import Cli, keyed_server
from tests.support.apiserver import ApiServer
from tests.support.processes import child_env
from tests.testweb import running_testweb

SITES = ["wordpress.test", "shop.test", "baeckerei.test", "bücher.test", "notfound.test"]
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _table(text: str) -> dict[str, dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return {row["display"]: row for row in rows}


def assert_flat_homepage_rows(text: str) -> None:
    """The CSV of a batch of ``SITES``: a column per field, no JSON blob."""
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert header[:4] == ["domain", "display", "input", "status"] and header[-1] == "result"
    for column in ("emails", "phones", "facebook", "x", "tiktok", "technologies", "started_at"):
        assert column in header
    rows = _table(text)
    wordpress, shop = rows["wordpress.test"], rows["shop.test"]
    assert wordpress["title"] == "Press Bakery – Fresh bread daily"
    assert wordpress["description"] == "Artisan bakery in Portland."
    assert wordpress["language"] == "en-US" and wordpress["status_code"] == "200"
    assert wordpress["emails"] == "orders@pressbakery.com"
    assert wordpress["phones"] == "'+15035550199"  # neutralized: a leading + is a trigger
    assert wordpress["facebook"] == "https://www.facebook.com/pressbakery"
    assert wordpress["youtube"] == "https://www.youtube.com/@pressbakery"
    assert wordpress["x"] == "" and wordpress["organization"] == "Press Bakery"
    technologies = wordpress["technologies"].split("; ")
    assert {"WordPress 6.4.2", "nginx 1.24.0", "PHP 8.2.12"} <= set(technologies)
    assert wordpress["server"] == "nginx/1.24.0" and wordpress["accepts_mail"] == "false"
    assert shop["final_url"].startswith("https://www.shop.test")
    assert shop["instagram"] == "https://www.instagram.com/shoptest"
    assert shop["tiktok"] == "https://www.tiktok.com/@shoptest"
    assert set(shop["technologies"].split("; ")) == {"Cloudflare", "Shopify"}
    assert rows["baeckerei.test"]["title"] == "Bäckerei Sonnenschein"
    assert rows["baeckerei.test"]["phones"] == "'+49407654321; +493012345678"
    assert rows["bücher.test"]["domain"] == "xn--bcher-kva.test"
    assert rows["notfound.test"]["error_code"] == "http_status"
    assert rows["notfound.test"]["title"] == rows["notfound.test"]["emails"] == ""
    for row in rows.values():
        assert RFC3339.match(row["started_at"]) and RFC3339.match(row["finished_at"]), row
        assert row["result"] == ""  # the homepage's fields all have columns (JSONL has it all)
        assert len(max(row.values(), key=len)) < 300


def test_results_exports_a_flat_csv_excel_fields_and_parquet(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "sites.txt"
    source.write_text("\n".join(SITES) + "\n", encoding="utf-8")
    ran = tmp_path / "ran.parquet"
    with running_testweb() as web:
        done = cli("run", str(source), "--json", "--output", str(ran), **web.env())
    assert done.returncode == 0, done.stderr
    batch = json.loads(done.stdout)["id"]

    as_csv = cli("results", batch, "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    assert_flat_homepage_rows(as_csv.stdout)

    # --excel: UTF-8 with a byte-order mark (CRLF rows), the same table.
    excel = tmp_path / "excel.csv"
    made = cli("results", batch, "--excel", "--output", str(excel))
    assert made.returncode == 0, made.stderr
    raw = excel.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfdomain,display,") and b"\r\n" in raw
    assert "Bäckerei".encode() in raw and "bücher.test".encode() in raw
    assert raw.decode("utf-8-sig").splitlines() == as_csv.stdout.splitlines()

    picked = cli("results", batch, "--format", "csv", "--fields", "display,emails,phones")
    assert picked.returncode == 0, picked.stderr
    lines = picked.stdout.splitlines()
    assert lines[0] == "display,emails,phones"
    assert "wordpress.test,orders@pressbakery.com,'+15035550199" in lines
    as_jsonl = cli("results", batch, "--fields", "display,technologies")
    shop = [json.loads(x) for x in as_jsonl.stdout.splitlines() if "shop.test" in x]
    assert shop == [{"display": "shop.test", "technologies": ["Cloudflare", "Shopify"]}]

    # Parquet: `run --output x.parquet`, and `results --output` taking the suffix's format.
    again = tmp_path / "results.parquet"
    wrote = cli("results", batch, "--output", str(again))
    assert wrote.returncode == 0, wrote.stderr
    assert f"wrote {len(SITES)} results" in wrote.stderr
    table = pq.read_table(ran)
    assert table.equals(pq.read_table(again))
    assert table.schema.field("started_at").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("status_code").type == pa.int64()
    assert table.schema.field("attempts").type == pa.int64()
    assert table.schema.field("phones").type == pa.list_(pa.string())
    assert table.schema.field("accepts_mail").type == pa.bool_()
    rows = {row["display"]: row for row in table.to_pylist()}
    bakery = rows["baeckerei.test"]
    assert bakery["phones"] == ["+49407654321", "+493012345678"]  # no CSV prefix
    assert bakery["status_code"] == 200 and bakery["attempts"] == 1
    started = bakery["started_at"]
    assert isinstance(started, datetime) and started.tzinfo is not None
    assert abs((datetime.now(UTC) - started).total_seconds()) < 600
    assert rows["notfound.test"]["status_code"] is None
    assert rows["notfound.test"]["error_code"] == "http_status"


def test_export_usage_errors_exit_2_before_any_work(cli: Cli, tmp_path: Path) -> None:
    unknown = cli("results", "00000000-0000-0000-0000-000000000000", "--fields", "domain,nope")
    assert unknown.returncode == 2
    assert "'nope'" in unknown.stderr and "known: domain, display, input" in unknown.stderr
    piped = cli("results", "00000000-0000-0000-0000-000000000000", "--format", "parquet")
    assert piped.returncode == 2 and "--output" in piped.stderr
    excel_jsonl = cli(
        "results", "00000000-0000-0000-0000-000000000000", "--excel", "--format", "jsonl"
    )
    assert excel_jsonl.returncode == 2 and "CSV" in excel_jsonl.stderr


def test_parquet_without_pyarrow_says_which_extra_to_install(cli: Cli, tmp_path: Path) -> None:
    """A Python where pyarrow is not installed: ``import pyarrow`` fails as it would there."""
    absent = tmp_path / "no-pyarrow"
    (absent / "pyarrow").mkdir(parents=True)
    (absent / "pyarrow" / "__init__.py").write_text("raise ImportError('No module pyarrow')\n")
    path = f"{absent}:{child_env()['PYTHONPATH']}"
    source = tmp_path / "sites.txt"
    source.write_text("example.test\n")
    out = tmp_path / "out.parquet"
    done = cli("run", str(source), "-p", "noop", "--output", str(out), PYTHONPATH=path)
    assert done.returncode == 1
    assert "pip install 'domainbatch[parquet]'" in done.stderr and not out.exists()
    assert not re.search(r"batch [0-9a-f-]{36}", done.stderr)  # refused before making one
    as_csv = tmp_path / "out.csv"
    made = cli("run", str(source), "-p", "noop", "--output", str(as_csv), PYTHONPATH=path)
    assert made.returncode == 0, made.stderr
    assert as_csv.read_text().startswith("domain,")  # the other formats need no pyarrow


# The API -------------------------------------------------------------------------------------
@pytest.fixture
def homepage_api(api_backend: str, api_workdir: Path) -> Iterator[ApiServer]:
    with (
        running_testweb() as web,
        keyed_server(
            api_backend, api_workdir, DOMAINBATCH_DEFAULT_PROCESSOR="homepage", **web.env()
        ) as server,
    ):
        yield server


def test_the_api_exports_the_flat_csv(homepage_api: ApiServer) -> None:
    api = homepage_api
    created = api.create(SITES)
    assert api.wait(created["id"])["status"] == "completed"
    url = f"/v1/batches/{created['id']}/results"
    as_csv = api.get(url, params={"format": "csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert_flat_homepage_rows(as_csv.content.decode("utf-8"))

    excel = api.get(url, params={"format": "csv", "excel": "true"})
    assert excel.content.startswith(b"\xef\xbb\xbfdomain,")
    assert excel.content.decode("utf-8-sig") == as_csv.content.decode("utf-8")

    picked = api.get(url, params={"format": "csv", "fields": "display,title"})
    assert picked.text.splitlines()[0] == "display,title"
    assert "baeckerei.test,Bäckerei Sonnenschein" in picked.content.decode("utf-8")

    unknown = api.get(url, params={"format": "csv", "fields": "display,nope"})
    assert unknown.status_code == 422
    assert "'nope'" in unknown.text and "known: domain" in unknown.text

    full = [json.loads(line) for line in api.get(url).text.splitlines()]
    wordpress = next(r for r in full if r["display"] == "wordpress.test")
    assert wordpress["result"]["extracted"]["emails"] == ["orders@pressbakery.com"]
