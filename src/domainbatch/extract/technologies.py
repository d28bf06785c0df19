"""Technology detection: our fingerprint table matched against one page.

The table (``extract.fingerprints``) is data; this module compiles it once, on first use,
and matches it against the headers, cookies, meta tags, script and link URLs, a bounded
prefix of the HTML and the page URL. Implied technologies (WooCommerce -> WordPress ->
PHP) are added without a version. The first version found wins, in the order meta,
headers, scripts, links, HTML, cookies, URL.

Speed: a regex runs only when the lowercased source holds every literal it requires
(:func:`required_literals`). Which literals a source holds is found in one pass
(:class:`NeedleScanner`), not with one scan per pattern: each pattern contributes its
rarest literal (its *gate*); the gates are combined into one regex anchored on each gate's
rarest character, so the regex engine skips from one such character to the next in C. A
pattern whose gate is present then checks its other literals with ``in``.
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


# Characters of HTML, rarest first (counted over real and generated pages); a gate is
# anchored on its rarest character, so the combined scan stops as seldom as possible.
_RARITY = "~^%\\+?!`|[]q*@$}{z&)(;#,:jx7968453120kw_yb'-v.g=fum\"h/pdlinc<>ortsae "
_RANK = {char: rank for rank, char in enumerate(_RARITY)}


def _rank(char: str) -> int:
    return _RANK.get(char, -1)  # anything not listed (non-ASCII) is rarer still


def _anchor(needle: str) -> int:
    """The index of ``needle``'s rarest character."""
    return min(range(len(needle)), key=lambda index: _rank(needle[index]))


def choose_gate(needles: tuple[str, ...]) -> str:
    """The needle to look for first: the one with the rarest character (then the longest)."""
    if not needles:
        return ""
    return min(needles, key=lambda needle: (_rank(needle[_anchor(needle)]), -len(needle)))


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    template: str | None
    needles: tuple[str, ...]  # lowercased literals every match contains
    gate: str = ""  # the needle looked for in the combined scan ("" when there are none)

    def search(self, text: str, lowered: str | None = None) -> tuple[bool, str | None]:
        """(matched, version) for ``text``; ``lowered`` (text.lower()) enables the prefilter."""
        if lowered is not None and not all(needle in lowered for needle in self.needles):
            return False, None
        return self.run(text)

    def live(self, lowered: str, present: frozenset[str] | set[str]) -> bool:
        """Whether the page can match: the gate was found and every other needle is in it."""
        if self.gate and self.gate not in present:
            return False
        return all(needle in lowered for needle in self.needles if needle != self.gate)

    def run(self, text: str) -> tuple[bool, str | None]:
        """(matched, version): the regex itself, no prefilter."""
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
    needles = required_literals(regex)
    return Pattern(
        re.compile(regex, _FLAGS), template if separator else None, needles, choose_gate(needles)
    )


class NeedleScanner:
    """Which of a fixed set of lowercase needles occur in a lowercased text, in one pass.

    One regex: for each anchor character (a needle's rarest), that character followed by
    an alternation of lookarounds, one per needle anchored there (``(?<=before)`` including
    the anchor, ``(?=after)``). The regex engine jumps between anchor characters in C and
    each match consumes one character, so every occurrence of every needle is reported.
    Same answer as ``{n for n in needles if n in lowered}``, in about the time of two or
    three ``in`` scans instead of one per needle.
    """

    def __init__(self, needles: Iterable[str]) -> None:
        self.needles = tuple(sorted({needle for needle in needles if needle}))
        by_anchor: dict[str, list[tuple[str, int]]] = {}
        for needle in self.needles:
            index = _anchor(needle)
            by_anchor.setdefault(needle[index], []).append((needle, index))
        self._by_anchor = {char: tuple(items) for char, items in by_anchor.items()}
        branches = []
        for char, items in self._by_anchor.items():
            # After the anchor: the rest of the needle, then a lookbehind for all of it. An
            # alternative starting with a literal is skipped by the engine at a glance.
            looks = sorted(
                (re.escape(needle[index + 1 :]) + f"(?<={re.escape(needle)})", needle)
                for needle, index in items
            )
            alternatives = "|".join(look for look, _ in looks)
            branches.append(f"{re.escape(char)}(?=(?:{alternatives}))")
        self._regex = re.compile("|".join(branches)) if branches else None

    def present(self, lowered: str) -> set[str]:
        found: set[str] = set()
        if self._regex is None:
            return found
        for match in self._regex.finditer(lowered):
            position = match.start()
            for needle, index in self._by_anchor[lowered[position]]:
                start = position - index
                if start >= 0 and needle not in found and lowered.startswith(needle, start):
                    found.add(needle)
        return found


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


@cache
def _scanners() -> dict[str, NeedleScanner]:
    """One scanner per source, over the gates of every pattern that reads it."""
    gates: dict[str, set[str]] = {source: set() for source in _SOURCES}
    for fingerprint in compiled_table():
        for source, patterns in fingerprint.sources:
            gates[source].update(pattern.gate for pattern in patterns if pattern.gate)
    return {source: NeedleScanner(needles) for source, needles in gates.items()}


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
        # The gates found in each source, in one scan per source (prefilter only).
        self.present: dict[str, set[str]] = {}
        if prefilter:
            scanners = _scanners()
            for source, lowered in self.lowered.items():
                self.present[source] = scanners[source].present(lowered) if lowered else set()

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
                prefiltered = lowered is not None and present is not None
                if prefiltered and not pattern.live(lowered or "", present or set()):
                    continue
                hit, version = pattern.run(text)
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
