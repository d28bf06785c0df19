"""What the dashboard's pages show of stored values: links that are safe to follow, a domain's
result as a card, and which form field a refused batch points at.

Results come from hostile sites: Jinja escapes every value, and a value becomes a link only
through ``web_link``, ``mailto`` or ``tel``, which keep ``http(s)``, plain addresses and plain
numbers and drop everything else (``javascript:``, ``data:``...), which is then shown as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.inputs import iter_entries
from domainbatch.errors import (
    DomainbatchError,
    InputError,
    InvalidOptionsError,
    ProcessorNotFoundError,
)

# Keys the homepage card shows in its own sections; anything else is listed under "Other".
CARD_KEYS = frozenset(
    {"final_url", "status_code", "extracted", "addresses", "mx", "accepts_mail", "remote_address"}
)
EMAIL = re.compile(r"[^\s@<>\"'`:/\\]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{2,30}")
MAX_URL_CHARS = 2048


def web_link(value: Any) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host, else None (shown as text)."""
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(ord(c) < 0x21 for c in text):  # control characters or spaces inside a URL
        return None
    return text


def mailto(value: Any) -> str | None:
    if isinstance(value, str) and EMAIL.fullmatch(value.strip()):
        return "mailto:" + quote(value.strip(), safe="@.+-_")
    return None


def tel(value: Any) -> str | None:
    if isinstance(value, str) and PHONE.fullmatch(value.strip()):
        return "tel:" + re.sub(r"[^0-9+]", "", value)
    return None


def homepage_like(result: Any) -> bool:
    """A result the card can show: the homepage processor's (or one shaped like it)."""
    return isinstance(result, Mapping) and isinstance(result.get("extracted"), Mapping)


def socials(extracted: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    found = extracted.get("socials")
    if not isinstance(found, Mapping):
        return []
    return [(str(name), urls) for name, urls in found.items() if isinstance(urls, list) and urls]


def other_fields(result: Any) -> list[tuple[str, Any]]:
    """The top-level fields a card does not show: all of them for other processors (dns, noop,
    plugins), in the order stored."""
    if not isinstance(result, Mapping):
        return []
    shown = CARD_KEYS if homepage_like(result) else frozenset({"addresses", "mx", "accepts_mail"})
    return [(str(k), v) for k, v in result.items() if k not in shown]


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def field_of(error: DomainbatchError, *, stage: str, uploaded: bool) -> str:
    """The form field a refused batch points at: ``options`` while parsing them, the
    processor or its options when the service refuses them, else the file or the list."""
    if stage == "options" or isinstance(error, InvalidOptionsError):
        return "options"
    if isinstance(error, ProcessorNotFoundError):
        return "processor"
    if uploaded:
        return "file"
    return "domains"


def check_pasted(pasted: str, normalizer: DomainNormalizer) -> None:
    """Refuse a pasted list without one valid domain: the API stores such a batch (it ends
    ``failed``, every entry with its reason), but someone at the form wants to fix the list.
    Stops at the first valid entry; an empty list is left to the service (``empty_batch``)."""
    reasons: list[str] = []
    for entry in iter_entries([pasted.encode()], fmt="text"):
        found = normalizer.normalize(entry)
        if found.valid:
            return
        if len(reasons) < 3:
            reasons.append(f"{entry[:60]!r}: {found.reason}")
    if reasons:
        raise InputError("no valid domain in the list (" + "; ".join(reasons) + ")")


def segments(counts: Mapping[str, int], total: int) -> list[tuple[str, str]]:
    """The stacked progress bar: succeeded, failed (with invalid) and cancelled shares of
    ``total`` in percent, so an ended batch's bar says how it went, not only that it ended."""
    shares = {
        "succeeded": counts.get("succeeded", 0),
        "failed": counts.get("failed", 0) + counts.get("invalid", 0),
        "cancelled": counts.get("cancelled", 0),
    }
    return [(name, f"{n * 100 / total:.2f}" if total else "0") for name, n in shares.items()]


def rate(value: float | None) -> str:
    """Domains a second as the batch page shows it (app.js formats live updates the same way)."""
    return "-" if value is None else f"{value:.2f}"


def pretty(value: Any) -> str:
    """Raw JSON for people: indented, non-ASCII as is (the page escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
