"""Fast literal prefilters for case-insensitive regexes run over whole pages.

Technology detection runs about a hundred case-insensitive regexes over a page's HTML;
each runs only when the page holds the literals every match must contain. This module
makes those checks cheap:

* :func:`fold` lowercases a text the way the regex engine compares characters, one
  character for one (so positions in the folded text are positions in the text);
* :class:`NeedleScanner` tells which of many literals a folded text holds in a few passes,
  where ``in`` would need one full scan per literal;
* :func:`literal_structure` reads a pattern for alternatives one of which every match
  contains (``(?:gtm\\.js|ns\\.html)``) and for how far before a literal a match can start,
  so a regex whose literals are present starts its search at their first occurrence
  instead of at the top of the page (``re`` is slow to scan for a case-insensitive regex).
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

# How often each character appears in (lowercased) HTML, in percent, counted over real and
# generated pages. Anchoring a literal on a rare character makes the scan stop seldom.
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
# Cost model of one anchored regex over 100,000 characters, in nanoseconds: the scan for
# its anchor character (memchr-fast), plus, at each anchor, entering the match and one
# look per alternative (a quick one when a literal follows the anchor). Fitted on the
# bench corpus with CPython 3.11's re.
_SCAN_NS = 30_000.0
_HIT_NS = 40.0
_ALTERNATIVE_NS = 12.0
_LOOKBEHIND_NS = 40.0
SHORT_TEXT = 2_048  # below this many characters, one ``in`` per literal is as fast


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


def assign_anchors(needles: Iterable[str]) -> dict[str, int]:
    """For each needle, the index of the character its scan is anchored on.

    Greedy weighted set cover under the cost model above: a few rare characters that
    together appear in every needle, so the needles are found with few, fast scans.
    """
    uncovered = sorted({needle for needle in needles if needle})
    chosen: dict[str, list[str]] = {}
    while uncovered:
        best, best_cost = "", 0.0
        for char in sorted({char for needle in uncovered for char in needle}):
            covered = [needle for needle in uncovered if char in needle]
            hits = char_frequency(char) * 100_000
            # An alternative with nothing after the anchor starts with its lookbehind,
            # which runs at every anchor instead of failing at a glance.
            cost = hits * sum(
                _ALTERNATIVE_NS if needle.index(char) + 1 < len(needle) else _LOOKBEHIND_NS
                for needle in covered
            )
            if char not in chosen:
                cost += _SCAN_NS + hits * _HIT_NS
            if not best or cost / len(covered) < best_cost:
                best, best_cost = char, cost / len(covered)
        chosen.setdefault(best, []).extend(needle for needle in uncovered if best in needle)
        uncovered = [needle for needle in uncovered if best not in needle]
    return {needle: needle.index(char) for char, group in chosen.items() for needle in group}


@dataclass(frozen=True)
class _AnchorGroup:
    regex: re.Pattern[str]
    needles: tuple[str, ...]  # by capturing group (group i + 1 is needles[i])
    # For each needle, the others of the group that can match at the same anchor position.
    partners: tuple[tuple[tuple[str, int], ...], ...]


def _compatible(first: str, first_anchor: int, second: str, second_anchor: int) -> bool:
    """Whether both needles can occur with their anchors on the same character."""
    shift = first_anchor - second_anchor  # second starts at first's index ``shift``
    for index, char in enumerate(second):
        other = index + shift
        if 0 <= other < len(first) and first[other] != char:
            return False
    return True


class NeedleScanner:
    """Which of a fixed set of lowercase needles occur in a folded text, in few passes.

    The needles are split by anchor character (:func:`assign_anchors`); each group is one
    regex, the anchor followed by a lookahead with one alternative per needle: the rest of
    the needle, then a lookbehind over the whole of it. A regex that starts with one literal
    character is scanned at memchr speed, an alternative starting with a literal is skipped
    at a glance, and each match consumes only the anchor, so every occurrence is seen. The
    answer is exactly ``{needle for needle in needles if needle in folded}``.
    """

    def __init__(self, needles: Iterable[str]) -> None:
        self.needles = tuple(sorted({needle for needle in needles if needle}))
        anchors = assign_anchors(self.needles)
        by_char: dict[str, list[str]] = {}
        for needle in self.needles:
            by_char.setdefault(needle[anchors[needle]], []).append(needle)
        groups = []
        for char, members in sorted(by_char.items()):
            # The empty group at the end names the needle (match.lastindex); put first, it
            # would hide the literal the engine checks to skip an alternative.
            alternatives = "|".join(
                f"{re.escape(needle[anchors[needle] + 1 :])}(?<={re.escape(needle)})()"
                for needle in members
            )
            partners = tuple(
                tuple(
                    (other, anchors[other])
                    for other in members
                    if other != needle
                    and _compatible(needle, anchors[needle], other, anchors[other])
                )
                for needle in members
            )
            regex = re.compile(f"{re.escape(char)}(?=(?:{alternatives}))")
            groups.append(_AnchorGroup(regex, tuple(members), partners))
        self._groups = tuple(groups)

    def present(self, folded: str) -> set[str]:
        """The needles that occur in ``folded`` (a :func:`fold`-ed text)."""
        if len(folded) <= SHORT_TEXT:
            return {needle for needle in self.needles if needle in folded}
        found: set[str] = set()
        for group in self._groups:
            for match in group.regex.finditer(folded):
                index = (match.lastindex or 1) - 1
                found.add(group.needles[index])
                position = match.start()
                for other, anchor in group.partners[index]:
                    start = position - anchor
                    if other not in found and start >= 0 and folded.startswith(other, start):
                        found.add(other)
        return found


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
        literal, branch = constants.LITERAL, constants.BRANCH
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
                if op is branch:
                    options = [_literal_text(option, literal) for option in value[1]]
                    if all(options):
                        choices.append(tuple(option for option in options if option))
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
