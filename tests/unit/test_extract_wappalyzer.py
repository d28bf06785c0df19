"""Wappalyzer-format databases: loading, every supported field, resolution and merge modes.

The database is ``tests/fixtures/wappalyzer`` (hand-written, made-up technologies).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from domainbatch.errors import ConfigurationError
from domainbatch.extract import extract
from domainbatch.extract.document import Document
from domainbatch.extract.fingerprint_table import FingerprintTable, builtin_table
from domainbatch.extract.technologies import detect_technologies
from domainbatch.extract.wappalyzer import load_table, translate_database

DATABASE = Path(__file__).resolve().parents[1] / "fixtures" / "wappalyzer"
URL = "https://www.example.com/"


@pytest.fixture(scope="module")
def theirs() -> FingerprintTable:
    return translate_database(DATABASE)


def detect(
    table: FingerprintTable,
    html: str = "<p>x</p>",
    headers: list[tuple[str, str]] | None = None,
    url: str = URL,
) -> dict[str, dict[str, Any]]:
    doc = Document(url, headers or [("content-type", "text/html")], html.encode())
    found = detect_technologies(doc, table)
    assert found == detect_technologies(
        Document(url, doc.headers.items(), html.encode()), table, prefilter=False
    )
    return {tech["name"]: tech for tech in found}


def single_file(tmp_path: Path) -> Path:
    technologies: dict[str, Any] = {}
    for file in sorted((DATABASE / "technologies").glob("*.json")):
        technologies.update(json.loads(file.read_text()))
    categories = json.loads((DATABASE / "categories.json").read_text())
    path = tmp_path / "technologies.json"
    path.write_text(json.dumps({"technologies": technologies, "categories": categories}))
    return path


def test_directory_and_single_file_give_the_same_table(tmp_path: Path) -> None:
    from_directory = translate_database(DATABASE)
    from_file = translate_database(single_file(tmp_path))
    assert len(from_directory) == len(from_file) == 21
    assert sorted(from_directory.by_name) == sorted(from_file.by_name)
    assert from_directory.by_name["Quillpress"].category == "CMS"


def test_skipped_patterns_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="domainbatch.extract"):
        table = translate_database(DATABASE)
    message = caplog.records[-1].getMessage()
    assert "21 technologies, 6 patterns skipped" in message
    for kind in ("1 js", "1 xhr", "1 dns", "1 dom properties", "html (regex Python cannot"):
        assert kind in message
    assert table.by_name["Jsonly"].sources == ()  # only js/xhr/dns: never detected
    assert len(table.by_name["Badregex"].sources[0][1]) == 1  # the valid regex is kept


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"categories": {}}', "no 'technologies' object"),
        ('{"technologies": {"X": 3}}', "technology 'X' is not a JSON object"),
    ],
)
def test_bad_databases_are_configuration_errors(
    tmp_path: Path, write: str | None, message: str
) -> None:
    path = tmp_path / "db.json"
    if write is not None:
        path.write_text(write)
    with pytest.raises(ConfigurationError, match=message):
        translate_database(path)


def test_a_directory_without_technologies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no technologies/ folder"):
        translate_database(tmp_path)
    (tmp_path / "technologies").mkdir()
    with pytest.raises(ConfigurationError, match=r"no \.json file"):
        translate_database(tmp_path)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="mode"):
        load_table(str(DATABASE), "merge")  # type: ignore[arg-type]


def test_html_meta_and_headers_with_versions(theirs: FingerprintTable) -> None:
    found = detect(
        theirs,
        '<meta name="generator" content="Quillpress 4.2"><meta name="application-name" '
        'property="og:x" content="Metaname">',
        [("Server", "Ferrule/1.9"), ("X-Powered-By", "Lexiscript/8.1")],
    )
    assert found["Quillpress"] == {"name": "Quillpress", "category": "CMS", "version": "4.2"}
    assert found["Ferrule"]["version"] == "1.9"
    assert found["Ferrule"]["category"] == "Web servers"
    assert found["Lexiscript"]["version"] == "8.1"
    assert "Metaname" in found  # by name, although the tag has a property too


def test_script_urls_inline_scripts_url_and_cookies(theirs: FingerprintTable) -> None:
    found = detect(
        theirs,
        '<script src="/static/tinker.min.js?v=2.5.0"></script>'
        "<script>window.__inlinely = {};</script>",
        [("Set-Cookie", "crumb_session=abc; Path=/"), ("Set-Cookie", "trolley_ver=3.1")],
        url="https://shop.example.com/crumb/cart",
    )
    assert found["Tinkerjs"]["version"] == "2.5.0"
    assert "Inlinely" in found
    assert "Crumbstore" in found
    assert found["Trolley"]["version"] == "3.1"
    assert "Inlinely" not in detect(theirs, "<p>window.__inlinely = 1</p>".replace("p>", "pre>"))


def test_dom_exists_attributes_and_text(theirs: FingerprintTable) -> None:
    found = detect(
        theirs,
        '<div id="domkit-app"></div><div data-domkit-version="0.9.1"></div>'
        '<footer><span class="textel-badge">Powered by Textel</span></footer>',
    )
    assert found["Domkit"]["version"] == "0.9.1"
    assert "Textel" in found
    assert "Textel" not in detect(theirs, '<p class="textel-badge">Powered by Textel</p>')
    assert "Domkit" not in detect(theirs, "<p>domkit-app</p>")


def test_confidence_adds_up_and_the_threshold_is_50(theirs: FingerprintTable) -> None:
    assert "Halfsure" not in detect(theirs, "<p>halfsure-a</p>")  # 30
    assert "Halfsure" in detect(theirs, "<p>halfsure-a halfsure-b</p>")  # 60
    assert "Lowconf" not in detect(theirs, url="https://lowconf.example.com/")  # 20


def test_implies_with_confidence(theirs: FingerprintTable) -> None:
    found = detect(theirs, '<div class="quillpress-root"></div><script src="/tinker.js"></script>')
    assert found["Lexiscript"]["version"] is None  # implied at 75
    assert "Subtinker" not in found  # implied at 40, under the threshold


def test_requires_requires_category_and_excludes(theirs: FingerprintTable) -> None:
    assert "Quillshop" not in detect(theirs, "<p>qs-cart</p>")
    assert "Quillshop" in detect(theirs, '<div class="quillpress-root">qs-cart</div>')
    assert "Catplug" not in detect(theirs, "<p>catplug-widget</p>")
    page = "catplug-widget"
    assert "Catplug" in detect(theirs, page, [("Set-Cookie", "crumb_session=1")])
    found = detect(theirs, '<script src="/oldkit.js"></script><script src="/newkit.js"></script>')
    assert "Newkit" in found and "Oldkit" not in found
    assert "Oldkit" in detect(theirs, '<script src="/oldkit.js"></script>')


def test_extend_keeps_ours_and_adds_theirs_replace_uses_theirs_only() -> None:
    page = (
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
        '<div class="fake-jquery-marker"></div><div class="quillpress-root"></div>'
    )
    extended = detect(load_table(str(DATABASE), "extend"), page)
    assert extended["jQuery"] == detect(builtin_table(), page)["jQuery"]  # ours wins
    assert extended["jQuery"]["version"] == "3.7.1"
    assert "Quillpress" in extended
    replaced = detect(load_table(str(DATABASE), "replace"), page)
    assert replaced["jQuery"] == {
        "name": "jQuery",
        "category": "JavaScript libraries",
        "version": None,
    }
    assert "Quillpress" in replaced


def test_extract_takes_the_table() -> None:
    body = b'<div class="quillpress-root"></div>'
    table = load_table(str(DATABASE), "extend")
    names = [t["name"] for t in extract(URL, {}, body, fingerprints=table)["technologies"]]
    assert "Quillpress" in names
    assert "Quillpress" not in [t["name"] for t in extract(URL, {}, body)["technologies"]]


@pytest.mark.parametrize(
    "command", [["worker", "--burst"], ["run", "domains.txt"], ["serve", "--port", "0"]]
)
def test_cli_refuses_a_bad_database_before_any_work(tmp_path: Path, command: list[str]) -> None:
    from typer.testing import CliRunner

    from domainbatch.cli.main import app

    missing = str(tmp_path / "missing")
    url = f"sqlite+aiosqlite:///{tmp_path}/never.db"
    args = [*command, "--fingerprints", missing, "--database-url", url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert not (tmp_path / "never.db").exists()  # stopped before opening the database


def test_an_older_database_reads_its_scripts_as_script_urls(tmp_path: Path) -> None:
    # python-Wappalyzer's technologies.json and webtech's apps.json predate scriptSrc.
    older = {
        "apps": {
            "Oldlib": {"cats": [1], "scripts": "oldlib(?:-([\\d.]+))?\\.js\\;version:\\1"},
            "Ancient": {"cats": [1], "script": "ancient\\.js"},
        },
        "categories": {"1": {"name": "JavaScript libraries"}},
    }
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(older))
    table = translate_database(path)
    html = b'<script src="/js/oldlib-2.1.0.js"></script><script src="/ancient.js"></script>'
    found = detect_technologies(Document(URL, [], html), table)
    assert [(t["name"], t["version"]) for t in found] == [("Ancient", None), ("Oldlib", "2.1.0")]
    inline = b"<script>var x = 'oldlib-2.1.0.js';</script>"
    assert detect_technologies(Document(URL, [], inline), table) == []
