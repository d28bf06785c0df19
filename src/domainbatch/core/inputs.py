"""Reading batch input: text, CSV or JSON bytes in, a lazy stream of entry strings out.

Text and CSV are streamed (memory stays flat with the input's size); JSON is for small request
bodies and is loaded whole, and refused if nested deeper than ``MAX_JSON_DEPTH`` (no parser
recursion is ever reached). Text and CSV bytes are decoded as UTF-8 (a UTF-8 or UTF-16
byte-order mark is honoured) with ``errors="replace"``, so undecodable bytes become U+FFFD and
the normalizer rejects that entry with a reason instead of the whole input failing. Gzip input
is unpacked on the fly, every member of it; a truncated or corrupt gzip stream raises
``InputError`` when the reader gets there, so callers that store entries must do so in one
transaction (batch creation does). Entries come out as written (trimmed); normalization is
someone else's job. The parts live beside this module: ``streams`` (bytes plumbing),
``gunzip``, ``columns`` (which CSV column), ``csvinput`` and ``jsontext``.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from typing import IO, Literal

from domainbatch.core.columns import HEADER_NAMES, check_choice, header_index
from domainbatch.core.csvinput import csv_entries
from domainbatch.core.gunzip import GZIP_MAGIC, gunzip
from domainbatch.core.jsontext import MAX_JSON_DEPTH, check_json_depth, json_text
from domainbatch.core.streams import chunks_of, lines, peek, text_stream
from domainbatch.errors import InputError, LimitExceededError

__all__ = [
    "HEADER_NAMES",
    "MAX_JSON_DEPTH",
    "Format",
    "check_json_depth",
    "iter_entries",
    "json_text",
]

Format = Literal["auto", "text", "csv", "json"]

_SNIFF_LIMIT = 64 * 1024  # bytes looked at to decide the format
# JSON is loaded whole: ~10 million short domains; text and CSV have no such bound.
MAX_JSON_BYTES = 256 * 1024 * 1024
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".json": "json",
    ".txt": "text",
    ".text": "text",
    ".lst": "text",
    ".list": "text",
}
_NEWLINE = re.compile(r"\r\n|\r|\n")  # the line ends TextIOWrapper's universal mode knows


def iter_entries(
    source: IO[bytes] | Iterable[bytes],
    *,
    fmt: Format = "auto",
    filename: str | None = None,
    column: str | None = None,
) -> Iterator[str]:
    """Yield the entries of ``source`` (a binary file object or an iterable of byte chunks).

    Chunks need not align with lines. ``column`` picks the CSV column to read (a header name or
    a 1-based number; see ``columns``) and makes auto-detected input CSV. Raises
    :class:`~domainbatch.errors.InputError` for a CSV without the domain column, ``column``
    given for text or JSON, malformed CSV, or JSON that is not a list of strings (or
    ``{"domains": [...]}``). Empty input yields nothing.
    """
    if fmt not in ("auto", "text", "csv", "json"):
        raise InputError(f"unknown input format {fmt!r}; use auto, text, csv or json")
    check_choice(column)
    chunks = chunks_of(source)
    head, chunks = peek(chunks, len(GZIP_MAGIC))
    if head.startswith(GZIP_MAGIC):
        chunks = gunzip(chunks)
        if filename and filename.lower().endswith(".gz"):
            filename = filename[:-3]
    if fmt == "auto":
        fmt = _format_from_name(filename) or "auto"
    if fmt == "auto":
        head, chunks = peek(chunks, _SNIFF_LIMIT, until_line=True)
        fmt = _sniff(head, csv_wanted=column is not None)
    if column is not None and fmt != "csv":
        raise InputError(
            f"a column to read was given ({column.strip()!r}) but the input is {fmt}: only CSV"
            " has columns"
        )
    if fmt == "json":
        return _json_entries(chunks)
    if fmt == "csv":
        return csv_entries(chunks, column)
    return _text_entries(chunks)


# --- formats --------------------------------------------------------------------------------


def _format_from_name(filename: str | None) -> Format | None:
    if not filename:
        return None
    dot = filename.rfind(".")
    return _EXTENSIONS.get(filename[dot:].lower()) if dot >= 0 else None


def _sniff(head: bytes, *, csv_wanted: bool = False) -> Format:
    """JSON if it starts like JSON; else CSV when a column was chosen or the first line is a
    header naming a known domain column; else text."""
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("utf-8-sig", errors="replace")
    text = text.lstrip()
    if text[:1] in ("[", "{"):
        return "json"
    if csv_wanted:
        return "csv"
    first = _NEWLINE.split(text, 1)[0].strip()  # CR alone ends a line too (classic Mac)
    if first.startswith("#"):
        return "text"
    try:
        return "csv" if header_index(first) is not None else "text"
    except InputError:  # not even a readable CSV header: text
        return "text"


def _text_entries(chunks: Iterator[bytes]) -> Iterator[str]:
    with text_stream(chunks, newline=None) as stream:
        for line in lines(stream):
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            for marker in (" #", "\t#"):  # a trailing comment
                cut = entry.find(marker)
                if cut >= 0:
                    entry = entry[:cut].rstrip()
            if entry:
                yield entry


def _bounded(chunks: Iterator[bytes], limit: int) -> bytes:
    """All of ``chunks``, refused past ``limit`` bytes: JSON is parsed whole, and a small gzip
    body can unpack to gigabytes."""
    taken: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise LimitExceededError(
                f"JSON input is larger than {limit:,} bytes once unpacked: send big batches as "
                "text or CSV, which are streamed"
            )
        taken.append(chunk)
    return b"".join(taken)


def _json_entries(chunks: Iterator[bytes]) -> Iterator[str]:
    text = json_text(_bounded(chunks, MAX_JSON_BYTES), subject="the input")
    if not text.strip():
        return iter(())
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InputError(f"the input is not valid JSON ({exc})") from None
    items = document.get("domains") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise InputError(
            'JSON input must be a list of strings or an object {"domains": [...]}'
            f" (got {type(document).__name__}"
            + (" without a 'domains' list)" if isinstance(document, dict) else ")")
        )
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(
                f"JSON item {index} is {type(item).__name__}, not a string: {str(item)[:60]!r}"
            )
    return iter(items)
