"""Result export as JSONL or CSV, produced as text chunks, for the CLI (written to a file or
stdout) and the API (streamed as the response body). Memory holds one chunk of rows.

CSV cells are neutralized against formula injection (OWASP "CSV Injection"): inputs, page
titles and error messages come from users and hostile sites, and a spreadsheet runs a cell that
starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return. JSONL is data for programs and
stays byte-exact.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from domainbatch.core.models import DomainRecord

FORMATS = ("jsonl", "csv")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
CSV_COLUMNS = [
    "domain",
    "display",
    "input",
    "status",
    "attempts",
    "error_code",
    "error_message",
    "final_url",
    "status_code",
    "title",
    "result",
]
_ROWS_PER_CHUNK = 500

# OWASP's list of characters that make a spreadsheet read a cell as a formula.
FORMULA_TRIGGERS = frozenset("=+-@\t\r")


def safe_cell(value: Any) -> str:
    """The cell's text, prefixed with ``'`` (the spreadsheets' "this is text" mark) when a
    spreadsheet could run it as a formula.

    Beyond OWASP's first-character rule, a trigger after leading whitespace counts too:
    importers that trim cells (LibreOffice's and Google Sheets' "trim spaces") would otherwise
    turn `` =1+1`` back into a formula. Every type goes through the rule (a processor may put a
    string where a number is expected), so a negative number gets the prefix as well.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text[:1] in FORMULA_TRIGGERS or text.lstrip()[:1] in FORMULA_TRIGGERS:
        return "'" + text
    return text


def csv_row(item: DomainRecord) -> dict[str, str]:
    fields = item.as_dict()
    result = item.result or {}
    extracted = result.get("extracted") or {}
    raw = {
        **{k: fields[k] for k in CSV_COLUMNS[:7]},
        "final_url": result.get("final_url"),
        "status_code": result.get("status_code"),
        "title": extracted.get("title"),
        "result": orjson.dumps(item.result).decode() if item.result else "",
    }
    return {column: safe_cell(value) for column, value in raw.items()}


class Export:
    """``async for chunk in Export(items, fmt).chunks()``; ``count`` is the rows written."""

    def __init__(self, items: AsyncIterator[DomainRecord], fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        self.items = items
        self.fmt = fmt
        self.count = 0

    async def chunks(self) -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS) if self.fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        async for item in self.items:
            if writer is not None:
                writer.writerow(csv_row(item))
            else:
                buffer.write(orjson.dumps(item.as_dict()).decode() + "\n")
            self.count += 1
            if self.count % _ROWS_PER_CHUNK == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue()


async def write_results(export: Export, write: Callable[[str], Any]) -> int:
    """Stream an export through ``write``; returns how many domains were written."""
    async for chunk in export.chunks():
        write(chunk)
    return export.count
