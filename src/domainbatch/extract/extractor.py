"""``extract``: one page (URL, headers, body bytes) in, a JSON-ready dict out. Never raises.

The result always has every key below, in this order (plain dict/list/str/bool/None):

``title``, ``description``, ``language`` (BCP 47, ``en-US``), ``canonical_url`` (absolute),
``favicon_url`` (absolute; ``/favicon.ico`` on the page's origin when none is declared),
``favicon_declared`` (bool), ``charset`` (Python codec used), ``charset_source``
(``bom`` | ``header`` | ``meta`` | ``detected``), ``opengraph`` / ``twitter`` ({field without
prefix: first value}), ``jsonld`` ({``organization``: {name, url, logo, same_as,
telephone, email, contact_points: [{telephone, email, contact_type}]} | None,
``website``: {name, url} | None}), ``emails`` (lowercased, first seen first), ``phones``
(E.164), ``socials`` ({facebook, x, linkedin, instagram, youtube, tiktok, github,
pinterest: [canonical profile URLs]}), ``technologies`` ([{name, category, version}] by
name), ``truncated`` (the body exceeded a bound and only its start was read), ``errors``.

Each step runs on its own: a step that fails leaves its fields at their empty values and
records ``"<step>: <ExceptionType>: <message>"`` in ``errors`` (an empty list means a
clean run), so one bad field never costs the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from domainbatch.extract.document import Document
from domainbatch.extract.emails import find_emails
from domainbatch.extract.fingerprint_table import FingerprintTable
from domainbatch.extract.jsonld import extract_jsonld
from domainbatch.extract.metadata import extract_metadata
from domainbatch.extract.phones import find_phones
from domainbatch.extract.region import page_region
from domainbatch.extract.socials import PLATFORM_KEYS, find_socials
from domainbatch.extract.technologies import detect_technologies

MAX_ERROR_CHARS = 300


def empty_result() -> dict[str, Any]:
    """The result with every key present and empty: the shape of every answer."""
    return {
        "title": None,
        "description": None,
        "language": None,
        "canonical_url": None,
        "favicon_url": None,
        "favicon_declared": False,
        "charset": None,
        "charset_source": None,
        "opengraph": {},
        "twitter": {},
        "jsonld": {"organization": None, "website": None},
        "emails": [],
        "phones": [],
        "socials": {key: [] for key in PLATFORM_KEYS},
        "technologies": [],
        "truncated": False,
        "errors": [],
    }


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8", errors="replace")
    return b""


def _json_safe(value: Any) -> Any:
    """``value`` with lone surrogates replaced, so that any JSON encoder accepts it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", errors="replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def _organization_values(result: dict[str, Any], field: str) -> list[str | None]:
    organization = result["jsonld"].get("organization") or {}
    values: list[str | None] = [organization.get(field)]
    values.extend(point.get(field) for point in organization.get("contact_points", []))
    return values


def _contacts(doc: Document, result: dict[str, Any], region: str, infer_region: bool) -> None:
    result["emails"] = find_emails(doc, _organization_values(result, "email"))
    if infer_region:
        region = page_region(doc, result["language"]) or region
    result["phones"] = find_phones(doc, region, _organization_values(result, "telephone"))


def _socials(doc: Document, result: dict[str, Any]) -> None:
    organization = result["jsonld"].get("organization") or {}
    result["socials"] = find_socials(doc, organization.get("same_as", []))


def _technologies(doc: Document, result: dict[str, Any], table: FingerprintTable | None) -> None:
    result["technologies"] = detect_technologies(doc, table)


def _record(result: dict[str, Any], step: str, exc: BaseException) -> None:
    result["errors"].append(f"{step}: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])


def extract(
    url: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    *,
    default_region: str = "US",
    infer_region: bool = False,
    fingerprints: FingerprintTable | None = None,
) -> dict[str, Any]:
    """Everything we extract from one HTML page. Pure, bounded in time, never raises.

    Phone numbers without a country code are read in ``default_region``; with
    ``infer_region``, in the page's own region when it tells one (``extract.region``), and in
    ``default_region`` only when it does not. ``fingerprints`` is the technology table
    (``extract.wappalyzer.load_table``); ours by default.
    """
    result = empty_result()
    try:
        doc = Document(url, headers, _as_bytes(body))
    except Exception as exc:
        _record(result, "parse", exc)
        return result
    result["charset"] = doc.charset
    result["charset_source"] = doc.charset_source
    result["truncated"] = doc.truncated
    steps: tuple[tuple[str, Callable[[Document, dict[str, Any]], None]], ...] = (
        ("metadata", extract_metadata),
        ("jsonld", extract_jsonld),
        ("contacts", lambda d, r: _contacts(d, r, default_region, infer_region)),
        ("socials", _socials),
        ("technologies", lambda d, r: _technologies(d, r, fingerprints)),
    )
    for step, run in steps:
        try:
            run(doc, result)
        except Exception as exc:
            _record(result, step, exc)
    try:
        orjson.dumps(result)  # the usual case: already valid (no lone surrogates)
        return result
    except orjson.JSONEncodeError:
        pass
    try:
        safe: dict[str, Any] = _json_safe(result)
        return safe
    except Exception as exc:  # pragma: no cover - _json_safe handles every type it builds
        fallback = empty_result()
        _record(fallback, "serialize", exc)
        return fallback
