"""Gzip input, unpacked on the fly: every member of the stream, in bounded pieces."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from domainbatch.core.streams import CHUNK
from domainbatch.errors import InputError

__all__ = ["GZIP_MAGIC", "gunzip"]

GZIP_MAGIC = b"\x1f\x8b"


def gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Inflate a gzip stream: every member in turn, output in pieces of at most ``CHUNK``
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
                    if members and not GZIP_MAGIC.startswith(data[:2]):
                        raise InputError(
                            f"unexpected bytes after the gzip data (at byte {offset:,}):"
                            " neither another gzip member nor zero padding"
                        )
                    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                    members += 1
                out = inflater.decompress(data, CHUNK)
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
                if not data and len(out) < CHUNK:  # all input in, no output held back
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
