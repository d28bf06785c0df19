"""One fingerprint pattern, compiled: its regex, version template and literal prefilter.

A pattern is a case-insensitive regex whose Wappalyzer tags were parsed off
(``wappalyzer.translation``): a version template (``\\;version:\\1``), a confidence, and
our ``\\;site:own`` (``extract.fingerprints``). Compiling reads the literals every match
must contain (:func:`required_literals`, plus groups of literal alternatives), so a regex
runs only on text that holds them; its *gate*, the rarest, is what the page's one scan
looks for (``extract.needles``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domainbatch.extract.needles import choose_gates, literal_structure
from domainbatch.extract.provenance import MAX_SITE_CHECKS, Site

_VERSION = re.compile(r"^[A-Za-z0-9][\w.+-]{0,29}$")
_FLAGS = re.I | re.M
_GROUP_REFERENCE = re.compile(r"\\(\d)")
# Wappalyzer's conditional template: "\1?found:missing".
_TERNARY = re.compile(r"^\\(\d)\?([^:]*):(.*)$")


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
    template: str | None  # the version: only from this, as in Wappalyzer (``\\1``: group 1)
    needles: tuple[str, ...]  # lowercased literals every match contains
    gates: tuple[str, ...] = ()  # every match holds one: looked for in the page's one scan
    choices: tuple[tuple[str, ...], ...] = ()  # every match holds one of each group
    leads: tuple[tuple[str, int], ...] = ()  # (needle, most characters of a match before it)
    own_site: bool = False  # a match counts only in a URL of the page's own site
    confidence: int = 100  # what a match adds to its technology's confidence (Wappalyzer)

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

    def run(self, text: str, start: int = 0, site: Site | None = None) -> tuple[bool, str | None]:
        """(matched, version): the regex itself, searched from ``start``, no prefilter.
        For an ``own_site`` pattern, the first match in a URL ``site`` owns."""
        match = self.regex.search(text, start)
        if self.own_site:
            match = self._owned(text, match, site)
        if match is None:
            return False, None
        version = _fill(self.template, match) if self.template is not None else None
        if version is not None and not _VERSION.match(version):
            version = None
        return True, version

    def _owned(
        self, text: str, match: re.Match[str] | None, site: Site | None
    ) -> re.Match[str] | None:
        """``match`` or the first later one in a URL of ``site``; None past a bound."""
        for _ in range(MAX_SITE_CHECKS):
            if match is None or (site is not None and site.owns(text, match.start())):
                return match
            match = self.regex.search(text, max(match.end(), match.start() + 1))
        return None


def _fill(template: str, match: re.Match[str]) -> str:
    """``template`` with ``\\N`` replaced by group N of ``match`` ("" when absent)."""
    if template == "\\1":  # the usual template (every versioned pattern of ours): no regex
        return (match.group(1) or "") if match.re.groups else ""
    groups = match.groups()

    def group(number: int) -> str:
        return (groups[number - 1] or "") if 0 < number <= len(groups) else ""

    ternary = _TERNARY.match(template)
    if ternary:
        chosen = ternary.group(2) if group(int(ternary.group(1))) else ternary.group(3)
        return _GROUP_REFERENCE.sub(lambda ref: group(int(ref.group(1))), chosen)
    if "\\" not in template:
        return template
    return _GROUP_REFERENCE.sub(lambda ref: group(int(ref.group(1))), template)


def compile_regex(
    regex: str, template: str | None, *, own_site: bool = False, confidence: int = 100
) -> Pattern:
    """A :class:`Pattern` from its parts; ``re.error`` when ``regex`` does not compile."""
    compiled = re.compile(regex, _FLAGS)
    needles = required_literals(regex)
    structure = literal_structure(regex, _FLAGS, needles)
    gates = choose_gates(needles, structure.choices)
    return Pattern(
        compiled,
        template,
        needles,
        gates,
        structure.choices,
        structure.leads,
        own_site,
        confidence,
    )
