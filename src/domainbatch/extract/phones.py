"""Phone numbers in E.164: ``tel:`` links, JSON-LD and visible text (phonenumbers).

Only numbers phonenumbers considers *valid* for their region are kept, which filters out
most prices and reference numbers. Text is scanned with ``Leniency.VALID`` over a bounded
prefix; numbers without a ``+`` prefix are read in ``default_region``. Two guards drop
what is valid but still not a phone: text matches shaped like dates (``30.06.2024``,
``2024-01-15``), and numbers right after an identifier label (VAT / P.IVA / USt-IdNr /
Steuernummer / SIRET / KvK / ABN / IBAN / ISBN / order / invoice / SKU / account / routing...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

import phonenumbers

from domainbatch.extract.document import Document

MAX_PHONES = 25
MAX_TEXT_CHARS = 100_000
MAX_MATCHER_TRIES = 200
MAX_TEXT_MATCHES = 200
LABEL_WINDOW = 24

_DATE = re.compile(
    r"^\s*(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}[./-]\d{1,2}[./-]\d{1,2})\s*$"
)
_IDENTIFIER_LABEL = re.compile(
    r"\b(?:p\.?\s?iva|vat(?:\s?(?:no|number|id|reg))?|ust-?id(?:nr)?|tax\s?id|siret|siren|kvk|abn|acn"
    r"|steuer-?(?:nummer|nr)|st-?nr|ein|cif|nif|iban|isbn|routing(?:\s?number)?|account(?:\s?number)?|order|invoice|sku|serial"
    r"|ref(?:erence)?)\b[\s.:#-]*(?:n[or]\.?|number)?[\s.:#-]*$",
    re.I,
)


def normalize_region(region: str | None) -> str:
    """An ISO 3166 alpha-2 region phonenumbers knows, or ``"ZZ"`` (international only)."""
    code = (region or "").strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else "ZZ"


def parse_phone(raw: str, region: str) -> str | None:
    """``raw`` as an E.164 string when it is a valid number, else None."""
    raw = raw.strip()[:64]
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _tel_targets(doc: Document) -> list[str]:
    targets: list[str] = []
    for href in doc.anchor_hrefs:
        if href[:4].lower() == "tel:":
            targets.append(unquote(href[4:]).split(";", 1)[0])
    return targets


def find_phones(doc: Document, region: str, extra: Iterable[str | None] = ()) -> list[str]:
    region = normalize_region(region)
    found: list[str] = []

    def add(e164: str | None) -> bool:
        if e164 and e164 not in found:
            found.append(e164)
        return len(found) < MAX_PHONES

    for raw in [*_tel_targets(doc), *(value for value in extra if value)][:MAX_TEXT_MATCHES]:
        if not add(parse_phone(raw, region)):
            return found
    text = doc.visible_text[:MAX_TEXT_CHARS]
    matcher = phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.VALID, max_tries=MAX_MATCHER_TRIES
    )
    for count, match in enumerate(matcher):
        if count >= MAX_TEXT_MATCHES:
            break
        if _DATE.match(match.raw_string):
            continue
        if _IDENTIFIER_LABEL.search(text[max(0, match.start - LABEL_WINDOW) : match.start]):
            continue
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        if not add(str(e164)):
            break
    return found
