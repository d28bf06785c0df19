"""The cheaper scans give what the plain ones they replaced give: the obfuscated-email
matches found from their "at" anchors against ``_OBFUSCATED.finditer`` over the whole text,
the phone finder's digit chains in the view with every digit written 0 against the text's,
and the email finder's ``[data-cfemail]`` shortcut in any case of the attribute."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainbatch.extract import extract
from domainbatch.extract.emails import _OBFUSCATED, _obfuscated_matches
from domainbatch.extract.phones import (
    _ZERO_DIGITS,
    _digit_chains,
    _digit_view,
    candidate_windows,
    min_digits,
)

# Pieces that make the obfuscated pattern's corner cases likely when strung together: brackets
# of every kind, spelled and bracketed at/dot in all cases, apostrophes (the one local character
# allowed before a start), long local runs, Unicode whitespace and letters that re.I folds to
# ASCII (the Kelvin sign, long s, dotless and dotted i).
PIECES = [
    *("a", "b", "Z", "0", "9", ".", "'", "-", "_", "+", "%", " ", "  ", "\n", "\t"),
    *("\u2003", "\u00a0", " " * 40, "at", "AT", "At", "aT", "dot", "DOT", "@"),
    *("[", "]", "(", ")", "{", "}", "<", ">", "com", "\u017f", "\u212a", "\u0130", "\u0131"),
    *("x" * 70, "john", "example", " at ", " dot ", "[at]", "(dot)", "{.}", "\u00e9", "o'"),
]


def _reference(text: str) -> list[tuple[tuple[int, int], tuple[str | None, ...]]]:
    return [(m.span(), m.groups()) for m in _OBFUSCATED.finditer(text)]


def _anchored(text: str) -> list[tuple[tuple[int, int], tuple[str | None, ...]]]:
    return [(m.span(), m.groups()) for m in _obfuscated_matches(text)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "jane [at] acme [dot] com and bob (at) acme.org",
        "write to o'brien [at] pubs (dot) ie, or x'y'z at mail dot com",
        "at at at example dot com",
        "a" * 80 + " (at) acme [dot] com",
        "meet us at the office at acme.com at noon",
        "jane \u2003 [ AT ]\n acme { dot } com",
        "jane[at]acme[dot]com jane[at]acme[dot]com",
    ],
)
def test_anchored_scan_matches_finditer_on_examples(text: str) -> None:
    assert _anchored(text) == _reference(text)


def test_anchored_scan_finds_the_examples_matches() -> None:
    # The comparison above must not pass vacuously: these texts do hold matches.
    assert len(_anchored("jane [at] acme [dot] com and bob (at) acme.org")) == 2


def test_anchored_scan_matches_finditer_on_random_pieces() -> None:
    rng = random.Random(20261201)
    for _ in range(20_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30)))
        assert _anchored(text) == _reference(text), text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=40))
def test_anchored_scan_matches_finditer_property(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert _anchored(text) == _reference(text)


@pytest.mark.parametrize("attribute", ["data-cfemail", "DATA-CFEMAIL", "Data-CfEmail"])
def test_cloudflare_attribute_found_in_any_case(attribute: str) -> None:
    # "jane@acme.com" XORed with 0x42, as Cloudflare writes it.
    encoded = "42" + bytes(b ^ 0x42 for b in b"jane@acme.com").hex()
    html = f'<p><span class="__cf_email__" {attribute}="{encoded}">[email]</span></p>'
    result = extract("https://acme.com/", [], html.encode())
    assert result["emails"] == ["jane@acme.com"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789 -./()x\u00a0a,"), max_size=80))
def test_digit_chains_in_the_zeroed_view_are_the_texts(text: str) -> None:
    # On Latin-1 text without "?" (which the view form reads as a wide character), the view
    # form, run over the view with every digit written 0, finds the text form's chains.
    chains = _digit_chains(min_digits("US"))
    assert chains is not None
    view = _digit_view(text)
    assert view is not None
    in_view = [m.span() for m in chains[1].finditer(view.translate(_ZERO_DIGITS))]
    assert in_view == [m.span() for m in chains[0].finditer(text)]


def test_digit_chains_found_in_the_zeroed_view() -> None:
    text = "Call (503) 555-0199 or 212.555.0123; then order 42."
    windows = candidate_windows(text, "US")
    covered = "".join(text[start:stop] for start, stop in windows)
    assert "(503) 555-0199" in covered
    assert "212.555.0123" in covered
    assert "42" not in covered  # too short a chain for any valid number
