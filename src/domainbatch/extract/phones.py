"""Phone numbers in E.164: ``tel:`` links, JSON-LD and visible text (phonenumbers).

Only numbers phonenumbers considers *valid* for their region are kept, which filters out
most prices and reference numbers. Text is scanned with ``Leniency.VALID`` over a bounded
prefix; numbers without a ``+`` prefix are read in the region given (the page's own, or the
batch's: ``extract.region``). Text matches that are valid but still not a phone (dates and
times, figures, identifiers, labelled numbers) are dropped by ``extract.lookalikes``. A
declared number (a ``tel:`` link, a JSON-LD telephone) that does not parse as written is
tried once more without what follows it, and with the ``+`` it lacks.

phonenumbers' matcher is slow on long texts (its candidate regex tries every position, and
every short digit run such as "Post 12" costs a parse), so it only runs on *windows*: a
cheap pre-scan finds digit chains long enough to hold a valid number (see
:func:`min_digits`), and each window spans the run of characters a phone match could
contain around such a chain, from and to a character no match can contain. The matcher
never looks past those characters, so each window gives what a scan of the whole text gives
there; skipped text holds no valid number. Short digit runs no longer use up the matcher's
budget of failed candidates (``MAX_MATCHER_TRIES``), which the windows share, and which
valid numbers refused by the guards also use up (a page of SKUs stays cheap).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from urllib.parse import unquote

import phonenumbers

from domainbatch.extract.document import Document
from domainbatch.extract.lookalikes import is_lookalike

MAX_PHONES = 25
MAX_TEXT_CHARS = 100_000
MAX_MATCHER_TRIES = 200
MAX_TEXT_MATCHES = 200

_MAX_DIGIT_GAP = 4  # phonenumbers' _PUNCTUATION_LIMIT
_LOOKBACK_CHARS = 64
_MAX_WIDE_CHECKS = 1_000  # characters above U+00FF looked at before reading \d instead
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")  # same length: positions kept


def _private_text(module: str, name: str) -> str:
    """A string constant of phonenumbers' internals (AttributeError/TypeError if gone)."""
    from phonenumbers import phonenumbermatcher, phonenumberutil

    modules = {"phonenumbermatcher": phonenumbermatcher, "phonenumberutil": phonenumberutil}
    value = getattr(modules[module], name)
    if not isinstance(value, str):
        raise TypeError(f"phonenumbers {name} is not a string")
    return value


def _phone_characters() -> str:
    """A character class (no brackets) of every character a phonenumbers match may contain.

    Built from phonenumbers' own building blocks (digits, punctuation, plus signs, brackets,
    every character of its extension patterns such as "ext", "#", "доб"), so it is a superset
    of what its candidate pattern accepts; compiled with the same flags (case-insensitive).
    """
    literals = {"\t"}
    literals.update(_private_text("phonenumberutil", "_EXTN_PATTERNS_FOR_MATCHING"))
    literals.update(_private_text("phonenumberutil", "_PLUS_CHARS"))
    literals.update(_private_text("phonenumbermatcher", "_OPENING_PARENS"))
    literals.update(_private_text("phonenumbermatcher", "_CLOSING_PARENS"))
    # _VALID_PUNCTUATION is written for a character class (it holds ranges such as
    # U+2010-U+2015 and starts with "-"), so it goes first, as is.
    return (
        _private_text("phonenumberutil", "_VALID_PUNCTUATION")
        + "\\d"
        + "".join(re.escape(char) for char in sorted(literals))
    )


@cache
def _phone_run() -> re.Pattern[str] | None:
    """A run of phone characters; None when phonenumbers' internals changed (no pre-scan)."""
    try:
        return re.compile(f"[{_phone_characters()}]*", re.IGNORECASE | re.UNICODE)
    except (AttributeError, ImportError, TypeError, re.error):  # pragma: no cover
        return None


def _shortest_number(country_code: int, region: str) -> int:
    """The fewest national significant digits a valid number of ``region`` can have."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    general = metadata.general_desc if metadata is not None else None
    lengths = [n for n in (general.possible_length if general is not None else ()) if n > 0]
    return min(lengths, default=1)


@cache
def min_digits(region: str) -> int:
    """The fewest digits a valid number written in text can show, read in ``region``.

    Validity requires the national significant number's length to be one of the region's
    possible lengths; a number written with its country code (``+``, or an international
    prefix) shows those digits too. So: the shortest national number of ``region``'s country
    code, or of any country code plus its own digits, whichever is fewer. Loads all of
    phonenumbers' region metadata once (about 40 ms, 1.5 MB). 1 when unsure.
    """
    try:
        shortest = min(
            len(str(code)) + _shortest_number(code, member)
            for code, members in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
            for member in members
        )
        code = phonenumbers.country_code_for_region(region)
        for member in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
            shortest = min(shortest, _shortest_number(code, member))
        return max(1, shortest)
    except Exception:  # pragma: no cover - defensive: metadata layout changed
        return 1


@cache
def _digit_chains(digits: int) -> tuple[re.Pattern[str], re.Pattern[bytes]] | None:
    """``digits`` digits or more, each block separated from the next by at most
    ``_MAX_DIGIT_GAP`` of phonenumbers' punctuation characters (as in its candidate pattern,
    where a number's own digits all sit); None when phonenumbers' internals changed.

    Two forms: for the text (``\\d``), and for its :func:`_digit_view` with every digit
    written 0 (``_ZERO_DIGITS``), where "?" may stand for any punctuation above U+00FF. The
    view form starts with the literal "0", which the regex engine finds at memchr speed: 0.01-0.1
    ms per page of the bench's where ``[0-9]`` took 0.04-0.26 ms (translating included).
    """
    try:
        punctuation = _private_text("phonenumberutil", "_VALID_PUNCTUATION")
        flags = re.IGNORECASE | re.UNICODE
        repeat = f"{{{max(0, digits - 1)},}}"
        text_form = re.compile(rf"\d(?:[{punctuation}]{{0,{_MAX_DIGIT_GAP}}}\d){repeat}", flags)
        single = re.compile(f"[{punctuation}]", flags)
        latin = bytes(code for code in range(256) if single.match(chr(code))) + b"?"
        if re.search(b"[0-9]", latin):  # a digit as punctuation: no pre-scan
            raise TypeError("phonenumbers punctuation holds a digit")
        gap = b"[" + re.escape(latin) + b"]{0,%d}" % _MAX_DIGIT_GAP
        view_form = re.compile(b"0(?:" + gap + b"0)" + repeat.encode())
        return text_form, view_form
    except (AttributeError, ImportError, TypeError, re.error):  # pragma: no cover
        return None


def _digit_view(text: str) -> bytes | None:
    """``text`` as Latin-1 bytes, one byte per character (so positions are kept), with "?"
    for every character above U+00FF; None when one of those is a decimal digit (or there
    are too many to check), since the view has no other digits than 0-9."""
    view = text.encode("latin-1", "replace")
    if view.count(b"?") == text.count("?"):
        return view  # nothing replaced
    position = view.find(b"?")
    for _ in range(_MAX_WIDE_CHECKS):
        if position < 0:
            return view
        char = text[position]
        if char != "?" and char.isdecimal():
            return None
        position = view.find(b"?", position + 1)
    return None


def _run_start(text: str, position: int, floor: int, run: re.Pattern[str]) -> int:
    """Where the run of phone characters ending at ``position`` starts, minus the one
    character before it (the matcher reads it); ``floor`` when the run reaches it."""
    while position > floor:
        lookback = max(floor, position - _LOOKBACK_CHARS)
        piece = text[lookback:position][::-1]
        match = run.match(piece)
        length = match.end() if match is not None else 0
        position -= length
        if length < len(piece):
            return position - 1
    return floor


def candidate_windows(text: str, region: str) -> list[tuple[int, int]]:
    """(start, end) spans of ``text``, in order, that hold every number the matcher can find.

    Each span starts on a character no phone match contains (or at 0) and ends just after
    one (or at the end), so a matcher run on the span sees the same candidates, and the same
    characters around them, as one run on the whole text.
    """
    run, chains = _phone_run(), _digit_chains(min_digits(region))
    if run is None or chains is None:  # pragma: no cover - phonenumbers changed: no pre-scan
        return [(0, len(text))] if text else []
    view = _digit_view(text)
    # Both forms give match positions in the text (the view keeps them).
    found: Iterable[re.Match[str] | re.Match[bytes]] = (
        chains[1].finditer(view.translate(_ZERO_DIGITS))
        if view is not None
        else chains[0].finditer(text)
    )
    windows: list[tuple[int, int]] = []
    for chain in found:
        previous_end = windows[-1][1] if windows else 0
        if chain.end() <= previous_end:
            continue
        run_end = run.match(text, chain.end())
        stop = min(len(text), (run_end.end() if run_end is not None else chain.end()) + 1)
        if chain.start() < previous_end:
            windows[-1] = (windows[-1][0], stop)
            continue
        # The previous window ends on a boundary character: this run may start right after it.
        start = _run_start(text, chain.start(), max(0, previous_end - 1), run)
        if windows and start < previous_end:
            windows[-1] = (windows[-1][0], stop)
        else:
            windows.append((start, stop))
    return windows


def normalize_region(region: str | None) -> str:
    """An ISO 3166 alpha-2 region phonenumbers knows, or ``"ZZ"`` (international only)."""
    code = (region or "").strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else "ZZ"


def parse_phone(raw: str, region: str) -> str | None:
    """``raw`` as an E.164 string when it is a valid number, else None."""
    raw = raw.strip()[:64]
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


# A declared number up to its last digit: without dialling pauses (p, w) or notes after it.
_NUMBER_PREFIX = re.compile(r"[+\d\s().\-/\u00a0\u2010-\u2015]*\d")


def _declared_forms(raw: str) -> list[str]:
    """Other readings of a declared number (a tel: link, a JSON-LD telephone) that did not
    parse as written: its number without what follows it, with "+" for a leading
    international "00" or a missing "+"."""
    prefix = _NUMBER_PREFIX.match(raw.strip())
    number = prefix.group().strip() if prefix else ""
    forms = [number]
    if number.startswith("00"):
        forms.append("+" + number[2:])
    elif number[:1].isdigit():
        forms.append("+" + number)
    return forms


def parse_declared(raw: str, region: str) -> str | None:
    """``raw``, declared a number, in E.164 when one reading (:func:`_declared_forms`) is valid."""
    found = parse_phone(raw, region)
    if found is not None:
        return found
    for form in _declared_forms(raw[:64]):
        found = parse_phone(form, region)
        if found is not None:
            return found
    return None


def _tel_targets(doc: Document) -> list[str]:
    targets: list[str] = []
    for href in doc.anchor_hrefs:
        if href[:4].lower() == "tel:":
            targets.append(unquote(href[4:]).split(";", 1)[0])
    return targets


def find_phones(doc: Document, region: str, extra: Iterable[str | None] = ()) -> list[str]:
    region = normalize_region(region)
    found: list[str] = []

    def add(e164: str | None) -> bool:
        if e164 and e164 not in found:
            found.append(e164)
        return len(found) < MAX_PHONES

    for raw in [*_tel_targets(doc), *(value for value in extra if value)][:MAX_TEXT_MATCHES]:
        if not add(parse_declared(raw, region)):
            return found
    text = doc.visible_text[:MAX_TEXT_CHARS]
    tries = MAX_MATCHER_TRIES
    matches = 0
    for start, stop in candidate_windows(text, region):
        if tries <= 0:
            break
        matcher = phonenumbers.PhoneNumberMatcher(
            text[start:stop], region, leniency=phonenumbers.Leniency.VALID, max_tries=tries
        )
        dropped = 0  # valid numbers our guards refuse count as failed tries too
        for match in matcher:
            matches += 1
            if matches > MAX_TEXT_MATCHES:
                return found
            if is_lookalike(match.raw_string, text, start + match.start):
                dropped += 1
                continue
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            if not add(str(e164)):
                return found
        # The matcher counts down its failed candidates; the windows share one budget.
        left = getattr(matcher, "_max_tries", None)
        tries = (left if isinstance(left, int) else tries - 1) - dropped
    return found
