"""Decoding a response body to text: BOM, declared charset, then a UTF-8 / windows-1252 sniff.

Order (as in the WHATWG encoding sniffing algorithm): a byte order mark wins; then the
``charset`` of the Content-Type header; then a ``<meta charset>`` or ``<meta http-equiv>``
declaration in the first bytes; else the body is sniffed. Declarations are checked against
the bytes because they are often wrong:

* labels are mapped as browsers do (``iso-8859-1``/``ascii`` mean windows-1252, ``shift_jis``
  means cp932, ``gb2312``/``gbk`` mean gb18030); unknown or unsafe labels are ignored;
* a page declared single-byte Western (windows-1252) whose bytes are valid UTF-8 with
  non-ASCII characters is decoded as UTF-8;
* a page declared (or sniffed as) UTF-8 with more than a few invalid sequences is decoded
  as windows-1252;
* any other declared charset that does not decode cleanly falls back to UTF-8 when the bytes
  are valid UTF-8, else to the declared charset with replacement characters.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

MAX_BODY_BYTES = 3 * 1024 * 1024
PRESCAN_BYTES = 4_096

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ALIASES = {
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "l1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "windows-1252": "cp1252",
    "x-user-defined": "cp1252",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
    "utf8mb4": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
# Codecs that are not ASCII-compatible page encodings, or that can produce surrogates.
_REFUSED = {
    "utf-7",
    "idna",
    "punycode",
    "raw-unicode-escape",
    "unicode-escape",
    "undefined",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "utf-32-le",
    "utf-32-be",
}
_WESTERN_SINGLE_BYTE = {"cp1252", "iso8859-15", "iso8859-1"}
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:()+-]{1,40})""", re.I)
_META_CHARSET = re.compile(
    rb"""<meta\s[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:()+-]{1,40})""", re.I
)


@dataclass(frozen=True)
class DecodedBody:
    text: str
    charset: str
    source: str  # "bom" | "header" | "meta" | "detected"
    truncated: bool


def decode_body(body: bytes, content_type: str | None) -> DecodedBody:
    """``body`` as text, with the codec used and where its choice came from.

    The bytes are decoded once per codec tried: a strict UTF-8 decoding that succeeds is
    the text (a lenient one would give the same), not a check followed by a second pass.
    """
    truncated = len(body) > MAX_BODY_BYTES
    data = bytes(body[:MAX_BODY_BYTES])
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return DecodedBody(_decode(data[len(bom) :], codec, truncated), codec, "bom", truncated)
    declared, source = _declared_codec(data, content_type)
    if declared is None:
        codec, text = _sniff(data, truncated, _utf8_text(data, truncated))
        return DecodedBody(text, codec, "detected", truncated)
    western = declared in _WESTERN_SINGLE_BYTE
    needs_utf8 = declared == "utf-8" or (western and not data.isascii())
    utf8 = _utf8_text(data, truncated) if needs_utf8 else None
    if declared == "utf-8" or (western and utf8 is not None and not data.isascii()):
        codec, text = _sniff(data, truncated, utf8)
        source = source if codec == declared else "detected"
        return DecodedBody(text, codec, source, truncated)
    try:
        text = _decoder(declared).decode(data, final=not truncated)
        return DecodedBody(text, declared, source, truncated)
    except UnicodeError:
        pass
    if not needs_utf8:
        utf8 = _utf8_text(data, truncated)
    if utf8 is not None:
        return DecodedBody(utf8, "utf-8", "detected", truncated)
    return DecodedBody(_decode(data, declared, truncated), declared, source, truncated)


def codec_for_label(label: str) -> str | None:
    """The Python codec browsers would use for a charset label, or None if unknown/unsafe."""
    key = label.strip().strip("\"'").lower()
    key = _ALIASES.get(key, key)
    try:
        name = codecs.lookup(key).name
        b"a".decode(name)  # text encodings only: rot13, base64, zlib... raise LookupError
    except (LookupError, ValueError, UnicodeError):
        return None
    name = _ALIASES.get(name, name)
    return None if name in _REFUSED else name


def _declared_codec(data: bytes, content_type: str | None) -> tuple[str | None, str]:
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        if match and (codec := codec_for_label(match.group(1))):
            return codec, "header"
    meta = _META_CHARSET.search(data[:PRESCAN_BYTES])
    if meta and (codec := codec_for_label(meta.group(1).decode("ascii", "replace"))):
        return codec, "meta"
    return None, ""


def _decoder(codec: str) -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder(codec)(errors="strict")


def _decode(data: bytes, codec: str, truncated: bool) -> str:
    try:
        decoder = codecs.getincrementaldecoder(codec)(errors="replace")
        return decoder.decode(data, final=not truncated)
    except (LookupError, UnicodeError):
        return data.decode("cp1252", errors="replace")


def _utf8_text(data: bytes, truncated: bool) -> str | None:
    """``data`` decoded as strict UTF-8 (a cut last sequence held back), or None."""
    try:
        return _decoder("utf-8").decode(data, final=not truncated)
    except UnicodeError:
        return None


def _sniff(data: bytes, truncated: bool, utf8: str | None) -> tuple[str, str]:
    """(codec, text): UTF-8 unless invalid sequences outnumber a tenth of the valid
    non-ASCII characters, then windows-1252. ``utf8``: the strict UTF-8 decoding, or None
    when the bytes are not valid UTF-8."""
    if utf8 is not None:
        return "utf-8", utf8
    text = _decode(data, "utf-8", truncated)
    invalid = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    valid = non_ascii - invalid
    if invalid * 10 <= valid:
        return "utf-8", text
    return "cp1252", _decode(data, "cp1252", truncated)
