"""Reading batch input: text, CSV or JSON bytes in, a lazy stream of entry strings out.

Text and CSV are streamed (memory stays flat with the input's size); JSON is for small request
bodies and is loaded whole, and refused if nested deeper than ``MAX_JSON_DEPTH`` (no parser
recursion is ever reached). Text and CSV bytes are decoded as UTF-8 (a UTF-8 or UTF-16
byte-order mark is honoured) with ``errors="replace"``, so undecodable bytes become U+FFFD and
the normalizer rejects that entry with a reason instead of the whole input failing. Gzip input
is unpacked on the fly, every member of it; a truncated or corrupt gzip stream raises
``InputError`` when the reader gets there, so callers that store entries must do so in one
transaction (batch creation does). Entries come out as written (trimmed); normalization is
someone else's job.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
import zlib
from array import array
from collections.abc import Iterable, Iterator
from typing import IO, Literal

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

HEADER_NAMES = ("domain", "url", "website")  # CSV column names, by preference
_CHUNK = 64 * 1024
_SNIFF_LIMIT = 64 * 1024  # bytes looked at to decide the format
_MAX_LINE = 64 * 1024  # characters; a longer text line is cut (and will be invalid)
_MAX_CSV_FIELD = 1024 * 1024
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
_GZIP_MAGIC = b"\x1f\x8b"
_NEWLINE = re.compile(r"\r\n|\r|\n")  # the line ends TextIOWrapper's universal mode knows
MAX_JSON_DEPTH = 64  # arrays/objects; a batch needs 2 (see check_json_depth)


def iter_entries(
    source: IO[bytes] | Iterable[bytes],
    *,
    fmt: Format = "auto",
    filename: str | None = None,
) -> Iterator[str]:
    """Yield the entries of ``source`` (a binary file object or an iterable of byte chunks).

    Chunks need not align with lines. Raises :class:`~domainbatch.errors.InputError` for a CSV
    without a ``domain``/``url``/``website`` column, malformed CSV, or JSON that is not a list
    of strings (or ``{"domains": [...]}``). Empty input yields nothing.
    """
    if fmt not in ("auto", "text", "csv", "json"):
        raise InputError(f"unknown input format {fmt!r}; use auto, text, csv or json")
    chunks = _chunks(source)
    head, chunks = _peek(chunks, len(_GZIP_MAGIC))
    if head.startswith(_GZIP_MAGIC):
        chunks = _gunzip(chunks)
        if filename and filename.lower().endswith(".gz"):
            filename = filename[:-3]
    if fmt == "auto":
        fmt = _format_from_name(filename) or "auto"
    if fmt == "auto":
        head, chunks = _peek(chunks, _SNIFF_LIMIT, until_line=True)
        fmt = _sniff(head)
    if fmt == "json":
        return _json_entries(chunks)
    if fmt == "csv":
        return _csv_entries(chunks)
    return _text_entries(chunks)


# --- bytes plumbing -------------------------------------------------------------------------


def _chunks(source: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(source, "read", None)
    raw: Iterable[bytes | bytearray | memoryview | str]
    raw = iter(lambda: read(_CHUNK), b"") if callable(read) else source
    for chunk in raw:
        if isinstance(chunk, str):  # a text-mode file or str chunks: be forgiving
            if not chunk:
                break
            yield chunk.encode("utf-8")
        elif chunk:
            yield bytes(chunk)


def _peek(
    chunks: Iterator[bytes], size: int, *, until_line: bool = False
) -> tuple[bytes, Iterator[bytes]]:
    """Read ahead at least ``size`` bytes (or, with ``until_line``, up to the first newline
    after non-blank content); return them and an iterator that still yields everything."""
    taken: list[bytes] = []
    total = 0
    for chunk in chunks:
        taken.append(chunk)
        total += len(chunk)
        if total >= size:
            break
        if until_line:
            head = b"".join(taken).lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
            if b"\n" in head:
                break
    head = b"".join(taken)
    return head, itertools.chain([head] if head else [], chunks)


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Inflate a gzip stream: every member in turn, output in pieces of at most ``_CHUNK``
    bytes (memory stays flat whatever the compression ratio).

    The stream must be whole: a member cut short raises :class:`InputError` rather than ending
    the input early, so a truncated upload can never become a silently shorter batch. Zero bytes
    between or after members are skipped (padding, as Python's ``gzip`` module and gzip(1)
    allow); any other bytes after a complete member must start another member, else the input
    is refused (gzip(1) would only warn "trailing garbage ignored", but bytes we cannot read
    are better reported than dropped).
    """
    inflater: zlib._Decompress | None = None  # the current member's; None between members
    members = 0
    offset = 0  # compressed bytes consumed so far, for the error messages
    try:
        for chunk in chunks:
            data = chunk
            while True:
                if inflater is None:
                    stripped = data.lstrip(b"\0")
                    offset += len(data) - len(stripped)
                    data = stripped
                    if not data:
                        break
                    if members and not _GZIP_MAGIC.startswith(data[:2]):
                        raise InputError(
                            f"unexpected bytes after the gzip data (at byte {offset:,}):"
                            " neither another gzip member nor zero padding"
                        )
                    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                    members += 1
                out = inflater.decompress(data, _CHUNK)
                if out:
                    yield out
                if inflater.eof:  # the member and its CRC/size trailer are complete
                    rest = inflater.unused_data
                    offset += len(data) - len(rest)
                    data, inflater = rest, None
                    continue
                rest = inflater.unconsumed_tail
                offset += len(data) - len(rest)
                data = rest
                if not data and len(out) < _CHUNK:  # all input in, no output held back
                    break
    except zlib.error as exc:
        raise InputError(
            f"the input is not valid gzip data ({exc}, near byte {offset:,})"
        ) from None
    if inflater is not None:
        raise InputError(
            f"the gzip data is truncated: it ends inside member {members}, after {offset:,}"
            " compressed bytes (the file is incomplete: copy or compress it again)"
        )


class _ChunkReader(io.RawIOBase):
    """A read-only raw stream over an iterator of byte chunks (for TextIOWrapper)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _text_stream(chunks: Iterator[bytes], *, newline: str | None) -> io.TextIOWrapper:
    head, chunks = _peek(chunks, 2)
    encoding = "utf-16" if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
    buffered = io.BufferedReader(_ChunkReader(chunks), buffer_size=_CHUNK)
    return io.TextIOWrapper(buffered, encoding=encoding, errors="replace", newline=newline)


def _lines(stream: io.TextIOWrapper) -> Iterator[str]:
    """Lines without their newline; an over-long line is cut at ``_MAX_LINE`` characters."""
    while True:
        line = stream.readline(_MAX_LINE)
        if not line:
            return
        if line.endswith("\n"):
            yield line[:-1]
            continue
        yield line
        while line and not line.endswith("\n"):  # skip the rest of an over-long line
            line = stream.readline(_MAX_LINE)


# --- formats --------------------------------------------------------------------------------


def _format_from_name(filename: str | None) -> Format | None:
    if not filename:
        return None
    dot = filename.rfind(".")
    return _EXTENSIONS.get(filename[dot:].lower()) if dot >= 0 else None


def _sniff(head: bytes) -> Format:
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("utf-8-sig", errors="replace")
    text = text.lstrip()
    if text[:1] in ("[", "{"):
        return "json"
    first = _NEWLINE.split(text, 1)[0].strip()  # CR alone ends a line too (classic Mac)
    if first.startswith("#"):
        return "text"
    try:
        return "csv" if _header_index(first) is not None else "text"
    except InputError:  # not even a readable CSV header: text
        return "text"


def _split_header(line: str) -> tuple[list[str], str]:
    """Split a header line on its most plausible delimiter (comma, semicolon or tab)."""
    try:
        for delimiter in (",", ";", "\t"):
            if delimiter in line:
                cells = next(csv.reader([line], delimiter=delimiter), [])
                if _pick_column(cells) is not None:
                    return cells, delimiter
        return next(csv.reader([line]), []), ","
    except csv.Error as exc:  # e.g. a cell over the csv module's field limit
        raise InputError(f"malformed CSV header line: {exc}") from None


def _pick_column(cells: list[str]) -> int | None:
    names = [cell.strip().strip('"').strip().lower() for cell in cells]
    for wanted in HEADER_NAMES:
        if wanted in names:
            return names.index(wanted)
    return None


def _header_index(line: str) -> int | None:
    return _pick_column(_split_header(line)[0]) if line else None


def _text_entries(chunks: Iterator[bytes]) -> Iterator[str]:
    with _text_stream(chunks, newline=None) as stream:
        for line in _lines(stream):
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            for marker in (" #", "\t#"):  # a trailing comment
                cut = entry.find(marker)
                if cut >= 0:
                    entry = entry[:cut].rstrip()
            if entry:
                yield entry


def _csv_entries(chunks: Iterator[bytes]) -> Iterator[str]:
    """Read and check the header now (so a bad CSV fails at once); stream the rows lazily."""
    stream = _text_stream(chunks, newline="")
    lines = _lines_with_newlines(stream)
    try:
        header_line = next((line for line in lines if line.strip()), None)
        if header_line is None:
            stream.close()
            return iter(())
        cells, delimiter = _split_header(header_line.strip("\r\n"))
        column = _pick_column(cells)
        if column is None:
            found = ", ".join(repr(c.strip()) for c in cells[:20]) or "none"
            raise InputError(
                "the CSV has no 'domain', 'url' or 'website' column "
                f"(columns found: {found}); add a header row naming the domain column"
            )
    except BaseException:
        stream.close()
        raise
    return _csv_rows(stream, lines, column, delimiter)


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


# --- JSON text, shared with the API's JSON bodies ---------------------------------------------

# Outside strings, only brackets matter for depth: a string (its closing quote may be missing
# in broken input) or a run of anything else is dropped in one C-speed pass.
_NOT_NESTING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|[^"\[\]{}]++', re.DOTALL)
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1, +1, -1, -1 as signed bytes


def json_text(data: bytes, *, subject: str) -> str:
    """JSON bytes as text, refused with :class:`InputError` unless they are UTF-8 (with or
    without a byte-order mark) or UTF-16/UTF-32 (detected as ``json.loads`` does) and nested at
    most ``MAX_JSON_DEPTH`` levels (see :func:`check_json_depth`)."""
    try:
        text = data.decode(json.detect_encoding(data))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{subject} is not valid JSON text: not UTF-8, UTF-16 or UTF-32 ({exc.reason} at"
            f" byte {exc.start:,})"
        ) from None
    check_json_depth(text, subject=subject)
    return text


def check_json_depth(text: str, *, subject: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` arrays/objects before any parser sees it.

    The stdlib parser recurses once per level and ends in ``RecursionError`` near 1,000 levels;
    orjson and pydantic stop at fixed depths (1,024 and 200) with messages that name no limit.
    A batch needs two levels (``{"domains": [...]}``), so a small explicit bound costs nothing
    legitimate and gives one clear error on every path. Memory and time are linear in the text.
    """
    if text.count("[") + text.count("{") <= limit:  # the usual case (milliseconds for 1M)
        return
    nesting = _NOT_NESTING.sub("", text)  # about 1 µs per string: only for bracket-rich text
    steps = array("b", nesting.encode("ascii").translate(_DEPTH_STEP))
    if max(itertools.accumulate(steps), default=0) > limit:
        raise InputError(
            f"{subject} is JSON nested deeper than {limit} levels; at most {limit} levels of"
            " arrays and objects are accepted"
        )
