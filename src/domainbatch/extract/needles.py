"""Fast literal prefilters for case-insensitive regexes run over whole pages.

Technology detection runs hundreds (with a user's database, thousands) of
case-insensitive regexes over a page; each runs only when the page holds the literals every
match must contain. This module makes those checks cheap:

* :func:`fold` lowercases a text the way the regex engine compares characters, one
  character for one (so positions in the folded text are positions in the text);
* :func:`choose_gates` picks each pattern's rarest literal, its *gate*;
* :class:`NeedleScanner` tells which of many gates a folded text holds in one pass
  (Aho-Corasick), where ``in`` would need one full scan per literal;
* :func:`literal_structure` reads a pattern for alternatives one of which every match
  contains (``(?:gtm\\.js|ns\\.html)``) and for how far before a literal a match can start,
  so a regex whose literals are present starts its search at their first occurrence
  instead of at the top of the page (``re`` is slow to scan for a case-insensitive regex).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ahocorasick_rs import AhoCorasick, Implementation

# How often each character appears in (lowercased) HTML, in percent, counted over real and
# generated pages: a gate made of rare characters is on few pages, so few regexes run.
_FREQUENCY = {
    " ": 7.29, "e": 6.56, "t": 6.16, "a": 5.02, "s": 4.06, "i": 4.04, "o": 3.97, "r": 3.95,
    "n": 3.58, ">": 3.28, "<": 3.27, "c": 3.21, "l": 3.13, '"': 3.05, "p": 2.86, "/": 2.86,
    "d": 2.66, "m": 2.26, "h": 2.22, "=": 1.45, ".": 1.31, "u": 1.25, "g": 1.23, "f": 1.21,
    "b": 1.04, "-": 1.0, "y": 0.93, "1": 0.89, "0": 0.79, ":": 0.78, "w": 0.77, "2": 0.69,
    "v": 0.69, "k": 0.56, "3": 0.5, "5": 0.46, "4": 0.46, ",": 0.43, "8": 0.4, "x": 0.34,
    "9": 0.33, "'": 0.32, "j": 0.31, "7": 0.31, "6": 0.31, "_": 0.26, ";": 0.2, "@": 0.18,
    "z": 0.15, "(": 0.14, ")": 0.14, "!": 0.13, "{": 0.12, "q": 0.12, "}": 0.11, "&": 0.1,
    "#": 0.07, "+": 0.07, "[": 0.06, "]": 0.06, "?": 0.05, "%": 0.04, "|": 0.04, "$": 0.03,
    "\\": 0.02, "*": 0.01, "~": 0.01, "`": 0.01, "^": 0.01,
}  # fmt: skip
_UNLISTED_FREQUENCY = 0.01  # other characters (non-ASCII): rare in markup
# Literals that look rare by their characters but are on nearly every page; as gates they
# made hundreds of fingerprints candidates on every page of the bench corpus.
_EVERYWHERE = frozenset(
    (".js", ".css", ".com", ".com/", "www.", "http", "https", "_blank", "stylesheet",
     "canonical", "preload", "noopener", "noreferrer", "javascript", "text/css", "class",
     "href", "type", "text", "true", "false", "style", "script", "content", "assets",
     "static", "image", "images", "icon", "button", "width", "height", "data-src", "www",
     "org", "net", "com", "min", "php", "cdn", "api", "img", "src", "font", "fonts",
     "link", "property", "application", "json", "html", "data", "index", "main")
)  # fmt: skip


def fold(text: str) -> str:
    """``text`` lowercased as the ``re.IGNORECASE`` engine matches, one character for one.

    ``str.lower`` maps "İ" to two characters, and leaves "ı" and "ſ", which the engine
    matches to "i" and "s": those three are mapped to "i", "i" and "s", so a literal the
    regex can match is in the folded text at the same position.
    """
    if text.isascii():
        return text.lower()
    if "\u0130" in text:
        text = text.replace("\u0130", "i")
    lowered = text.lower()
    if "\u0131" in lowered:
        lowered = lowered.replace("\u0131", "i")
    if "\u017f" in lowered:
        lowered = lowered.replace("\u017f", "s")
    return lowered


def char_frequency(char: str) -> float:
    return _FREQUENCY.get(char, _UNLISTED_FREQUENCY) / 100.0


def commonness(literal: str) -> float:
    """How likely ``literal`` is at a given place of a page (log scale; lower is rarer).

    Characters are not independent: a plain word ("content", "config") is far more common
    than its letters suggest, so an all-letter literal counts half as rare.
    """
    if literal in _EVERYWHERE:
        return 0.0
    score = sum(math.log(char_frequency(char)) for char in literal)
    return score / 2 if literal.isalpha() else score


def choose_gates(
    needles: Iterable[str], choices: Iterable[tuple[str, ...]] = ()
) -> tuple[str, ...]:
    """What to look for first, of the literals a pattern's matches all hold: its rarest
    needle, or a choice (any one of which is enough) when that is rarer; () when none."""
    candidates: list[tuple[float, tuple[str, ...]]] = [
        (commonness(needle), (needle,)) for needle in needles if needle
    ]
    for choice in choices:
        if choice and all(len(option) >= 3 for option in choice):
            worst = max(commonness(option) for option in choice)
            candidates.append((worst + math.log(len(choice)), choice))
    return min(candidates)[1] if candidates else ()


DFA_NEEDLES = 2_500


class NeedleScanner:
    """Which of a fixed set of lowercase needles occur in a folded text, in one pass.

    An Aho-Corasick automaton (``ahocorasick_rs``, Rust) over all needles: one linear scan
    of the text reports every occurrence, overlapping ones included. Measured on the bench
    corpus (0.84 MB per pass): with the 3,904 script-URL gates of a 7,291-technology
    database, 8.6 ms per pass against 156 ms for one regex per anchor character (the scanner
    it replaced) and 19.9 ms for pyahocorasick; with our own table's ~100 gates, 2.7 ms
    against 9.0 and 11.3. The answer is exactly ``{n for n in needles if n in folded}``.
    """

    def __init__(self, needles: Iterable[str]) -> None:
        self.needles = tuple(sorted({needle for needle in needles if needle}))
        # A DFA scans faster, but grows with its needles. Measured with callgrind over the
        # bench corpus, whole extraction with the 7,291-technology database added: 798 M
        # instructions per pass with NFAs, 766 M with DFAs (our table alone: 604 -> 576 M);
        # an extraction process held 58 MB after loading with NFAs, 88 MB with DFAs, 74 MB
        # with DFAs up to DFA_NEEDLES only (the script URLs' 4,770 gates keep an NFA; the
        # big haystack, the HTML, has fewer), as fast as all DFAs.
        kind = Implementation.DFA if len(self.needles) <= DFA_NEEDLES else None
        self._automaton = AhoCorasick(self.needles, implementation=kind) if self.needles else None

    def present(self, folded: str) -> set[str]:
        """The needles that occur in ``folded`` (a :func:`fold`-ed text)."""
        if self._automaton is None or not folded:
            return set()
        needles = self.needles
        return {
            needles[index]
            for index, _, _ in self._automaton.find_matches_as_indexes(folded, overlapping=True)
        }


@dataclass(frozen=True)
class LiteralStructure:
    """What every match of a pattern holds, read from the parsed pattern.

    ``choices``: groups of alternatives, one of each group in every match (lowercased).
    ``leads``: (literal, n) for literals at the pattern's top level with at most ``n``
    characters of the match before them, so no match starts before ``first occurrence - n``.
    """

    choices: tuple[tuple[str, ...], ...] = ()
    leads: tuple[tuple[str, int], ...] = ()


def _literal_text(items: Iterable[tuple[object, object]], literal: object) -> str | None:
    """The lowercased text of ``items`` when every item is a literal character, else None."""
    chars = []
    for op, value in items:
        if op is not literal or not isinstance(value, int):
            return None
        char = chr(value).lower()
        if len(char) != 1:
            return None
        chars.append(char)
    return "".join(chars)


def _required_choice(items: list[tuple[Any, Any]], constants: Any) -> tuple[str, ...] | None:
    """Lowercased literals one of which every match of ``items`` (a parsed sequence) holds:
    its rarest literal run of 3+ characters, else what a required group or an alternation
    of such sequences holds, else its longest shorter run; None when there is none."""
    runs: list[str] = []
    run: list[str] = []
    for op, value in [*items, (None, None)]:
        text = _literal_text([(op, value)], constants.LITERAL) if op is not None else None
        if text is not None:
            run.append(text)
            continue
        if run:
            runs.append("".join(run))
        run = []
    long_runs = [text for text in runs if len(text) >= 3]
    if long_runs:
        return (min(long_runs, key=commonness),)
    for op, value in items:
        found: tuple[str, ...] | None = None
        if op is constants.SUBPATTERN:
            found = _required_choice(list(value[-1].data), constants)
        elif op is constants.BRANCH:
            options = [_required_choice(list(option.data), constants) for option in value[1]]
            if all(options):
                found = tuple(
                    dict.fromkeys(text for option in options if option for text in option)
                )
        elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and value[0] >= 1:
            found = _required_choice(list(value[2].data), constants)
        if found and all(len(text) >= 3 for text in found):
            return found
    return (max(runs, key=len),) if runs else None


def literal_structure(pattern: str, flags: int, needles: Iterable[str]) -> LiteralStructure:
    """:class:`LiteralStructure` of ``pattern``; empty when anything is unexpected.

    ``needles`` are the literals whose leads are wanted (runs of top-level literals
    contain them). Uses the ``re`` module's own parser, so it reads what ``re`` matches.
    """
    try:
        # The parser behind re.compile (private, hence the lookup; any change is caught).
        constants = importlib.import_module("re._constants")
        parser = importlib.import_module("re._parser")
        parsed = parser.parse(pattern, flags)
        literal = constants.LITERAL
        unbounded = constants.MAXREPEAT
        choices: list[tuple[str, ...]] = []
        runs: list[tuple[str, int]] = []  # (top-level literal run, characters before it)
        width: int | None = 0  # the most characters a match can have consumed so far
        run: list[str] = []
        run_start: int | None = 0

        def flush() -> None:
            if run and run_start is not None:
                runs.append(("".join(run), run_start))
            run.clear()

        for op, value in parsed.data:
            text = _literal_text([(op, value)], literal)
            if text is not None:
                if not run:
                    run_start = width
                run.append(text)
            else:
                flush()
                choice = _required_choice([(op, value)], constants)
                if choice:
                    choices.append(choice)
            high = parser.SubPattern(parsed.state, [(op, value)]).getwidth()[1]
            width = None if width is None or high >= unbounded else width + high
        flush()
        leads = []
        for needle in needles:
            for text, before in runs:
                if needle in text:
                    leads.append((needle, before + text.index(needle)))
                    break
        return LiteralStructure(tuple(choices), tuple(leads))
    except Exception:  # pragma: no cover - the parser's internals changed: no shortcut
        return LiteralStructure()
