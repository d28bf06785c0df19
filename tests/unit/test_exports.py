"""The exports: the CSV's formula-injection rule (OWASP "CSV Injection"), JSONL left
untouched, the flat columns and their cells, ``fields``, the Excel BOM, and Parquet's types and
row groups."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from domainbatch.core.models import DomainRecord
from domainbatch.core.status import DomainStatus
from domainbatch.errors import InvalidFieldsError
from domainbatch.extract.socials import PLATFORM_KEYS
from domainbatch.service.columns import FIELDS, SOCIAL_NETWORKS, parse_fields
from domainbatch.service.exports import BOM, CSV_COLUMNS, Export, safe_cell
from domainbatch.service.parquet import ROWS_PER_GROUP, write_parquet

HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
    " =1+1",  # a trimming importer would run it
    "\n@SUM(A1)",
    "\u00a0+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_cells_get_a_quote(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", "example.com"),
        ("a=b", "a=b"),  # a trigger that does not lead is harmless
        ("'=1+1", "'=1+1"),  # already text: not quoted twice
        ("", ""),
        (None, ""),
        (200, "200"),
        (-1, "'-1"),
        ('{"title": "=1+1"}', '{"title": "=1+1"}'),
    ],
)
def test_other_cells_are_left_alone(value: Any, expected: str) -> None:
    assert safe_cell(value) == expected


async def _items(rows: list[DomainRecord]) -> AsyncIterator[DomainRecord]:
    for row in rows:
        yield row


def _export(rows: list[DomainRecord], fmt: str, **how: Any) -> str:
    async def collect() -> str:
        return "".join([c async for c in Export(_items(rows), fmt, **how).chunks()])

    return asyncio.run(collect())


def _domain(n: int, value: str, **outcome: Any) -> DomainRecord:
    fields: dict[str, Any] = {
        "status": DomainStatus.INVALID,
        "attempts": 0,
        "error_code": "invalid_domain",
        "error_message": value,
        "result": None,
        **outcome,
    }
    return DomainRecord(
        id=n,
        domain=value,
        display=value,
        input=value,
        started_at=None,
        finished_at=None,
        **fields,
    )


def _rows() -> list[DomainRecord]:
    rows = [_domain(n, value) for n, value in enumerate(HOSTILE, 1)]
    evil = {
        "final_url": "=1+1",
        "status_code": "-1+1",
        "extracted": {
            "title": "@SUM(A1)",
            "emails": ["-x@evil.test", "a@evil.test"],
            "socials": {"facebook": ["+1"]},
        },
    }
    rows.append(
        _domain(
            len(rows) + 1,
            "evil.test",
            status=DomainStatus.SUCCEEDED,
            attempts=1,
            error_code=None,
            error_message=None,
            result=evil,
        )
    )
    return rows


def test_every_csv_cell_is_neutralized() -> None:
    parsed = list(csv.reader(io.StringIO(_export(_rows(), "csv"), newline="")))
    assert parsed[0] == CSV_COLUMNS
    cells = [cell for row in parsed[1:] for cell in row]
    assert len(parsed) == len(HOSTILE) + 2
    for cell in cells:
        assert cell.lstrip()[:1] not in set("=+-@\t\r"), cell
    evil = dict(zip(CSV_COLUMNS, parsed[-1], strict=True))
    assert evil["title"] == "'@SUM(A1)" and evil["final_url"] == "'=1+1"
    assert evil["status_code"] == "'-1+1"
    assert evil["emails"] == "'-x@evil.test; a@evil.test" and evil["facebook"] == "'+1"
    assert evil["result"] == ""  # homepage-shaped: its fields have columns


def test_jsonl_stays_byte_exact() -> None:
    lines = _export(_rows(), "jsonl").splitlines()
    assert len(lines) == len(HOSTILE) + 1
    assert lines[0] == (
        '{"id":1,"domain":"=HYPERLINK(\\"http://x\\",\\"y\\")",'
        '"display":"=HYPERLINK(\\"http://x\\",\\"y\\")","input":"=HYPERLINK(\\"http://x\\",\\"y\\")",'
        '"status":"invalid","attempts":0,"error_code":"invalid_domain",'
        '"error_message":"=HYPERLINK(\\"http://x\\",\\"y\\")",'
        '"started_at":null,"finished_at":null,"result":null}'
    )
    assert lines[-1] == (
        '{"id":11,"domain":"evil.test","display":"evil.test","input":"evil.test",'
        '"status":"succeeded","attempts":1,"error_code":null,"error_message":null,'
        '"started_at":null,"finished_at":null,'
        '"result":{"final_url":"=1+1","status_code":"-1+1","extracted":{"title":"@SUM(A1)",'
        '"emails":["-x@evil.test","a@evil.test"],"socials":{"facebook":["+1"]}}}}'
    )


# The flat columns ----------------------------------------------------------------------------
STARTED = 1_780_000_000.1234
HOMEPAGE = {
    "url": "https://bücher.test/",
    "final_url": "https://www.bücher.test/",
    "status_code": 200,
    "headers": {"server": "nginx"},
    "tls": {"issuer": "R11", "days_remaining": 42},
    "timings": {"total_ms": 25.8},
    "addresses": ["203.0.113.10", "2001:db8::1"],
    "mx": ["mx1.bücher.test"],
    "accepts_mail": True,
    "https_error": None,
    "extracted": {
        "title": "Bücher",
        "language": "de",
        "emails": ["a@bücher.test", "b@bücher.test"],
        "phones": ["+4930123456"],
        "socials": {"facebook": ["https://www.facebook.com/b"], "x": []},
        "technologies": [
            {"name": "WordPress", "category": "CMS", "version": "6.4.2"},
            {"name": "Google Analytics", "category": "Analytics", "version": None},
        ],
        "jsonld": {"organization": {"name": "Bücher GmbH"}, "website": None},
    },
}


def _done(n: int, result: dict[str, Any] | None) -> DomainRecord:
    return _domain(
        n,
        f"site{n}.test",
        status=DomainStatus.SUCCEEDED,
        attempts=1,
        error_code=None,
        error_message=None,
        result=result,
    )


def _timed(record: DomainRecord) -> DomainRecord:
    fields = {name: getattr(record, name) for name in record.__dataclass_fields__}
    return DomainRecord(**{**fields, "started_at": STARTED, "finished_at": STARTED + 1.5})


def _csv(rows: list[DomainRecord], **how: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_export(rows, "csv", **how), newline="")))


def test_the_social_columns_are_the_extractors_networks() -> None:
    assert SOCIAL_NETWORKS == PLATFORM_KEYS


def test_a_homepage_result_is_one_flat_row() -> None:
    [row] = _csv([_timed(_done(1, HOMEPAGE))])
    assert row["final_url"] == "https://www.bücher.test/" and row["status_code"] == "200"
    assert row["emails"] == "a@bücher.test; b@bücher.test"
    assert row["phones"] == "'+4930123456"  # a leading + is a formula trigger
    assert row["facebook"] == "https://www.facebook.com/b" and row["x"] == ""
    assert row["pinterest"] == ""  # a network the result does not name
    assert row["technologies"] == "WordPress 6.4.2; Google Analytics"
    assert row["started_at"] == "2026-05-28T20:26:40.123Z"
    assert row["finished_at"] == "2026-05-28T20:26:41.623Z"
    assert row["organization"] == "Bücher GmbH" and row["server"] == "nginx"
    assert row["addresses"] == "203.0.113.10; 2001:db8::1" and row["accepts_mail"] == "true"
    assert row["tls_issuer"] == "R11" and row["tls_days_remaining"] == "42"
    assert row["total_ms"] == "25.8" and row["result"] == ""


def test_other_processors_keep_their_result_as_json() -> None:
    dns = {"addresses": ["192.0.2.1"], "mx": [], "accepts_mail": False, "timings": {}}
    plugin = {"domain": "site3.test", "score": 7}
    rows = _csv([_done(1, None), _done(2, dns), _done(3, plugin)])
    assert rows[0]["result"] == rows[0]["title"] == rows[0]["started_at"] == ""
    assert rows[1]["addresses"] == "192.0.2.1" and rows[1]["accepts_mail"] == "false"
    assert rows[1]["result"] == ""  # the dns processor's fields all have columns
    assert orjson.loads(rows[2]["result"]) == plugin and rows[2]["title"] == ""


def test_fields_choose_and_order_the_columns() -> None:
    assert [c.name for c in parse_fields(" title,domain,title")] == ["title", "domain"]
    assert tuple(c.name for c in parse_fields(None)) == FIELDS == tuple(CSV_COLUMNS)
    with pytest.raises(InvalidFieldsError, match=r"'nope', ''; known: domain, display"):
        parse_fields("domain,nope,")
    text = _export([_done(1, HOMEPAGE)], "csv", columns=parse_fields("emails,domain"))
    assert text == "emails,domain\r\na@bücher.test; b@bücher.test,site1.test\r\n"


def test_jsonl_with_fields_is_the_flat_row_typed() -> None:
    columns = parse_fields("domain,emails,status_code,started_at,result")
    [line] = _export([_timed(_done(1, HOMEPAGE))], "jsonl", columns=columns).splitlines()
    assert orjson.loads(line) == {
        "domain": "site1.test",
        "emails": ["a@bücher.test", "b@bücher.test"],
        "status_code": 200,
        "started_at": "2026-05-28T20:26:40.123Z",
        "result": None,
    }


def test_excel_csv_starts_with_one_bom() -> None:
    rows = [_done(n, HOMEPAGE) for n in range(1, 1202)]  # three chunks
    text = _export(rows, "csv", excel=True)
    assert text.startswith(BOM + "domain,") and text.count(BOM) == 1
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbfdomain,")
    assert not _export(rows[:1], "csv").startswith(BOM)


# Parquet -------------------------------------------------------------------------------------
def _parquet(rows: list[DomainRecord], path: Path, **how: Any) -> int:
    return asyncio.run(write_parquet(Export(_items(rows), "parquet", **how), path))


def test_parquet_columns_are_typed(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    evil = _done(2, {"status_code": "-1+1", "accepts_mail": "yes", "extracted": {"title": 5}})
    assert _parquet([_timed(_done(1, HOMEPAGE)), evil, *_rows()[:1]], path) == 3
    table = pq.read_table(path)
    schema = table.schema
    assert schema.field("attempts").type == pa.int64()
    assert schema.field("status_code").type == pa.int64()
    assert schema.field("started_at").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("emails").type == pa.list_(pa.string())
    assert schema.field("accepts_mail").type == pa.bool_()
    assert schema.field("total_ms").type == pa.float64()
    first, second, third = table.to_pylist()
    assert first["started_at"] == datetime(2026, 5, 28, 20, 26, 40, 123000, tzinfo=UTC)
    assert first["emails"] == ["a@bücher.test", "b@bücher.test"] and first["x"] == []
    assert first["status_code"] == 200 and first["accepts_mail"] is True
    assert first["technologies"] == ["WordPress 6.4.2", "Google Analytics"]
    # What does not fit a typed column is null; no formula prefix (Parquet is for programs).
    assert second["status_code"] is None and second["accepts_mail"] is None
    assert second["title"] == "5"
    assert third["domain"] == HOSTILE[0] and third["emails"] is None


def test_parquet_is_written_in_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    rows = [_done(n, HOMEPAGE) for n in range(1, 2 * ROWS_PER_GROUP + 2)]
    assert _parquet(rows, path, columns=parse_fields("domain,phones")) == len(rows)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 3 and meta.num_rows == len(rows)
    assert pq.read_table(path).column_names == ["domain", "phones"]


def test_an_empty_parquet_export_has_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    assert _parquet([], path) == 0
    assert pq.read_table(path).column_names == CSV_COLUMNS


def test_a_failed_parquet_export_leaves_no_file(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[DomainRecord]:
        yield _done(1, HOMEPAGE)
        raise RuntimeError("the database went away")

    path = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError):
        asyncio.run(write_parquet(Export(broken(), "parquet"), path))
    assert list(tmp_path.iterdir()) == []
