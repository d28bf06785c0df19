"""The region a page writes its national phone numbers in, told from the page itself.

In order, the first that gives one: the country-code TLD of the page's URL (``.com.br`` ->
BR, ``.uk`` -> GB; the country codes sold as generic names, ``.io``, ``.co``, ``.me``,
``.tv``…, give nothing unless under a second level such as ``.com.co``), the region subtag
of the page's language (``pt-BR`` -> BR), the region of its ``hreflang`` alternates when they
all name the same one, the JSON-LD ``addressCountry`` (two-letter codes) when every address
names the same one. A region counts only when phonenumbers knows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from domainbatch.extract.document import Document
from domainbatch.extract.jsonld import collect_nodes, load_blocks

# Country codes whose registries sell them worldwide (Google's "generic ccTLDs", and .gg):
# a .io or .co site tells nothing about where its phones are.
GENERIC_CCTLDS = frozenset(
    {"ad", "ai", "as", "bz", "cc", "cd", "co", "dj", "fm", "gg", "io"}
    | {"la", "me", "ms", "nu", "sc", "sr", "su", "tk", "tv", "ws"}
)
# Second levels under which a generic ccTLD is its country's again (empresa.com.co).
_NATIONAL_SECOND_LEVELS = frozenset({"ac", "co", "com", "edu", "gob", "gov", "net", "org"})
# Codes that are not the ISO 3166 code of the country they stand for.
_ALIASES = {"UK": "GB"}
MAX_ADDRESSES = 50


def as_region(code: str | None) -> str | None:
    """``code`` as a region phonenumbers knows (``uk`` -> GB), else None."""
    if not code or len(code) != 2 or not code.isascii() or not code.isalpha():
        return None
    upper = code.upper()
    region = _ALIASES.get(upper, upper)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def tld_region(url: str) -> str | None:
    """The region of ``url``'s country-code TLD, None for generic ones."""
    try:
        labels = (urlsplit(url).hostname or "").rstrip(".").split(".")
    except ValueError:
        return None
    if len(labels) < 2:
        return None
    if labels[-1] in GENERIC_CCTLDS and labels[-2] not in _NATIONAL_SECOND_LEVELS:
        return None
    return as_region(labels[-1])


def language_region(tag: str | None) -> str | None:
    """The region subtag of a language tag (``pt-BR``, ``zh-Hant-TW``, ``en_GB``), or None."""
    if not tag:
        return None
    subtags = tag.replace("_", "-").split("-")[1:4]
    # A region comes after the language and an optional four-letter script; three-digit
    # areas (es-419) name no country.
    code = next((s for s in subtags if len(s) != 4), None)
    return as_region(code)


def common_region(regions: Iterable[str | None]) -> str | None:
    """The one region all of ``regions`` name; None when one names none, or they differ."""
    found: set[str | None] = set(regions)
    if len(found) != 1:
        return None
    return found.pop()


def hreflang_region(doc: Document) -> str | None:
    """The region every ``hreflang`` alternate of the page names (``x-default`` aside)."""
    tags = [
        link.attributes.get("hreflang", "").strip()
        for link in doc.link_tags
        if "alternate" in link.rel and "hreflang" in link.attributes
    ]
    return common_region(language_region(t) for t in tags if t.lower() != "x-default")


def _countries(node: dict[str, Any]) -> list[Any]:
    """The ``addressCountry`` values of a node and of its (untyped) ``address`` objects."""
    values = [node["addressCountry"]] if "addressCountry" in node else []
    address = node.get("address")
    for item in address[:MAX_ADDRESSES] if isinstance(address, list) else [address]:
        if isinstance(item, dict) and "@type" not in item and "addressCountry" in item:
            values.append(item["addressCountry"])  # typed ones are nodes of their own
    return values


def address_region(doc: Document) -> str | None:
    """The region every JSON-LD ``addressCountry`` names (a code, or a Country's name)."""
    codes: list[str | None] = []
    for node in collect_nodes(load_blocks(doc)):
        for value in _countries(node):
            if isinstance(value, dict):
                value = value.get("name")
            codes.append(as_region(value.strip()) if isinstance(value, str) else None)
    return common_region(codes)


def page_region(doc: Document, language: str | None) -> str | None:
    """The page's own region (``language`` is the page's language tag), None when unknown.

    Cheapest sources first: the JSON-LD is read again only when nothing else told.
    """
    return (
        tld_region(doc.url)
        or language_region(language)
        or hreflang_region(doc)
        or address_region(doc)
    )
