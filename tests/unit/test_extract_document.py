"""The parsed page: the visible text walk by tag ids must equal the walk by tag names."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from domainbatch.extract.document import Document, _visible_text_by_name

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
_TAGS = [
    *("p", "div", "span", "a", "li", "ul", "td", "tr", "table", "br", "h2", "section"),
    *("script", "style", "noscript", "template", "iframe", "textarea", "svg", "title"),
    *("my-widget", "head", "option", "select", "pre", "b"),
]


def _fragment() -> st.SearchStrategy[str]:
    text = st.text(alphabet="ab 12\n<&;", max_size=6)
    opening = st.sampled_from(_TAGS).map(lambda tag: f"<{tag}>")
    closing = st.sampled_from(_TAGS).map(lambda tag: f"</{tag}>")
    return st.lists(st.one_of(text, opening, closing), max_size=40).map("".join)


def _both(html: bytes) -> tuple[str, str]:
    doc = Document("https://acme.test/", [], html)
    body = doc.tree.body
    return doc.visible_text, _visible_text_by_name(body) if body is not None else ""


@settings(max_examples=300, deadline=None)
@given(_fragment())
def test_visible_text_by_ids_equals_by_names(html: str) -> None:
    by_ids, by_names = _both(f"<html><body>{html}</body></html>".encode())
    assert by_ids == by_names


def test_visible_text_by_ids_equals_by_names_on_fixtures() -> None:
    for path in sorted(PAGES.glob("*.html")):
        by_ids, by_names = _both(path.read_bytes())
        assert by_ids == by_names, path.name
