"""CSV input: the header is read and checked at once (a CSV without the domain column fails
before anything is stored), then the rows are streamed lazily."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from domainbatch.core.columns import missing_column, pick_column, split_header
from domainbatch.core.streams import text_stream
from domainbatch.errors import InputError

__all__ = ["csv_entries"]

_MAX_CSV_FIELD = 1024 * 1024


def csv_entries(chunks: Iterator[bytes], column: str | None = None) -> Iterator[str]:
    """The non-blank cells of the domain column (``column``: see ``pick_column``), trimmed."""
    stream = text_stream(chunks, newline="")
    lines = _lines_with_newlines(stream)
    try:
        header_line = next((line for line in lines if line.strip()), None)
        if header_line is None:
            stream.close()
            return iter(())
        cells, delimiter = split_header(header_line.strip("\r\n"), column)
        index = pick_column(cells, column)
        if index is None:
            raise missing_column(cells, column)
    except BaseException:
        stream.close()
        raise
    return _csv_rows(stream, lines, index, delimiter)


def _csv_rows(
    stream: io.TextIOWrapper, lines: Iterator[str], column: int, delimiter: str
) -> Iterator[str]:
    with stream:
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            for row in reader:
                if column < len(row):
                    entry = row[column].strip()
                    if entry:
                        yield entry
        except csv.Error as exc:
            raise InputError(f"malformed CSV near line {reader.line_num + 1}: {exc}") from None


def _lines_with_newlines(stream: io.TextIOWrapper) -> Iterator[str]:
    """Physical lines for the csv module, refusing one longer than a CSV field may be."""
    while True:
        line = stream.readline(_MAX_CSV_FIELD)
        if not line:
            return
        if len(line) >= _MAX_CSV_FIELD and not line.endswith("\n"):
            raise InputError(f"a CSV line is longer than {_MAX_CSV_FIELD} characters")
        yield line
