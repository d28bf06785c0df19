"""Technology detection: our fingerprint table matched against one page.

The table (``extract.fingerprints``) is data; this module compiles it once, on first use,
and matches it against the headers, cookies, meta tags, script, link, anchor and form
URLs, a bounded prefix of the HTML (comments blanked: commented-out code is no evidence),
the HTML comments and the page URL; an ``OwnSite`` pattern counts only inside a URL of
the page's own site (``extract.provenance``). Implied technologies (WooCommerce ->
WordPress -> PHP) are added without a version. The first version found wins, in the order
meta, headers, scripts, links, anchors, HTML, comments, cookies, URL.

Speed (see ``extract.needles``): a regex runs only when the page holds the literals every
match contains (``extract.patterns``). Each pattern has a *gate*, its rarest literal; the
gates of all patterns of a source are found in a few passes
(:class:`~domainbatch.extract.needles.NeedleScanner`) instead of one scan per pattern, and
the other literals are checked only for patterns whose gate is there. A regex that runs
starts its search where its leading literal first occurs, since ``re`` scans slowly for a
case-insensitive pattern. None of this changes a result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from domainbatch.extract.document import Document
from domainbatch.extract.fingerprints import FINGERPRINTS, Fingerprint
from domainbatch.extract.needles import NeedleScanner, fold
from domainbatch.extract.patterns import Pattern, compile_pattern
from domainbatch.extract.provenance import Site, split_comments

MAX_HTML_CHARS = 1_000_000
MAX_URLS = 1_000


@dataclass(frozen=True)
class CompiledFingerprint:
    name: str
    category: str
    headers: tuple[tuple[str, Pattern], ...]
    meta: tuple[tuple[str, Pattern], ...]
    sources: tuple[tuple[str, tuple[Pattern, ...]], ...]  # ("scripts", patterns), ...
    implies: tuple[str, ...]


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
                ("anchors", fingerprint.anchors),
                ("html", fingerprint.html),
                ("comments", fingerprint.comments),
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


_SOURCES = ("scripts", "links", "anchors", "html", "comments", "cookies", "url")


@dataclass(frozen=True)
class _Index:
    """Which fingerprints can match a page, from what the page has (prefilter only)."""

    scanners: dict[str, NeedleScanner]  # per source, over its patterns' gates
    by_gate: dict[str, dict[str, frozenset[int]]]  # source -> gate -> fingerprint indexes
    by_meta: dict[str, frozenset[int]]  # meta name -> indexes
    by_header: dict[str, frozenset[int]]  # header name -> indexes
    ungated: frozenset[int]  # fingerprints with a pattern that has no gate (always tried)


def _grouped(pairs: Iterable[tuple[str, int]]) -> dict[str, frozenset[int]]:
    groups: dict[str, set[int]] = {}
    for key, index in pairs:
        groups.setdefault(key, set()).add(index)
    return {key: frozenset(indexes) for key, indexes in groups.items()}


@cache
def _index() -> _Index:
    table = compiled_table()
    gated: dict[str, list[tuple[str, int]]] = {source: [] for source in _SOURCES}
    ungated: set[int] = set()
    for index, fingerprint in enumerate(table):
        for source, patterns in fingerprint.sources:
            for pattern in patterns:
                if not pattern.gates:
                    ungated.add(index)
                gated[source].extend((gate, index) for gate in pattern.gates)
    return _Index(
        scanners={
            source: NeedleScanner(gate for gate, _ in pairs) for source, pairs in gated.items()
        },
        by_gate={source: _grouped(pairs) for source, pairs in gated.items()},
        by_meta=_grouped((key, i) for i, f in enumerate(table) for key, _ in f.meta),
        by_header=_grouped((name, i) for i, f in enumerate(table) for name, _ in f.headers),
        ungated=frozenset(ungated),
    )


class Evidence:
    """What one page offers to fingerprints, each source joined into one searchable string."""

    def __init__(self, doc: Document, *, prefilter: bool = True) -> None:
        self.headers = doc.headers
        meta: dict[str, list[str]] = {}
        for tag in doc.meta_tags:
            meta.setdefault(tag.key, []).append(tag.content)
        self.meta = meta
        self.site = Site(doc.url)
        html = doc.html[:MAX_HTML_CHARS]
        html, folded_html, comments = split_comments(html, fold(html))
        self.texts = {
            "scripts": "\n".join(doc.script_srcs[:MAX_URLS]),
            "links": "\n".join(link.href for link in doc.link_tags[:MAX_URLS]),
            "anchors": "\n".join([*doc.anchor_hrefs[:MAX_URLS], *doc.form_actions[:MAX_URLS]]),
            "html": html,
            "comments": comments,
            "cookies": "\n".join(doc.headers.cookie_names()),
            "url": doc.url,
        }
        # Folded (lowercased, one character per character) for the literal prefilter.
        self.lowered: dict[str, str | None] = {
            source: (folded_html if source == "html" else fold(text)) if prefilter else None
            for source, text in self.texts.items()
        }
        # The gates found in each source, in one scan per source (prefilter only).
        self.present: dict[str, set[str]] = {}
        if prefilter:
            scanners = _index().scanners
            for source, lowered in self.lowered.items():
                self.present[source] = scanners[source].present(lowered) if lowered else set()

    def candidates(self) -> list[int]:
        """Indexes in the table of the fingerprints that can match (prefilter only): those
        with a gate found, a meta tag or header present, or a pattern without a gate."""
        index = _index()
        found = set(index.ungated)
        for source, gates in self.present.items():
            by_gate = index.by_gate[source]
            for gate in gates:
                found.update(by_gate.get(gate, ()))
        for key in self.meta:
            found.update(index.by_meta.get(key, ()))
        for name, _ in self.headers.items():
            found.update(index.by_header.get(name, ()))
        return sorted(found)

    def match(self, fingerprint: CompiledFingerprint) -> tuple[bool, str | None]:
        """(matched, version): every source is tried until a version turns up."""
        matched = False
        for key, pattern in fingerprint.meta:
            values = self.meta.get(key)
            if values:
                hit, version = _search_all(pattern, values)
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
            present = self.present.get(source)
            for pattern in patterns:
                start = 0
                if lowered is not None and present is not None:
                    position = pattern.start(lowered, present)
                    if position is None:
                        continue
                    if len(lowered) == len(text):  # always: fold keeps positions
                        start = position
                hit, version = pattern.run(text, start, self.site)
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
    table = compiled_table()
    found: dict[str, str | None] = {}
    implied: list[str] = []
    indexes = evidence.candidates() if prefilter else range(len(table))
    for index in indexes:
        fingerprint = table[index]
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
