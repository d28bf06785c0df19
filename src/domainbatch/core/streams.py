"""Bytes plumbing shared by the input readers: chunks from a file or an iterable, reading ahead
without losing anything, and a text stream over chunks (UTF-8, or UTF-16 with its byte-order
mark; undecodable bytes become U+FFFD)."""

from __future__ import annotations

import codecs
import io
import itertools
from collections.abc import Iterable, Iterator
from typing import IO

__all__ = ["CHUNK", "MAX_LINE", "chunks_of", "lines", "peek", "text_stream"]

CHUNK = 64 * 1024
MAX_LINE = 64 * 1024  # characters; a longer text line is cut (and will be invalid)


def chunks_of(source: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(source, "read", None)
    raw: Iterable[bytes | bytearray | memoryview | str]
    raw = iter(lambda: read(CHUNK), b"") if callable(read) else source
    for chunk in raw:
        if isinstance(chunk, str):  # a text-mode file or str chunks: be forgiving
            if not chunk:
                break
            yield chunk.encode("utf-8")
        elif chunk:
            yield bytes(chunk)


def peek(
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


def text_stream(chunks: Iterator[bytes], *, newline: str | None) -> io.TextIOWrapper:
    head, chunks = peek(chunks, 2)
    encoding = "utf-16" if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
    buffered = io.BufferedReader(_ChunkReader(chunks), buffer_size=CHUNK)
    return io.TextIOWrapper(buffered, encoding=encoding, errors="replace", newline=newline)


def lines(stream: io.TextIOWrapper) -> Iterator[str]:
    """Lines without their newline; an over-long line is cut at ``MAX_LINE`` characters."""
    while True:
        line = stream.readline(MAX_LINE)
        if not line:
            return
        if line.endswith("\n"):
            yield line[:-1]
            continue
        yield line
        while line and not line.endswith("\n"):  # skip the rest of an over-long line
            line = stream.readline(MAX_LINE)
