"""A compiled fingerprint table: what ``extract.technologies`` matches, and its prefilter index.

Every table comes from a Wappalyzer-format database, read and translated by
``extract.wappalyzer``: ours, the JSON files of ``extract/fingerprints/`` (read on first
use), and, when the setting ``FINGERPRINTS`` names one, the user's, used alone or merged
with ours (:func:`merge_tables`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from domainbatch.extract.needles import NeedleScanner
from domainbatch.extract.patterns import Pattern

# Our database: categories.json and technologies/*.json, shipped as package data.
BUILTIN_DATABASE = Path(__file__).resolve().parent / "fingerprints"

# The text sources a pattern list can read (see ``technologies.Evidence``); "inline" is the
# text of inline scripts (Wappalyzer's ``scripts``), read only when a table has such patterns.
SOURCES = ("scripts", "links", "anchors", "html", "comments", "cookies", "url", "inline")


@dataclass(frozen=True)
class DomRule:
    """A Wappalyzer ``dom`` entry: a CSS selector, then what its first matches must show."""

    selector: str
    gates: tuple[str, ...]  # lowercased names the HTML holds whenever the selector can match
    attributes: tuple[tuple[str, Pattern], ...] = ()  # attribute name -> pattern
    text: Pattern | None = None
    confidence: int = 100  # for a bare "exists" rule


@dataclass(frozen=True)
class CompiledFingerprint:
    name: str
    category: str
    headers: tuple[tuple[str, Pattern], ...]
    meta: tuple[tuple[str, Pattern], ...]
    sources: tuple[tuple[str, tuple[Pattern, ...]], ...]  # ("scripts", patterns), ...
    implies: tuple[tuple[str, int], ...]  # (name, confidence)
    cookies: tuple[tuple[str, Pattern], ...] = ()  # cookie name -> value pattern (Wappalyzer)
    dom: tuple[DomRule, ...] = ()
    excludes: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    requires_category: tuple[str, ...] = ()
    meta_names: bool = False  # meta keys also match a tag's ``name`` beside its property


def _grouped(pairs: Iterable[tuple[str, int]]) -> dict[str, frozenset[int]]:
    groups: dict[str, set[int]] = {}
    for key, index in pairs:
        groups.setdefault(key, set()).add(index)
    return {key: frozenset(indexes) for key, indexes in groups.items()}


class NamedGates:
    """The fingerprints reading one header, meta tag or cookie: those that need only the
    name, and the others by gate, found in the value with one scan."""

    def __init__(self, entries: Iterable[tuple[tuple[str, ...], int]]) -> None:
        always: set[int] = set()
        gated: list[tuple[str, int]] = []
        for gates, index in entries:
            if gates:
                gated.extend((gate, index) for gate in gates)
            else:
                always.add(index)
        self.always = frozenset(always)
        self.by_gate = _grouped(gated)
        self.scanner = NeedleScanner(self.by_gate)

    def candidates(self, folded: str) -> set[int]:
        """The fingerprints a value (folded) can match."""
        found = set(self.always)
        for gate in self.scanner.present(folded):
            found.update(self.by_gate[gate])
        return found


def _named(entries: Iterable[tuple[str, Pattern, int]]) -> dict[str, NamedGates]:
    groups: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for key, pattern, index in entries:
        groups.setdefault(key, []).append((pattern.gates, index))
    return {key: NamedGates(pairs) for key, pairs in groups.items()}


class FingerprintTable:
    """Compiled fingerprints, by position and by name, with the prefilter's index:
    which fingerprints can match a page, from what the page has."""

    def __init__(self, fingerprints: Iterable[CompiledFingerprint]) -> None:
        self.fingerprints = tuple(fingerprints)
        self.by_name = {fingerprint.name: fingerprint for fingerprint in self.fingerprints}
        table = self.fingerprints
        gated: dict[str, list[tuple[str, int]]] = {source: [] for source in SOURCES}
        ungated: set[int] = set()
        for index, fingerprint in enumerate(table):
            for source, patterns in fingerprint.sources:
                for pattern in patterns:
                    if not pattern.gates:
                        ungated.add(index)
                    gated[source].extend((gate, index) for gate in pattern.gates)
            for rule in fingerprint.dom:  # a selector's names are looked for in the HTML
                if not rule.gates:
                    ungated.add(index)
                gated["html"].extend((gate, index) for gate in rule.gates)
        # Sources no fingerprint reads are not even assembled (inline scripts for ours).
        read = {source for fingerprint in table for source, _ in fingerprint.sources}
        if any(fingerprint.dom for fingerprint in table):
            read.add("html")  # where DOM selectors' gates are looked for
        self.sources = tuple(source for source in SOURCES if source in read)
        self.scanners = {
            source: NeedleScanner(gate for gate, _ in gated[source]) for source in SOURCES
        }
        self.by_gate = {source: _grouped(pairs) for source, pairs in gated.items()}
        # Named evidence: name -> (gates of one pattern, fingerprint index); a fingerprint is
        # a candidate when the page has the name and, if the pattern has gates, one of them
        # in its value ("server" alone named 196 fingerprints of a 7,291-technology database).
        self.by_meta = _named((key, p, i) for i, f in enumerate(table) for key, p in f.meta)
        self.by_header = _named((key, p, i) for i, f in enumerate(table) for key, p in f.headers)
        self.by_cookie = _named((key, p, i) for i, f in enumerate(table) for key, p in f.cookies)
        self.ungated = frozenset(ungated)
        # Wappalyzer reads a meta tag by its name also when it has a property too.
        self.meta_names = any(fingerprint.meta_names for fingerprint in table)

    def __len__(self) -> int:
        return len(self.fingerprints)


@cache
def builtin_table() -> FingerprintTable:
    """Our own database (``BUILTIN_DATABASE``), read and compiled on first use; a name
    defined in two of its files is a ``ConfigurationError``."""
    # Imported here: the translator builds on this module's types (and loads only when needed).
    from domainbatch.extract.wappalyzer.loading import read_database
    from domainbatch.extract.wappalyzer.translation import Translator

    raw = read_database(BUILTIN_DATABASE, unique=True)
    translator = Translator(raw.categories)
    return FingerprintTable(translator.fingerprint(n, d) for n, d in raw.technologies.items())


def merge_tables(ours: FingerprintTable, theirs: FingerprintTable) -> FingerprintTable:
    """``ours`` extended by ``theirs``: a technology both know (same name, any case) keeps
    our fingerprint only (ours is tuned to this engine: own-site URLs, comments apart)."""
    known = {name.lower() for name in ours.by_name}
    extra = (f for f in theirs.fingerprints if f.name.lower() not in known)
    return FingerprintTable((*ours.fingerprints, *extra))
