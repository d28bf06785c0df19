"""The prefilter of a Wappalyzer-format table: which fingerprints a page can match.

What a gate promises: a page without it cannot match, so skipping the fingerprint changes
no result. These tests check the gates read from CSS selectors, from ``dom`` checks and
from named evidence (headers, meta tags, cookies), then compare with the prefilter off.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainbatch.extract.document import Document
from domainbatch.extract.fingerprint_table import FingerprintTable
from domainbatch.extract.technologies import Evidence, detect_technologies
from domainbatch.extract.wappalyzer import translate_database
from domainbatch.extract.wappalyzer.translation import Translator, _selector_gates

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"


@pytest.mark.parametrize(
    ("selector", "gates"),
    [
        # One literal for each selector of a list: the page holds one of them.
        ("header#sp-header, body.helix-ultimate", ("sp-header", "helix-ultimate")),
        # An attribute's value is a better gate than its name ("href" is everywhere).
        # Its rarest word: markup may write "/" or " " as a character reference.
        ("link[href*='app.adjust.com/']", ("adjust",)),
        ("a[data-x='Sign up'] span", ("sign",)),
        ("[aria-labelledby='pi-google_pay']", ("pi-google_pay",)),
        # Only an attribute's name: the name, then.
        ("ul[data-shopify-buttoncontainer] li", ("data-shopify-buttoncontainer",)),
        # A custom element is in the markup as its tag.
        ("model-viewer", ("model-viewer",)),
        ("div > lite-youtube", ("lite-youtube",)),
        # An escaped "." is a plain one; names inside :not() need not be on the page.
        ("iframe[src*='player\\.acme\\.tv']", ("player",)),
        ("div:not(.x-banner) > p.acme-note", ("acme-note",)),
        # Nothing to look for: always tried.
        ("p, div", ()),
        ("footer > div > form", ()),
        (".acme, div", ()),
        ("[class='\\31 23']", ()),  # a hex escape
    ],
)
def test_selector_gates(selector: str, gates: tuple[str, ...]) -> None:
    found = _selector_gates(selector)
    assert set(found) == set(gates)


def test_checks_gate_a_rule_without_a_selector_gate() -> None:
    rules = Translator({}).dom(
        {
            "script": {"attributes": {"src": "acme-widget\\.js"}},
            "footer > div": {"text": "Powered by AcmeShop"},
            "noscript": {"text": "[a-z]+"},  # nothing to look for
            "iframe": {"attributes": {"data-acme-id": ""}},  # the attribute's name, then
            "button": {"attributes": {"title": "it's"}},
        }
    )
    assert [rule.gates for rule in rules] == [
        ("acme-widget",),
        ("acmeshop",),
        (),
        ("data-acme-id",),
        ("title",),  # "it" is too short: the attribute's name
    ]


def _database(tmp_path: Path, technologies: dict[str, object]) -> FingerprintTable:
    path = tmp_path / "db.json"
    path.write_text(json.dumps({"technologies": technologies, "categories": {"1": "CMS"}}))
    return translate_database(path)


def test_a_named_header_is_a_candidate_only_with_its_gate(tmp_path: Path) -> None:
    # 200 technologies read the Server header; a page served by one of them makes only
    # that one (and those that need the header alone) candidates.
    technologies: dict[str, object] = {
        f"Server{i:03d}": {"cats": [1], "headers": {"Server": f"acmeserver{i:03d}"}}
        for i in range(200)
    }
    technologies["AnyServer"] = {"cats": [1], "headers": {"Server": ""}}
    table = _database(tmp_path, technologies)
    doc = Document("https://acme.test/", [("Server", "AcmeServer042/1.0")], b"<p>hi</p>")
    names = {table.fingerprints[i].name for i in Evidence(doc, table).candidates()}
    assert names == {"Server042", "AnyServer"}
    found = [tech["name"] for tech in detect_technologies(doc, table)]
    assert found == ["AnyServer", "Server042"]


def test_a_bare_technologies_file_reads_the_categories_beside_it(tmp_path: Path) -> None:
    (tmp_path / "technologies.json").write_text(
        json.dumps({"Acme": {"cats": [7], "html": "acme-root"}})
    )
    (tmp_path / "categories.json").write_text(json.dumps({"7": {"name": "Widgets"}}))
    table = translate_database(tmp_path / "technologies.json")
    assert [(f.name, f.category) for f in table.fingerprints] == [("Acme", "Widgets")]


_DATABASE = {
    "Lister": {"cats": [1], "dom": "header#sp-header, body.helix-ultimate"},
    "Valued": {"cats": [1], "dom": "link[href*='app.adjust.com/'], img[alt='Sign up']"},
    "Custom": {"cats": [1], "dom": ["model-viewer", "div > lite-youtube"]},
    "Checked": {
        "cats": [1],
        "dom": {
            "script": {"attributes": {"src": "acme-widget(?:\\.min)?\\.js\\;version:1"}},
            "footer > div": {"text": "Powered by AcmeShop ([\\d.]+)\\;version:\\1"},
            "iframe": {"attributes": {"data-acme-id": ""}},
        },
    },
    "Branchy": {"cats": [1], "html": "StoryblokBridge|api(?:-[a-z]+)?\\.storyblok\\.com"},
    "Served": {"cats": [1], "headers": {"Server": "AcmeServer(?:/([\\d.]+))?\\;version:\\1"}},
    "Generated": {"cats": [1], "meta": {"generator": "^AcmeCMS ([\\d.]+)\\;version:\\1"}},
}
_PIECES = [
    "<header id='sp-header'>",
    "<body class='helix-ultimate'>",
    "<link rel=stylesheet href='https://app.adjust.com/x.css'>",
    "<img alt='Sign up' src=x.png>",
    "<img alt='Sign&#32;up'>",
    "<model-viewer></model-viewer>",
    "<div><lite-youtube></lite-youtube></div>",
    "<script src='/js/acme-widget.min.js'></script>",
    "<footer><div>Powered by AcmeShop 2.1</div></footer>",
    "<footer><div>Powered by&#32;AcmeShop 2.1</div></footer>",
    "<iframe data-acme-id=7></iframe>",
    "<script>StoryblokBridge()</script>",
    "<script src='https://api-eu.storyblok.com/x.js'></script>",
    "<meta name=generator content='AcmeCMS 4.2'>",
    "<p>",
    "</p>",
    " ",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=30).map("".join),
    st.sampled_from(["AcmeServer/1.2", "nginx", "AcmeServerless"]),
)
def test_gates_never_change_results(
    tmp_path_factory: pytest.TempPathFactory, html: str, server: str
) -> None:
    table = _database(tmp_path_factory.mktemp("db"), _DATABASE)
    doc = Document("https://acme.test/", [("Server", server)], html.encode())
    assert detect_technologies(doc, table) == detect_technologies(doc, table, prefilter=False)


def test_gates_never_change_results_on_fixture_pages(tmp_path: Path) -> None:
    table = _database(tmp_path, _DATABASE)
    for path in sorted(PAGES.glob("*.html")):
        doc = Document("https://acme.test/", [], path.read_bytes())
        expected = detect_technologies(doc, table, prefilter=False)
        assert detect_technologies(doc, table) == expected, path.name
