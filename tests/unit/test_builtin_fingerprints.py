"""The built-in technology database (``extract/fingerprints``, Wappalyzer format): every entry
translates whole, has one known category and a website, is named once across the files, and
every hand-written example page (``tests/fixtures/fingerprint_examples/*.json``) gives exactly
the technologies it expects.

An example is ``{"technology", "url", "html", "headers": [[k, v]], "expect": {name: version}}``:
``expect`` is every technology detected on the page (the one it is for, what that implies, and
anything else the page really shows), written by hand from reading the page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from domainbatch.errors import ConfigurationError
from domainbatch.extract import extract
from domainbatch.extract.fingerprint_table import BUILTIN_DATABASE, builtin_table
from domainbatch.extract.provenance import Site
from domainbatch.extract.wappalyzer.loading import read_database
from domainbatch.extract.wappalyzer.translation import Translator, parse_tags

TECHNOLOGIES = sorted((BUILTIN_DATABASE / "technologies").glob("*.json"))
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint_examples"
# Fields an entry may have: those the translator reads, and Wappalyzer's descriptive ones.
READ_FIELDS = {
    *("cats", "website", "headers", "meta", "cookies", "cookieNames", "scriptSrc", "scripts"),
    *("links", "anchors", "html", "comments", "url", "dom", "implies", "excludes", "requires"),
    "requiresCategory",
}
DESCRIPTIVE_FIELDS = {"description", "icon", "cpe", "saas", "oss", "pricing"}
PATTERN_LISTS = ("cookieNames", "scriptSrc", "scripts", "links", "anchors", "html", "comments")
PATTERN_MAPS = ("headers", "meta", "cookies")
TAGS = {"version", "confidence", "site"}


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicated = {key for key in keys if keys.count(key) > 1}
    assert not duplicated, f"defined twice in one file: {sorted(duplicated)}"
    return dict(pairs)


def _definitions() -> dict[str, tuple[Path, dict[str, Any]]]:
    """name -> (file, definition) over every built-in file; a name twice fails the test."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for file in TECHNOLOGIES:
        document = json.loads(file.read_text(), object_pairs_hook=_pairs_without_duplicates)
        for name, definition in document.items():
            assert name not in found, f"{name!r} is in {found[name][0].name} and {file.name}"
            found[name] = (file, definition)
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _examples() -> list[Any]:
    cases = []
    for file in sorted(EXAMPLES_DIR.glob("*.json")):
        for example in json.loads(file.read_text()):
            cases.append(pytest.param(example, id=f"{file.stem}:{example['technology']}"))
    return cases


EXAMPLES = _examples()


def test_the_database_is_there_and_read_as_the_table() -> None:
    assert {"platforms", "frontend", "infrastructure", "services"} <= {f.stem for f in TECHNOLOGIES}
    definitions = _definitions()
    assert len(definitions) >= 94
    assert [f.name for f in builtin_table().fingerprints] == list(
        read_database(BUILTIN_DATABASE, unique=True).technologies
    )
    assert set(definitions) == set(builtin_table().by_name)


def test_names_are_unique_across_files() -> None:
    assert len(_definitions()) == sum(len(json.loads(f.read_text())) for f in TECHNOLOGIES)


def test_a_name_in_two_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "technologies").mkdir()
    (tmp_path / "categories.json").write_text('{"1": {"name": "CMS"}}')
    for stem in ("a", "b"):
        (tmp_path / "technologies" / f"{stem}.json").write_text('{"Twice": {"cats": [1]}}')
    with pytest.raises(ConfigurationError, match="'Twice' is defined in"):
        read_database(tmp_path, unique=True)
    assert list(read_database(tmp_path).technologies) == ["Twice"]  # a user's: the later wins


def test_every_entry_translates_without_skipping_anything() -> None:
    raw = read_database(BUILTIN_DATABASE, unique=True)
    translator = Translator(raw.categories)
    for name, definition in raw.technologies.items():
        unknown = set(definition) - READ_FIELDS - DESCRIPTIVE_FIELDS
        assert not unknown, (name, unknown)  # a misspelt field would be ignored silently
        translator.fingerprint(name, definition)
    assert dict(translator.skipped) == {}


def test_every_tag_is_one_the_translator_reads() -> None:
    for name, (_, definition) in _definitions().items():
        patterns = [
            p for field in (*PATTERN_LISTS, "url") for p in _listed(definition.get(field, []))
        ]
        patterns += [
            p
            for field in PATTERN_MAPS
            for value in definition.get(field, {}).values()
            for p in _listed(value)
        ]
        for pattern in patterns:
            tags = {tag.partition(":")[0] for tag in pattern.split("\\;")[1:]}
            assert tags <= TAGS, (name, pattern)
            tagged = parse_tags(pattern)
            assert re.compile(tagged.regex).groups <= 1, (name, pattern)
            if re.compile(tagged.regex).groups:  # a capturing group is there for the version
                assert tagged.template == "\\1", (name, pattern)


def test_every_entry_has_one_known_category_and_a_website() -> None:
    categories = json.loads((BUILTIN_DATABASE / "categories.json").read_text())
    for name, (_, definition) in _definitions().items():
        cats = definition.get("cats")
        assert isinstance(cats, list) and len(cats) == 1, (name, cats)
        assert isinstance(cats[0], int) and str(cats[0]) in categories, (name, cats)
        assert re.match(r"^https?://[\w.-]+\.[a-z]{2,}(/|$)", definition.get("website", "")), name


# A self-hosted CMS's or plugin's directory proves it only on the page's own site: pages
# load scripts from, and link to, other sites built with the same software.
_OWN_DIRECTORY = re.compile(
    r"^(?:\(\?:\^\|/\))?/?(?:wp-content|wp-includes|plugins|themes|components/com_|sites/|"
    r"modules/|skin/frontend|typo3)"
)


def test_directory_patterns_count_only_on_the_own_site() -> None:
    for name, (_, definition) in _definitions().items():
        for field in ("scriptSrc", "links", "anchors", "html"):
            for pattern in _listed(definition.get(field, [])):
                if _OWN_DIRECTORY.match(pattern):
                    assert parse_tags(pattern).own_site, (name, field, pattern)


def test_implied_technologies_are_in_the_database() -> None:
    definitions = _definitions()
    for name, (_, definition) in definitions.items():
        for implied in _listed(definition.get("implies", [])):
            assert parse_tags(implied).regex in definitions, (name, implied)


def test_every_technology_has_an_example() -> None:
    covered = {example.values[0]["technology"] for example in EXAMPLES}
    assert set(_definitions()) - covered == set()
    assert covered - set(_definitions()) == set()  # an example for a name we do not have


@pytest.mark.parametrize("example", EXAMPLES)
def test_example(example: dict[str, Any]) -> None:
    headers = [(str(key), str(value)) for key, value in example["headers"]]
    result = extract(example["url"], headers, example["html"].encode())
    assert result["errors"] == []
    found = {tech["name"]: tech["version"] for tech in result["technologies"]}
    assert example["technology"] in example["expect"]
    assert found == example["expect"]


def test_extensions_are_read_from_any_database() -> None:
    """A user's database may use our fields and tag; a Wappalyzer group without a version
    tag gives no version (only ``\\;version:`` does)."""
    fingerprint = Translator({"1": "CMS"}).fingerprint(
        "Quill",
        {
            "cats": [1],
            "links": "/quill/([\\d.]+)/\\;version:\\1\\;site:own",
            "anchors": ["/quill-admin/"],
            "comments": "<!-- Quill",
            "cookieNames": "^quill_",
            "scriptSrc": "quill-(\\d+)\\.js",
        },
    )
    sources = dict(fingerprint.sources)
    assert list(sources) == ["scripts", "links", "anchors", "comments", "cookies"]
    assert sources["links"][0].own_site and sources["links"][0].template == "\\1"
    assert not sources["anchors"][0].own_site
    assert sources["scripts"][0].run("/js/quill-3.js") == (True, None)
    site = Site("https://quill.test/")
    assert sources["links"][0].run("/quill/2.1/q.css", site=site) == (True, "2.1")
    assert sources["links"][0].run("https://other.test/quill/2.1/q.css", site=site)[0] is False
