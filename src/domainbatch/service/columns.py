"""The flat export's columns: one per field a user wants in a sheet, each with a type (CSV
formats it as text, Parquet stores it typed), read from a ``DomainRecord`` and its result.

The homepage processor's fields have columns of their own (multi-values are lists); the dns
processor's ``addresses``, ``mx`` and ``accepts_mail`` share theirs. A result with any other
top-level field (``noop``, a user's plugin) is kept whole as JSON in the ``result`` column, so
nothing a processor returns is lost; the complete record of every processor is the JSONL export.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from domainbatch.core.models import DomainRecord
from domainbatch.errors import InvalidFieldsError

Kind = Literal["text", "int", "float", "bool", "list", "time"]

# The networks ``extract.socials`` knows, in its order (a unit test keeps them equal; importing
# the extractor here would load its HTML libraries into every CLI start).
SOCIAL_NETWORKS = (
    "facebook",
    "x",
    "linkedin",
    "instagram",
    "youtube",
    "tiktok",
    "github",
    "pinterest",
)
# The top-level keys of a homepage result: a result with only these needs no ``result`` column.
HOMEPAGE_KEYS = frozenset(
    {
        "url",
        "final_url",
        "status_code",
        "redirects",
        "https_error",
        "timings",
        "headers",
        "content_type",
        "body_bytes",
        "tls",
        "addresses",
        "remote_address",
        "mx",
        "accepts_mail",
        "extracted",
    }
)


@dataclass(frozen=True, slots=True)
class Source:
    """One domain, its result and the result's ``extracted`` part (``{}`` when absent)."""

    item: DomainRecord
    result: Mapping[str, Any]
    extracted: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    read: Callable[[Source], Any]


def dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]…``, or None as soon as a step is not a mapping or lacks the key."""
    for key in keys:
        if type(value) is not dict:  # stored JSON: dicts (an ABC check costs 4x as much)
            return None
        value = value.get(key)
    return value


def texts(value: Any) -> list[str] | None:
    """A list's items as strings (None for anything but a list)."""
    if not isinstance(value, list):
        return None
    return [item if isinstance(item, str) else orjson.dumps(item).decode() for item in value]


def technologies(value: Any) -> list[str] | None:
    """``{name, version}`` items as ``"WordPress 6.4.2"`` (the name alone when no version)."""
    if not isinstance(value, list):
        return None
    names = []
    for tech in value:
        name, version = dig(tech, "name"), dig(tech, "version")
        if name is not None:
            names.append(f"{name} {version}" if version else str(name))
    return names


def extra_result(source: Source) -> dict[str, Any] | None:
    """The whole result when it has a field no column shows (CSV and Parquet write it as
    JSON); None for the homepage and dns processors' results."""
    result = source.item.result
    if not result or set(result) <= HOMEPAGE_KEYS:
        return None
    return result


def _field(name: str) -> Callable[[Source], Any]:
    return lambda s: getattr(s.item, name)


def _result(*keys: str) -> Callable[[Source], Any]:
    return lambda s: dig(s.result, *keys)


def _extracted(*keys: str) -> Callable[[Source], Any]:
    return lambda s: dig(s.extracted, *keys)


def _social(network: str) -> Column:
    return Column(network, "list", lambda s: texts(dig(s.extracted, "socials", network)))


COLUMNS: tuple[Column, ...] = (
    Column("domain", "text", _field("domain")),
    Column("display", "text", _field("display")),
    Column("input", "text", _field("input")),
    Column("status", "text", lambda s: s.item.status.value),
    Column("attempts", "int", _field("attempts")),
    Column("error_code", "text", _field("error_code")),
    Column("error_message", "text", _field("error_message")),
    Column("final_url", "text", _result("final_url")),
    Column("status_code", "int", _result("status_code")),
    Column("title", "text", _extracted("title")),
    Column("description", "text", _extracted("description")),
    Column("language", "text", _extracted("language")),
    Column("emails", "list", lambda s: texts(s.extracted.get("emails"))),
    Column("phones", "list", lambda s: texts(s.extracted.get("phones"))),
    *(_social(network) for network in SOCIAL_NETWORKS),
    Column("technologies", "list", lambda s: technologies(s.extracted.get("technologies"))),
    Column("started_at", "time", _field("started_at")),
    Column("finished_at", "time", _field("finished_at")),
    Column("organization", "text", _extracted("jsonld", "organization", "name")),
    Column("canonical_url", "text", _extracted("canonical_url")),
    Column("server", "text", _result("headers", "server")),
    Column("addresses", "list", lambda s: texts(s.result.get("addresses"))),
    Column("mx", "list", lambda s: texts(s.result.get("mx"))),
    Column("accepts_mail", "bool", _result("accepts_mail")),
    Column("https_error", "text", _result("https_error", "code")),
    Column("tls_issuer", "text", _result("tls", "issuer")),
    Column("tls_days_remaining", "int", _result("tls", "days_remaining")),
    Column("total_ms", "float", _result("timings", "total_ms")),
    Column("result", "text", extra_result),
)
BY_NAME = {column.name: column for column in COLUMNS}
FIELDS = tuple(BY_NAME)


def parse_fields(spec: str | None) -> tuple[Column, ...]:
    """The columns ``a,b,c`` names, in that order (every column when ``spec`` is None);
    ``InvalidFieldsError`` listing the known ones for an unknown or empty name."""
    if spec is None:
        return COLUMNS
    names = [name.strip() for name in spec.split(",")]
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise InvalidFieldsError(
            f"unknown field(s) {', '.join(repr(n) for n in unknown)}; known: {', '.join(FIELDS)}"
        )
    return tuple(BY_NAME[name] for name in dict.fromkeys(names))


def source_of(item: DomainRecord) -> Source:
    result = item.result if type(item.result) is dict else {}
    extracted = result.get("extracted")
    return Source(item, result, extracted if type(extracted) is dict else {})


def read_row(item: DomainRecord, columns: Iterable[Column]) -> dict[str, Any]:
    """The raw values of ``columns`` for one domain (as the processor gave them: a column's
    kind is what a well-behaved processor puts there, not a promise)."""
    source = source_of(item)
    return {column.name: column.read(source) for column in columns}
