"""Page metadata: title, description, language, canonical URL, favicon, OpenGraph, Twitter."""

from __future__ import annotations

import re
from typing import Any

from domainbatch.extract.document import Document, absolutize, collapse

MAX_CARD_FIELDS = 40
MAX_TITLE_CHARS = 1_000
# The shape of a BCP 47 (RFC 5646) language tag, with "_" accepted for "-": a 2-3 letter
# primary language (with up to 3 extlangs), optional script, region, variants, extensions
# and private use. Only the shape: subtags are not checked against the IANA registry, so
# "UTF-8", "utf8", "japanese" and "x" fail while an unassigned "qq" passes. Grandfathered
# ("i-klingon") and private-use-only ("x-...") tags are not languages we can report.
_LANGUAGE = re.compile(
    r"""[a-z]{2,3}(?:-[a-z]{3}){0,3}             # language, extlangs
    (?:-[a-z]{4})?                                # script
    (?:-(?:[a-z]{2}|[0-9]{3}))?                   # region
    (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*      # variants
    (?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*           # extensions
    (?:-x(?:-[a-z0-9]{1,8})+)?                    # private use""",
    re.IGNORECASE | re.VERBOSE,
)
MAX_LANGUAGE_CHARS = 100  # far beyond any real tag; bounds the work on junk attributes
_ICON_RELS = ("icon", "apple-touch-icon", "apple-touch-icon-precomposed")
# Where the description comes from, best first (README "Extracted fields").
_DESCRIPTION_SOURCES = ("name", "property", "itemprop", "http-equiv")
_URL_CARD_FIELDS = frozenset({"image", "image:url", "image:secure_url", "url", "video", "audio"})


def extract_metadata(doc: Document, result: dict[str, Any]) -> None:
    result["title"] = find_title(doc)
    result["description"] = find_description(doc)
    result["language"] = find_language(doc)
    result["canonical_url"] = find_canonical(doc)
    result["favicon_url"], result["favicon_declared"] = find_favicon(doc)
    result["opengraph"] = collect_card(doc, "og:")
    result["twitter"] = collect_card(doc, "twitter:")


def find_title(doc: Document) -> str | None:
    """The first ``<title>`` outside SVG, whitespace-collapsed."""
    for node in doc.tree.css("title")[:20]:
        parent = node.parent
        inside_svg = False
        while parent is not None:
            if parent.tag == "svg":
                inside_svg = True
                break
            parent = parent.parent
        if not inside_svg:
            return collapse(node.text(), MAX_TITLE_CHARS)
    return None


def find_description(doc: Document) -> str | None:
    """``<meta name="description">``, else ``<meta property|itemprop|http-equiv="description">``.

    By rank, not page order: the standard tag wins over an earlier microdata or RDFa one.
    og:description stays under ``opengraph`` only; blank contents are skipped.
    """
    best: str | None = None
    best_rank = len(_DESCRIPTION_SOURCES)
    for tag in doc.meta_tags:
        if tag.name == "description":
            rank = 0
        elif tag.key == "description":
            rank = _DESCRIPTION_SOURCES.index(tag.attribute)
        else:
            continue
        if rank < best_rank:
            text = collapse(tag.content)
            if text:
                best, best_rank = text, rank
                if rank == 0:
                    break
    return best


def normalize_language(tag: str | None) -> str | None:
    """A tag of BCP 47's shape with conventional case (``en-us`` -> ``en-US``), else None."""
    tag = (tag or "")[: MAX_LANGUAGE_CHARS * 2].strip().split(",")[0].strip().replace("_", "-")
    if len(tag) > MAX_LANGUAGE_CHARS or not _LANGUAGE.fullmatch(tag):
        return None
    subtags = tag.split("-")
    out = [subtags[0].lower()]
    for index, sub in enumerate(subtags[1:], 1):
        if len(sub) == 1:  # an extension or private use: RFC 5646 keeps the rest lowercase
            out.extend(rest.lower() for rest in subtags[index:])
            break
        if len(sub) == 2 and sub.isalpha():
            out.append(sub.upper())
        elif len(sub) == 4 and sub.isalpha():
            out.append(sub.title())
        else:
            out.append(sub.lower())
    return "-".join(out)


def find_language(doc: Document) -> str | None:
    """``<html lang>``, else the Content-Language header, else ``<meta http-equiv>``."""
    html = doc.tree.css_first("html")
    candidates = [html.attributes.get("lang") if html is not None else None]
    if html is not None:
        candidates.append(html.attributes.get("xml:lang"))
    candidates.append(doc.headers.get("content-language"))
    candidates.extend(doc.meta("content-language"))
    for candidate in candidates:
        language = normalize_language(candidate)
        if language:
            return language
    return None


def find_canonical(doc: Document) -> str | None:
    for link in doc.link_tags:
        if "canonical" in link.rel:
            resolved = absolutize(doc.base_url, link.href)
            if resolved:
                return resolved
    return None


def find_favicon(doc: Document) -> tuple[str | None, bool]:
    """The declared icon (icon, then apple-touch-icon), or ``/favicon.ico`` on the page's origin.

    The boolean says whether the page declared it. Data URIs are not reported.
    """
    for wanted in _ICON_RELS:
        for link in doc.link_tags:
            if wanted in link.rel:
                resolved = absolutize(doc.base_url, link.href)
                if resolved:
                    return resolved, True
    return absolutize(doc.url, "/favicon.ico"), False


def collect_card(doc: Document, prefix: str) -> dict[str, str]:
    """``og:*`` / ``twitter:*`` meta fields without the prefix; the first value of each wins."""
    fields: dict[str, str] = {}
    for tag in doc.meta_tags:
        if not tag.key.startswith(prefix) or len(fields) >= MAX_CARD_FIELDS:
            continue
        name = tag.key[len(prefix) :]
        value = collapse(tag.content)
        if not name or value is None or name in fields:
            continue
        if name in _URL_CARD_FIELDS or name.endswith(":src"):
            value = absolutize(doc.base_url, value) or value
        fields[name] = value
    return fields
