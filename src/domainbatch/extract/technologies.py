"""Technology detection: our fingerprint table matched against one page.

The table (``extract.fingerprints``) is data; this module compiles it once, on first use,
and matches it against the headers, cookies, meta tags, script and link URLs, a bounded
prefix of the HTML and the page URL. Implied technologies (WooCommerce -> WordPress ->
PHP) are added without a version. The first version found wins, in the order meta,
headers, scripts, links, HTML, cookies, URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from domainbatch.extract.document import Document
from domainbatch.extract.fingerprints import FINGERPRINTS, Fingerprint

MAX_HTML_CHARS = 1_000_000
MAX_URLS = 1_000
_VERSION = re.compile(r"^[A-Za-z0-9][\w.+-]{0,29}$")
_TEMPLATE_SEPARATOR = "\\;version:"
_FLAGS = re.I | re.M


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    template: str | None

    def search(self, text: str) -> tuple[bool, str | None]:
        """(matched, version) for ``text``."""
        match = self.regex.search(text)
        if match is None:
            return False, None
        version: str | None = None
        if self.template is not None:
            version = self.template
            if match.groups():
                version = version.replace("\\1", match.group(1) or "")
        elif match.groups():
            version = match.group(1)
        if version is not None and not _VERSION.match(version):
            version = None
        return True, version


@dataclass(frozen=True)
class CompiledFingerprint:
    name: str
    category: str
    headers: tuple[tuple[str, Pattern], ...]
    meta: tuple[tuple[str, Pattern], ...]
    sources: tuple[tuple[str, tuple[Pattern, ...]], ...]  # ("scripts", patterns), ...
    implies: tuple[str, ...]


def compile_pattern(text: str) -> Pattern:
    regex, separator, template = text.partition(_TEMPLATE_SEPARATOR)
    return Pattern(re.compile(regex, _FLAGS), template if separator else None)


def compile_fingerprint(fingerprint: Fingerprint) -> CompiledFingerprint:
    return CompiledFingerprint(
        name=fingerprint.name,
        category=fingerprint.category,
        headers=tuple((k.lower(), compile_pattern(v)) for k, v in fingerprint.headers.items()),
        meta=tuple((k.lower(), compile_pattern(v)) for k, v in fingerprint.meta.items()),
        sources=tuple(
            (source, tuple(compile_pattern(p) for p in patterns))
            for source, patterns in (
                ("scripts", fingerprint.scripts),
                ("links", fingerprint.links),
                ("html", fingerprint.html),
                ("cookies", fingerprint.cookies),
                ("url", fingerprint.url),
            )
            if patterns
        ),
        implies=fingerprint.implies,
    )


@cache
def compiled_table() -> tuple[CompiledFingerprint, ...]:
    """The fingerprint table, compiled on first use."""
    return tuple(compile_fingerprint(fingerprint) for fingerprint in FINGERPRINTS)


@cache
def _categories() -> dict[str, str]:
    return {fingerprint.name: fingerprint.category for fingerprint in FINGERPRINTS}


class Evidence:
    """What one page offers to fingerprints, each source joined into one searchable string."""

    def __init__(self, doc: Document) -> None:
        self.headers = doc.headers
        meta: dict[str, list[str]] = {}
        for tag in doc.meta_tags:
            meta.setdefault(tag.key, []).append(tag.content)
        self.meta = meta
        self.texts = {
            "scripts": "\n".join(doc.script_srcs[:MAX_URLS]),
            "links": "\n".join(link.href for link in doc.link_tags[:MAX_URLS]),
            "html": doc.html[:MAX_HTML_CHARS],
            "cookies": "\n".join(doc.headers.cookie_names()),
            "url": doc.url,
        }

    def match(self, fingerprint: CompiledFingerprint) -> tuple[bool, str | None]:
        """(matched, version): every source is tried until a version turns up."""
        matched = False
        for key, pattern in fingerprint.meta:
            hit, version = _search_all(pattern, self.meta.get(key, ()))
            if version:
                return True, version
            matched = matched or hit
        for name, pattern in fingerprint.headers:
            hit, version = _search_all(pattern, self.headers.get_all(name))
            if version:
                return True, version
            matched = matched or hit
        for source, patterns in fingerprint.sources:
            text = self.texts[source]
            if not text:
                continue
            for pattern in patterns:
                hit, version = pattern.search(text)
                if version:
                    return True, version
                matched = matched or hit
        return matched, None


def _search_all(pattern: Pattern, values: Iterable[str]) -> tuple[bool, str | None]:
    matched = False
    for value in values:
        hit, version = pattern.search(value)
        if version:
            return True, version
        matched = matched or hit
    return matched, None


def detect_technologies(doc: Document) -> list[dict[str, Any]]:
    """``[{"name", "category", "version"}]`` sorted by name (case-insensitive)."""
    evidence = Evidence(doc)
    found: dict[str, str | None] = {}
    implied: list[str] = []
    for fingerprint in compiled_table():
        matched, version = evidence.match(fingerprint)
        if matched:
            found[fingerprint.name] = version
            implied.extend(fingerprint.implies)
    by_name = {fingerprint.name: fingerprint for fingerprint in compiled_table()}
    while implied:
        name = implied.pop()
        if name not in found and name in by_name:
            found[name] = None
            implied.extend(by_name[name].implies)
    categories = _categories()
    return [
        {"name": name, "category": categories[name], "version": version}
        for name, version in sorted(found.items(), key=lambda item: item[0].lower())
    ]
