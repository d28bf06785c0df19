"""Result export as JSONL, a flat CSV or Parquet. JSONL and CSV are produced as text chunks,
for the CLI (a file or stdout) and the API (the streamed response body); Parquet is written to
a file in row groups (``service.parquet``). Memory holds one chunk of rows.

CSV cells are neutralized against formula injection (OWASP "CSV Injection"): inputs, page
titles and error messages come from users and hostile sites, and a spreadsheet runs a cell that
starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return. JSONL is data for programs and
stays byte-exact.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from domainbatch.core.humanize import rfc3339
from domainbatch.core.models import DomainRecord
from domainbatch.service.columns import COLUMNS, Column, read_row, source_of

FORMATS = ("jsonl", "csv", "parquet")
SUFFIXES = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
TEXT_FORMATS = ("jsonl", "csv")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
CSV_COLUMNS = [column.name for column in COLUMNS]
SEPARATOR = "; "  # between the values of a multi-value cell
# Excel reads a CSV as the system's ANSI code page unless it starts with a UTF-8 BOM.
BOM = "\ufeff"
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
    text = value if type(value) is str else str(value)
    if not text:
        return text
    first = text[0]  # lstrip only when it matters: this runs for every cell of an export
    if first in FORMULA_TRIGGERS or (first.isspace() and text.lstrip()[:1] in FORMULA_TRIGGERS):
        return "'" + text
    return text


def cell_text(column: Column, value: Any) -> Any:
    """A raw value as the text a sheet shows: lists joined by ``"; "``, times RFC 3339,
    booleans ``true``/``false``; anything unexpected as JSON."""
    if value is None or type(value) is str:  # most cells: checked first (export speed)
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if column.kind == "time" and isinstance(value, int | float):
        return rfc3339(value)
    if isinstance(value, list):
        return SEPARATOR.join(str(item) for item in value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return value


def csv_row(item: DomainRecord, columns: Sequence[Column] = COLUMNS) -> list[str]:
    source = source_of(item)
    return [safe_cell(cell_text(c, c.read(source))) for c in columns]


def json_row(item: DomainRecord, columns: Sequence[Column]) -> dict[str, Any]:
    """The chosen columns as JSON values (lists stay lists; times RFC 3339)."""
    raw = read_row(item, columns)
    return {
        c.name: rfc3339(v) if c.kind == "time" and isinstance(v, int | float) else v
        for c in columns
        for v in (raw[c.name],)
    }


class Export:
    """``async for chunk in Export(items, fmt).chunks()``; ``count`` is the rows written.

    ``columns`` None: CSV has every column and JSONL is the full record (``as_dict``); given,
    both have exactly those. ``excel`` starts a CSV with a UTF-8 BOM."""

    def __init__(
        self,
        items: AsyncIterator[DomainRecord],
        fmt: str,
        *,
        columns: Sequence[Column] | None = None,
        excel: bool = False,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        self.items = items
        self.fmt = fmt
        self.columns = columns
        self.excel = excel
        self.count = 0

    async def chunks(self) -> AsyncIterator[str]:
        if self.fmt not in TEXT_FORMATS:
            raise ValueError(f"{self.fmt} is written to a file, not as text")
        buffer = io.StringIO()
        columns = self.columns or COLUMNS
        writer = None
        if self.fmt == "csv":
            if self.excel:
                buffer.write(BOM)
            writer = csv.writer(buffer)
            writer.writerow([c.name for c in columns])
        async for item in self.items:
            if writer is not None:
                writer.writerow(csv_row(item, columns))
            else:
                row = item.as_dict() if self.columns is None else json_row(item, columns)
                buffer.write(orjson.dumps(row).decode() + "\n")
            self.count += 1
            if self.count % _ROWS_PER_CHUNK == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue()


async def write_results(export: Export, write: Callable[[str], Any]) -> int:
    """Stream a text export through ``write``; returns how many domains were written."""
    async for chunk in export.chunks():
        write(chunk)
    return export.count


def format_for(path: Path) -> str | None:
    """The export format a file name asks for (``.jsonl``, ``.csv``, ``.parquet``), if any."""
    return SUFFIXES.get(path.suffix.lower())


async def write_file(export: Export, path: Path) -> int:
    """Write an export of any format to ``path``; returns how many domains were written."""
    if export.fmt == "parquet":
        from domainbatch.service.parquet import write_parquet  # pyarrow: only when asked for

        return await write_parquet(export, path)
    with path.open("w", encoding="utf-8", newline="") as handle:
        return await write_results(export, handle.write)
