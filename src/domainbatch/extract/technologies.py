"""Technology detection: our fingerprint table matched against one page.

The table (``extract.fingerprints``) is data; this module compiles it once, on first use,
and matches it against the headers, cookies, meta tags, script and link URLs, a bounded
prefix of the HTML and the page URL. Implied technologies (WooCommerce -> WordPress ->
PHP) are added without a version. The first version found wins, in the order meta,
headers, scripts, links, HTML, cookies, URL.

Speed (see ``extract.needles``): a regex runs only when the page holds the literals every
match contains (:func:`required_literals`, plus groups of literal alternatives). Each
pattern has a *gate*, its rarest literal; the gates of all patterns of a source are found
in a few passes (:class:`~domainbatch.extract.needles.NeedleScanner`) instead of one scan
per pattern, and the other literals are checked only for patterns whose gate is there.
A regex that runs starts its search where its leading literal first occurs, since ``re``
scans slowly for a case-insensitive pattern. None of this changes a result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from domainbatch.extract.document import Document
from domainbatch.extract.fingerprints import FINGERPRINTS, Fingerprint
from domainbatch.extract.needles import NeedleScanner, choose_gates, fold, literal_structure

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
    gates: tuple[str, ...] = ()  # every match holds one: looked for in the page's one scan
    choices: tuple[tuple[str, ...], ...] = ()  # every match holds one of each group
    leads: tuple[tuple[str, int], ...] = ()  # (needle, most characters of a match before it)

    def search(self, text: str, lowered: str | None = None) -> tuple[bool, str | None]:
        """(matched, version) for ``text``; ``lowered`` (text.lower()) enables the prefilter."""
        if lowered is not None and not all(needle in lowered for needle in self.needles):
            return False, None
        return self.run(text)

    def start(self, folded: str, present: set[str]) -> int | None:
        """Where a search can start in the text ``folded`` was folded from (``fold``), or
        None when no match is possible: a gate is missing from ``present`` (the gates the
        page's scan found), or a needle or every option of a choice is missing."""
        if self.gates and not any(gate in present for gate in self.gates):
            return None
        start = 0
        for needle in self.needles:
            position = folded.find(needle)
            if position < 0:
                return None
            for literal, lead in self.leads:
                if literal == needle:
                    start = max(start, position - lead)
        for choice in self.choices:
            if not any(option in folded for option in choice):
                return None
        return start

    def run(self, text: str, start: int = 0) -> tuple[bool, str | None]:
        """(matched, version): the regex itself, searched from ``start``, no prefilter."""
        match = self.regex.search(text, start)
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
    needles = required_literals(regex)
    structure = literal_structure(regex, _FLAGS, needles)
    gates = choose_gates(needles, structure.choices)
    return Pattern(
        re.compile(regex, _FLAGS),
        template if separator else None,
        needles,
        gates,
        structure.choices,
        structure.leads,
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


_SOURCES = ("scripts", "links", "html", "cookies", "url")


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
        self.texts = {
            "scripts": "\n".join(doc.script_srcs[:MAX_URLS]),
            "links": "\n".join(link.href for link in doc.link_tags[:MAX_URLS]),
            "html": doc.html[:MAX_HTML_CHARS],
            "cookies": "\n".join(doc.headers.cookie_names()),
            "url": doc.url,
        }
        # Folded (lowercased, one character per character) for the literal prefilter.
        self.lowered: dict[str, str | None] = {
            source: fold(text) if prefilter else None for source, text in self.texts.items()
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
                hit, version = pattern.run(text, start)
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
