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


def required_literals(pattern: str) -> tuple[str, ...]:
    """Lowercased substrings every match of ``pattern`` must contain, longest first.

    Used to skip regexes cheaply: ``in`` on the lowercased text is much faster than a
    case-insensitive regex scan.
    Only literal runs outside groups and character classes count, and none at all when
    the pattern has a top-level alternation; a character followed by ``?``, ``*`` or a
    ``{m,n}`` quantifier is not required; runs shorter than 3 characters are dropped.
    """
    runs = _literal_runs(pattern)
    return tuple(sorted({run.lower() for run in runs if len(run) >= 3}, key=len, reverse=True))


def required_literal(pattern: str) -> str:
    """The longest of :func:`required_literals`, or "" when there is none."""
    literals = required_literals(pattern)
    return literals[0] if literals else ""


def _literal_runs(pattern: str) -> list[str]:
    """Literal runs of ``pattern`` (see :func:`required_literals`); [] when unsure."""
    runs: list[str] = []
    current: list[str] = []
    depth = 0
    i = 0

    def flush() -> None:
        if current:
            runs.append("".join(current))
            current.clear()

    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escaped = pattern[i + 1 : i + 2]
            if escaped and not escaped.isalnum() and depth == 0:
                current.append(escaped)
            else:
                flush()
            i += 2
            continue
        if char == "|" and depth == 0:
            return []
        if char in "?*{":
            if current:
                current.pop()
            flush()
            if char == "{":
                end = pattern.find("}", i)
                i = end if end >= 0 else i
        elif char == "[":
            flush()
            i += 1
            if pattern[i : i + 1] == "]":
                i += 1
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif char == "(":
            flush()
            depth += 1
        elif char == ")":
            flush()
            depth = max(0, depth - 1)
        elif char in "+.^$":
            flush()
        elif depth == 0:
            current.append(char)
        i += 1
    flush()
    return runs


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    template: str | None
    needles: tuple[str, ...]  # lowercased literals every match contains

    def search(self, text: str, lowered: str | None = None) -> tuple[bool, str | None]:
        """(matched, version) for ``text``; ``lowered`` (text.lower()) enables the prefilter."""
        if lowered is not None and not all(needle in lowered for needle in self.needles):
            return False, None
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
    return Pattern(
        re.compile(regex, _FLAGS), template if separator else None, required_literals(regex)
    )


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

    def __init__(self, doc: Document, *, prefilter: bool = True) -> None:
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
        self.lowered: dict[str, str | None] = {
            source: text.lower() if prefilter else None for source, text in self.texts.items()
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
            lowered = self.lowered[source]
            for pattern in patterns:
                hit, version = pattern.search(text, lowered)
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


def detect_technologies(doc: Document, *, prefilter: bool = True) -> list[dict[str, Any]]:
    """``[{"name", "category", "version"}]`` sorted by name (case-insensitive).

    ``prefilter=False`` runs every regex (the literal prefilter must never change results).
    """
    evidence = Evidence(doc, prefilter=prefilter)
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
