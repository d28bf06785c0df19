"""Text that phonenumbers reads as a valid number but that is not a phone.

A match (its raw text and where it sits in the page text) is refused when it is, or is
part of:

- a date, with or without a time: ``30.06.2024``, ``27.06.2018 09:54`` (the matcher stops
  at the colon and reads ``27.06.2018 09``), ``26 / 04 / 2020 03:44``, ``2020-04-26``;
- a list of figures separated by slashes (``701 / 8818 / 471 MB/sec``), or a figure grouped
  in thousands (``1,234,567``, ``1 234 567 890``);
- a dotted identifier: an OID (``1.3.101.110``), an IPv4 address, a version (``2.4.57.1``),
  or the tail of one (``v1.0.0-2125550123``);
- a number right after an identifier label (VAT / P.IVA / USt-IdNr / Steuernummer / SIRET
  / KvK / ABN / IBAN / ISBN / order / invoice / SKU / account / routing / version...), or
  a Chinese site licence (``苏ICP备2022026944号``, ``京公网安备 11010502030143号``);
- the head of a dotted number (``20180308.1.0``) or a host name (``0368119500.jp``).
"""

from __future__ import annotations

import re

LABEL_WINDOW = 24
DATE_WINDOW = 12  # characters either side of a match where the rest of a date may sit

_DATE = re.compile(
    r"^\s*(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}[./-]\d{1,2}[./-]\d{1,2})\s*$"
)
# A date anywhere in a stretch of text: day and month in either order, or year first; the
# two separators alike, a space allowed around each. Not inside a longer run of dotted or
# dashed digits (the French 06.12.34.56.78 holds no date).
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:\d{4}|\d{2})"
_SEPARATOR = r" ?([./-]) ?"
_DATE_IN_TEXT = re.compile(
    rf"(?<![\d./-])(?:{_DAY}{_SEPARATOR}{_MONTH} ?\1 ?{_YEAR}"
    rf"|{_MONTH}{_SEPARATOR}{_DAY} ?\2 ?{_YEAR}"
    rf"|\d{{4}}{_SEPARATOR}{_MONTH} ?\3 ?{_DAY})(?![./-]?\d)"
)
# Four or more dot-separated groups of 1-3 digits, one of them a single digit: an OID
# (1.3.101.110), an IPv4 address (192.168.1.1) or a version (2.4.57.1), not a phone number.
_DOTTED_IDENTIFIER = re.compile(r"^(?=.*(?:^|\.)\d(?:\.|$))\d{1,3}(?:\.\d{1,3}){3,}$")
# Thousands: commas, or (a billion and up, no trunk zero) dots or spaces. Shorter dotted or
# spaced groups of three are phones too often (the Spanish 912 345 678).
_THOUSANDS = re.compile(
    r"^(?:[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d{0,2}([. \u00a0])\d{3}(?:\1\d{3}){2,})$"
)
_IDENTIFIER_LABEL = re.compile(
    r"\b(?:p\.?\s?iva|vat(?:\s?(?:no|number|id|reg))?|ust-?id(?:nr)?|tax\s?id|siret|siren|kvk|abn|acn"
    r"|steuer-?(?:nummer|nr)|st-?nr|ein|cif|nif|iban|isbn|routing(?:\s?number)?|account(?:\s?number)?|order|invoice|sku|serial"
    r"|ref(?:erence)?|v(?:er(?:sion)?)?|rev(?:ision)?|build|firmware)\b[\s.:#-]*(?:n[or]\.?|number)?[\s.:#-]*$",
    re.I,
)
# Chinese sites must show their ICP licence and public-security registration numbers, which
# "\b" cannot delimit (CJK characters are word characters).
_LICENCE_LABEL = re.compile(r"(?:ICP|公网安)[备证]?\s*[:：]?\s*$", re.I)
# What follows a match that is the head of a dotted number or a host name: ".1", ".jp".
_DOTTED_HEAD = re.compile(r"\.(?:\d|[a-z]{2,}\b)")  # a lowercase TLD; ".Fax" is prose
# A match that starts right after "<digit>." continues a dotted number (1.0.0-2125550123).
_DOTTED_TAILS = frozenset(f"{digit}." for digit in "0123456789")


def _is_dotted_version(shape: str) -> bool:
    """Three or more dotted groups of digits, one after the first a single digit: a
    version such as ``20180308.1.0`` (``1.800.555.1234`` and ``06.12.34.56.78`` are phones)."""
    parts = shape.split(".")
    return (
        len(parts) >= 3 and all(p.isdigit() for p in parts) and any(len(p) == 1 for p in parts[1:])
    )


def _inside_date(text: str, start: int, end: int) -> bool:
    """Whether a date in ``text`` around ``start:end`` overlaps that span."""
    offset = max(0, start - DATE_WINDOW)
    for date in _DATE_IN_TEXT.finditer(text, offset, end + DATE_WINDOW):
        if date.start() < end and date.end() > start:
            return True
    return False


def is_lookalike(raw: str, text: str, start: int) -> bool:
    """Whether the match ``raw``, found at ``start`` in ``text``, is not a phone."""
    shape = raw.strip()
    return bool(
        _DATE.match(raw)
        or _DOTTED_IDENTIFIER.match(shape)
        or _is_dotted_version(shape)
        or _THOUSANDS.match(shape)
        or shape.count("/") >= 2
        or text[max(0, start - 2) : start] in _DOTTED_TAILS
        or _IDENTIFIER_LABEL.search(text[max(0, start - LABEL_WINDOW) : start])
        or _LICENCE_LABEL.search(text[max(0, start - LABEL_WINDOW) : start])
        or _DOTTED_HEAD.match(text, start + len(raw))
        or _inside_date(text, start, start + len(raw))
    )
