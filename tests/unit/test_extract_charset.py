"""Charset detection and decoding."""

from __future__ import annotations

import codecs

import pytest

from domainbatch.extract.charset import MAX_BODY_BYTES, codec_for_label, decode_body


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf-8", "utf-8"),
        ("UTF8", "utf-8"),
        ('"utf-8"', "utf-8"),
        ("utf8mb4", "utf-8"),
        ("ISO-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("windows-1252", "cp1252"),
        ("Shift_JIS", "cp932"),
        ("gb2312", "gb18030"),
        ("euc-kr", "cp949"),
        ("koi8-r", "koi8-r"),
        ("rot13", None),
        ("base64", None),
        ("utf-7", None),
        ("unicode_escape", None),
        ("utf-16", None),
        ("no-such-charset", None),
        ("", None),
    ],
)
def test_codec_for_label(label: str, codec: str | None) -> None:
    assert codec_for_label(label) == codec


def test_bom_wins_over_header() -> None:
    decoded = decode_body(codecs.BOM_UTF8 + "Grüße".encode(), "text/html; charset=iso-8859-1")
    assert (decoded.text, decoded.charset, decoded.source) == ("Grüße", "utf-8", "bom")


def test_utf16_bom() -> None:
    decoded = decode_body(codecs.BOM_UTF16_BE + "<p>Ω</p>".encode("utf-16-be"), None)
    assert (decoded.text, decoded.charset, decoded.source) == ("<p>Ω</p>", "utf-16-be", "bom")


def test_header_charset() -> None:
    decoded = decode_body("Привет".encode("koi8-r"), "text/html; charset=KOI8-R")
    assert (decoded.text, decoded.charset, decoded.source) == ("Привет", "koi8-r", "header")


def test_meta_charset_when_header_has_none() -> None:
    body = b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">\x93q\x94'
    decoded = decode_body(body, "text/html")
    assert decoded.charset == "cp1252"
    assert decoded.source == "meta"
    assert decoded.text.endswith("“q”")


def test_declared_utf8_but_cp1252_bytes() -> None:
    decoded = decode_body("Café Müller".encode("cp1252"), "text/html; charset=utf-8")
    assert (decoded.text, decoded.charset, decoded.source) == ("Café Müller", "cp1252", "detected")


def test_one_stray_byte_in_utf8_keeps_utf8() -> None:
    body = ("Grüße aus Köln, schöne Straße " * 5).encode() + b"\xff"
    decoded = decode_body(body, "text/html; charset=utf-8")
    assert decoded.charset == "utf-8"
    assert decoded.text.endswith("\ufffd")


def test_declared_latin1_but_utf8_bytes() -> None:
    decoded = decode_body("São Paulo".encode(), "text/html; charset=iso-8859-1")
    assert (decoded.text, decoded.charset, decoded.source) == ("São Paulo", "utf-8", "detected")


def test_declared_multibyte_charset_that_fails_falls_back_to_utf8() -> None:
    decoded = decode_body("東京 ✓".encode(), "text/html; charset=shift_jis")
    assert (decoded.text, decoded.charset) == ("東京 ✓", "utf-8")


def test_no_declaration_ascii() -> None:
    decoded = decode_body(b"<p>hi</p>", None)
    assert (decoded.text, decoded.charset, decoded.source) == ("<p>hi</p>", "utf-8", "detected")


def test_truncation_keeps_text_decodable() -> None:
    body = "é".encode() * (MAX_BODY_BYTES // 2 + 10)  # the cut falls on a character boundary
    odd = b"a" + body  # ... and here in the middle of one
    for data in (body, odd):
        decoded = decode_body(data, "text/html; charset=utf-8")
        assert decoded.truncated
        assert decoded.charset == "utf-8"
        assert "\ufffd" not in decoded.text
