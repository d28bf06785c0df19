"""Technology detection: a fingerprint table matched against one page.

The table is a Wappalyzer-format database, ours (``extract.fingerprints``, read and compiled
once, on first use) or the user's (``extract.wappalyzer``). It is matched against the
headers, cookies, meta tags, script URLs, a bounded prefix of the HTML (comments blanked:
commented-out code is no evidence) and the page URL, and, through our extensions, link,
anchor and form URLs, the HTML comments and cookie names; a pattern tagged ``\\;site:own``
counts only inside a URL of the page's own site (``extract.provenance``). Implied
technologies (WooCommerce -> WordPress -> PHP) are added without a version. The first
version found wins, in the order meta, headers, scripts, links, anchors, HTML, comments,
cookie names, URL, then inline scripts, cookie values and DOM selectors.

Confidence (Wappalyzer's ``\\;confidence:``; ours are all 100): the matches of a
technology add up, capped at 100, and it is reported at ``MIN_CONFIDENCE`` (50) or more.
A technology with ``requires`` / ``requiresCategory`` is tried only once what it needs is
detected; implied ones get the lower of the two confidences; ``excludes`` removes others.

Speed (see ``extract.needles``): a regex runs only when the page holds the literals every
match contains (``extract.patterns``). Each pattern has a *gate*, its rarest literal; the
gates of all patterns of a source are found in one Aho-Corasick pass
(:class:`~domainbatch.extract.needles.NeedleScanner`) instead of one scan per pattern, and
the other literals are checked only for patterns whose gate is there. So is a CSS selector
(its id, class, custom element or attribute-value word, ``extract.wappalyzer.translation``)
and a header, meta tag or cookie pattern (the name, then a gate in its value): with a
7,291-technology database, 35 fingerprints per page are tried on the bench corpus (at most
123), not 7,291. A regex that runs starts its search where its leading literal first
occurs, since ``re`` scans slowly for a case-insensitive pattern. None of this changes a
result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from domainbatch.extract.document import Document
from domainbatch.extract.fingerprint_table import (
    CompiledFingerprint,
    DomRule,
    FingerprintTable,
    NamedGates,
    builtin_table,
)
from domainbatch.extract.needles import fold
from domainbatch.extract.patterns import Pattern
from domainbatch.extract.provenance import Site, split_comments

MAX_HTML_CHARS = 1_000_000
MAX_URLS = 1_000
MAX_INLINE_SCRIPT_CHARS = 500_000
MAX_DOM_NODES = 25  # elements of one selector whose attributes and text are read
MIN_CONFIDENCE = 50
FULL = 100


class Evidence:
    """What one page offers to fingerprints, each source joined into one searchable string."""

    def __init__(
        self, doc: Document, table: FingerprintTable | None = None, *, prefilter: bool = True
    ) -> None:
        self.doc = doc
        self.table = table = table or builtin_table()
        self.headers = doc.headers
        meta: dict[str, list[str]] = {}
        for tag in doc.meta_tags:
            meta.setdefault(tag.key, []).append(tag.content)
            if table.meta_names and tag.name and tag.name != tag.key:
                meta.setdefault(tag.name, []).append(tag.content)
        self.meta = meta
        self.cookies: dict[str, list[str]] = {}
        if table.by_cookie:
            for name, value in doc.headers.cookies():
                self.cookies.setdefault(name.lower(), []).append(value)
        self.site = Site(doc.url)
        # The page folded once, shared with the email finder's checks; a longer page's prefix
        # is folded apart, as a prefix (str.lower reads a final sigma from what follows it).
        html = doc.html[:MAX_HTML_CHARS]
        folded = doc.folded_html if len(html) == len(doc.html) else fold(html)
        html, folded_html, comments = split_comments(html, folded)
        texts = {
            "scripts": lambda: "\n".join(doc.script_srcs[:MAX_URLS]),
            "links": lambda: "\n".join(link.href for link in doc.link_tags[:MAX_URLS]),
            "anchors": lambda: "\n".join(
                [*doc.anchor_hrefs[:MAX_URLS], *doc.form_actions[:MAX_URLS]]
            ),
            "html": lambda: html,
            "comments": lambda: comments,
            "cookies": lambda: "\n".join(doc.headers.cookie_names()),
            "url": lambda: doc.url,
            "inline": lambda: "\n".join(doc.inline_scripts)[:MAX_INLINE_SCRIPT_CHARS],
        }
        self.texts = {source: texts[source]() for source in table.sources}
        # Folded (lowercased, one character per character) for the literal prefilter.
        self.lowered: dict[str, str | None] = {
            source: (folded_html if source == "html" else fold(text)) if prefilter else None
            for source, text in self.texts.items()
        }
        # The gates found in each source, in one scan per source (prefilter only).
        self.present: dict[str, set[str]] = {}
        if prefilter:
            for source, lowered in self.lowered.items():
                scanner = table.scanners[source]
                self.present[source] = scanner.present(lowered) if lowered else set()

    def candidates(self) -> list[int]:
        """Indexes in the table of the fingerprints that can match (prefilter only): those
        with a gate found, a meta tag, header or cookie present, or a pattern without a gate."""
        table = self.table
        found = set(table.ungated)
        for source, gates in self.present.items():
            by_gate = table.by_gate[source]
            for gate in gates:
                found.update(by_gate.get(gate, ()))
        _add_named(found, table.by_meta, self.meta)
        _add_named(found, table.by_header, self.headers.by_name())
        _add_named(found, table.by_cookie, self.cookies)
        return sorted(found)

    def match(self, fingerprint: CompiledFingerprint) -> tuple[int, str | None]:
        """(confidence, version): matches add their confidence; every source is tried
        until the confidence is full and a version turned up."""
        confidence = 0
        version: str | None = None
        for key, pattern in fingerprint.meta:
            values = self.meta.get(key)
            if values:
                hit, found = _search_all(pattern, values)
                confidence, version = _add(confidence, version, hit, found, pattern.confidence)
                if version and confidence >= FULL:
                    return FULL, version
        for name, pattern in fingerprint.headers:
            hit, found = _search_all(pattern, self.headers.get_all(name))
            confidence, version = _add(confidence, version, hit, found, pattern.confidence)
            if version and confidence >= FULL:
                return FULL, version
        for source, patterns in fingerprint.sources:
            text = self.texts[source]
            if not text:
                continue
            lowered = self.lowered[source]
            present = self.present.get(source)
            for pattern in patterns:
                start = 0
                if lowered is not None and present is not None:
                    position = pattern.start(lowered, present)
                    if position is None:
                        continue
                    if len(lowered) == len(text):  # always: fold keeps positions
                        start = position
                hit, found = pattern.run(text, start, self.site)
                confidence, version = _add(confidence, version, hit, found, pattern.confidence)
                if version and confidence >= FULL:
                    return FULL, version
        for name, pattern in fingerprint.cookies:
            values = self.cookies.get(name)
            if values:
                hit, found = _search_all(pattern, values)
                confidence, version = _add(confidence, version, hit, found, pattern.confidence)
        for rule in fingerprint.dom:
            confidence, version = self._match_dom(rule, confidence, version)
        return min(confidence, FULL), version

    def _match_dom(
        self, rule: DomRule, confidence: int, version: str | None
    ) -> tuple[int, str | None]:
        present = self.present.get("html")
        if present is not None and rule.gates and not any(g in present for g in rule.gates):
            return confidence, version
        nodes = self.doc.select(rule.selector)[:MAX_DOM_NODES]
        if not nodes:
            return confidence, version
        if not rule.attributes and rule.text is None:
            return confidence + rule.confidence, version
        for name, pattern in rule.attributes:
            values = [node.attributes.get(name) or "" for node in nodes]
            hit, found = _search_all(pattern, [value for value in values if value])
            confidence, version = _add(confidence, version, hit, found, pattern.confidence)
        if rule.text is not None:
            texts = [node.text(deep=True) or "" for node in nodes]
            hit, found = _search_all(rule.text, texts)
            confidence, version = _add(confidence, version, hit, found, rule.text.confidence)
        return confidence, version


def _add_named(
    found: set[int], named: dict[str, NamedGates], values: Mapping[str, list[str]]
) -> None:
    """Adds the fingerprints whose named evidence the page has, with a gate in its value."""
    for key, texts in values.items():
        gates = named.get(key)
        if gates is not None:
            found |= gates.candidates(fold("\n".join(texts)))


def _add(
    confidence: int, version: str | None, hit: bool, found: str | None, weight: int
) -> tuple[int, str | None]:
    if not hit:
        return confidence, version
    return confidence + weight, version or found


def _search_all(pattern: Pattern, values: Iterable[str]) -> tuple[bool, str | None]:
    matched = False
    for value in values:
        hit, version = pattern.search(value)
        if version:
            return True, version
        matched = matched or hit
    return matched, None


def detect_technologies(
    doc: Document, table: FingerprintTable | None = None, *, prefilter: bool = True
) -> list[dict[str, Any]]:
    """``[{"name", "category", "version"}]`` sorted by name (case-insensitive), from
    ``table`` (ours by default).

    ``prefilter=False`` runs every regex (the literal prefilter must never change results).
    """
    table = table or builtin_table()
    evidence = Evidence(doc, table, prefilter=prefilter)
    indexes = evidence.candidates() if prefilter else range(len(table))
    found: dict[str, tuple[int, str | None]] = {}
    waiting: list[CompiledFingerprint] = []
    for index in indexes:
        fingerprint = table.fingerprints[index]
        if fingerprint.requires or fingerprint.requires_category:
            waiting.append(fingerprint)
            continue
        _note(found, fingerprint.name, *evidence.match(fingerprint))
    _imply(found, table)
    if waiting:
        categories = {table.by_name[name].category for name in found if name in table.by_name}
        for fingerprint in waiting:
            if all(name in found for name in fingerprint.requires) and all(
                category in categories for category in fingerprint.requires_category
            ):
                _note(found, fingerprint.name, *evidence.match(fingerprint))
        _imply(found, table)
    for name in list(found):
        for excluded in table.by_name[name].excludes:
            found.pop(excluded, None)
    return [
        {"name": name, "category": table.by_name[name].category, "version": version}
        for name, (_, version) in sorted(found.items(), key=lambda item: item[0].lower())
    ]


def _note(
    found: dict[str, tuple[int, str | None]], name: str, confidence: int, version: str | None
) -> None:
    if confidence >= MIN_CONFIDENCE:
        found[name] = (confidence, version)


def _imply(found: dict[str, tuple[int, str | None]], table: FingerprintTable) -> None:
    """Adds what the detected technologies imply, transitively, without a version, at
    the lower of the implying technology's confidence and the implication's."""
    pending = [(name, confidence) for name, (confidence, _) in found.items()]
    while pending:
        name, confidence = pending.pop()
        fingerprint = table.by_name.get(name)
        for implied, weight in fingerprint.implies if fingerprint else ():
            level = min(confidence, weight)
            if implied in found or implied not in table.by_name or level < MIN_CONFIDENCE:
                continue
            found[implied] = (level, None)
            pending.append((implied, level))
