"""The literal prefilters behind technology detection: they must never change a result."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainbatch.extract.document import Document
from domainbatch.extract.fingerprint_table import builtin_table
from domainbatch.extract.needles import (
    NeedleScanner,
    choose_gates,
    fold,
    literal_structure,
)
from domainbatch.extract.technologies import detect_technologies

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
_FLAGS = re.I | re.M


def _gates(only: str | None = None) -> list[str]:
    return sorted(
        {
            gate
            for fingerprint in builtin_table().fingerprints
            for source, patterns in fingerprint.sources
            for pattern in patterns
            for gate in pattern.gates
            if only in (None, source)
        }
    )


def _literals() -> list[str]:
    """Every literal the table's patterns need, with a few case and Unicode twists."""
    found = set(_gates())
    for fingerprint in builtin_table().fingerprints:
        for _, patterns in fingerprint.sources:
            for pattern in patterns:
                found.update(pattern.needles)
                for choice in pattern.choices:
                    found.update(choice)
    return sorted(found)


def test_fold_keeps_positions_and_folds_like_the_regex_engine() -> None:
    text = "İstanbul ıi ſtatic KELVIN \u212a Straße WP-Content"
    folded = fold(text)
    assert len(folded) == len(text)
    assert folded == "istanbul ii static kelvin k straße wp-content"
    for char in "İıſ\u212aAZ":
        for literal in ("i", "s", "k", "a", "z"):
            if re.fullmatch(literal, char, re.I):
                assert fold(char) == literal, char


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_literals()),
            st.sampled_from(["-", "_", ".", "/", " ", "\n", "x", "w", "j", "q", "(", "ſ", "ı"]),
            st.text(max_size=8),
        ),
        max_size=400,
    ).map("".join)
)
def test_scanner_finds_exactly_the_needles_in_the_text(text: str) -> None:
    scanner = NeedleScanner(_gates())
    folded = fold(text)
    expected = {needle for needle in scanner.needles if needle in folded}
    assert scanner.present(folded) == expected


def test_scanner_reports_overlapping_needles() -> None:
    needles = ["__nuxt", "__nuxt_data__", "window.__nuxt__", "nuxt_d", "xt"]
    scanner = NeedleScanner(needles)
    text = "window.__nuxt__ = 1; var a = '__nuxt_data__'"
    assert scanner.present(text) == set(needles)
    assert scanner.present("") == set()
    assert NeedleScanner([]).present(text) == set()


def test_gates_prefer_rare_literals_over_words() -> None:
    assert choose_gates(("/wp-",), (("content", "includes"),)) == ("/wp-",)
    assert choose_gates(("gtag(", "config")) == ("gtag(",)
    assert choose_gates((), (("matomo", "piwik"), ("js", "php"))) == ("matomo", "piwik")
    assert choose_gates(()) == ()


@pytest.mark.parametrize(
    ("pattern", "choices", "leads"),
    [
        (r"/wp-(?:content|includes)/", (("content", "includes"),), (("/wp-", 0),)),
        (r"\sng-version=[\"']([\d.]+)", (), (("ng-version=", 1),)),
        (r"class=[\"'][^\"']*elementor-kit-\d", (), (("class=", 0),)),
        (r"^https?://[^/]+\.myshopify\.com", (), (("http", 0),)),
        (r"a|bcd", (), ()),  # "a" is too short to look for
        (
            r"StoryblokBridge|api(?:-[a-z]+)?\.storyblok\.com",
            (("storyblokbridge", ".storyblok.com"),),
            (),
        ),
        # re's parser moves the alternatives' common "<" out of the alternation.
        (r"(?:<!--Grand |<a[^>]+grand - by )", (("!--grand ", "grand - by "),), ()),
        (r"(?:^|\s)x-app", (), (("x-app", 1),)),
        (r"(?:core/)?misc/drupal\.js", (), (("misc/drupal.js", 5),)),
    ],
)
def test_literal_structure(
    pattern: str, choices: tuple[tuple[str, ...], ...], leads: tuple[tuple[str, int], ...]
) -> None:
    needles = [literal for literal, _ in leads] + ["elementor-kit-", "://", ".myshopify.com"]
    structure = literal_structure(pattern, _FLAGS, needles)
    assert structure.choices == choices
    assert set(leads) <= set(structure.leads)
    for needle, _ in structure.leads:
        assert needle not in ("elementor-kit-", ".myshopify.com")  # after an unbounded run


def test_every_table_pattern_can_start_where_its_leads_say() -> None:
    # A search from the bound gives the same match as a search from the top.
    filler = "<div class='x'>" * 50
    for fingerprint in builtin_table().fingerprints:
        for _, patterns in fingerprint.sources:
            for pattern in patterns:
                for needle, _ in pattern.leads:
                    text = f"{filler}{needle.upper()}{filler}{needle}1.2.3/ ' {filler}"
                    start = pattern.start(fold(text), set(pattern.gates))
                    if start is not None:
                        assert pattern.run(text, start) == pattern.run(text), pattern.regex


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_literals()),
            st.sampled_from(["'", '"', "=", " ", "<", ">", "/", "1.2.3", "-", "_", "G-", "UA-"]),
            st.sampled_from(["<script src='", "<link href='", "<meta name='generator' content='"]),
        ),
        max_size=80,
    ).map("".join)
)
def test_prefilter_never_changes_results_on_generated_pages(html: str) -> None:
    for text in (html, html.upper()):
        doc = Document("https://acme.test/", [], text.encode())
        assert detect_technologies(doc) == detect_technologies(doc, prefilter=False)


def test_prefilter_never_changes_results_on_fixtures() -> None:
    for path in sorted(PAGES.glob("*.html")):
        doc = Document("https://acme.test/", [], path.read_bytes())
        assert detect_technologies(doc) == detect_technologies(doc, prefilter=False), path.name
