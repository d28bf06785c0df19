"""The CSV export's formula-injection rule (OWASP "CSV Injection"), and JSONL left untouched."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from domainbatch.core.models import DomainRecord
from domainbatch.core.status import DomainStatus
from domainbatch.service.exports import CSV_COLUMNS, Export, safe_cell

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


def _export(rows: list[DomainRecord], fmt: str) -> str:
    async def collect() -> str:
        return "".join([c async for c in Export(_items(rows), fmt).chunks()])

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
        "extracted": {"title": "@SUM(A1)"},
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
    assert orjson.loads(evil["result"])["extracted"]["title"] == "@SUM(A1)"


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
        '"result":{"final_url":"=1+1","status_code":"-1+1","extracted":{"title":"@SUM(A1)"}}}'
    )
