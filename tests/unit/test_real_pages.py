"""Extraction on real pages of public sites, against labels written by hand.

Each ``tests/fixtures/real/<name>.html`` is a page as a public copy stored it (origins in
its ``.json`` and in the ``MANIFEST-*.md`` files); its ``.json`` holds the labels, written
from reading the page before the extractor ever ran on it, and what was re-read after
(``tests/fixtures/real/README.md``):

* ``expect``: title, description, language, emails and phones, compared exactly (emails
  and phones as sets: the extractor keeps page order, the labels are sorted);
* ``technologies_seen``: every technology the page shows evidence of;
* ``technologies_missed``: those of them the built-in database does not find, each with
  why; ``technologies_implied``: what it reports by implication (WordPress -> PHP) with no
  evidence of its own on the page;
* ``known_differences``: fields where the extractor is known to differ, with why; they
  are checked to differ still, so a fix shows here.

The pages are read as the homepage processor reads them: each in its own region.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from domainbatch.extract import extract

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
CASES = sorted(path.stem for path in REAL.glob("*.json"))
UNORDERED = ("emails", "phones")


@cache
def _load(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = json.loads((REAL / f"{name}.json").read_text(encoding="utf-8"))
    body = (REAL / f"{name}.html").read_bytes()
    headers = [(str(k), str(v)) for k, v in spec.get("headers", [])]
    return spec, extract(spec["url"], headers, body, infer_region=True)


def _comparable(field: str, value: Any) -> Any:
    return sorted(value) if field in UNORDERED and value is not None else value


def test_there_are_sixty_real_pages_each_with_its_origin() -> None:
    assert len(CASES) >= 60
    manifests = "".join(path.read_text() for path in REAL.glob("MANIFEST-*.md"))
    for name in CASES:
        spec, _ = _load(name)
        assert (REAL / f"{name}.html").exists()
        assert spec["origin"]["repository"] and spec["origin"]["site"], name
        assert name in manifests, f"{name} is not in a MANIFEST-*.md"


@pytest.mark.parametrize("name", CASES)
def test_fields(name: str) -> None:
    spec, result = _load(name)
    assert result["errors"] == []
    known = spec.get("known_differences", {})
    for field, expected in spec["expect"].items():
        same = _comparable(field, result[field]) == _comparable(field, expected)
        if field in known:
            assert not same, f"{field} now agrees with the label: drop its known difference"
        else:
            assert same, (field, result[field], expected)


@pytest.mark.parametrize("name", CASES)
def test_technologies(name: str) -> None:
    spec, result = _load(name)
    seen = set(spec["technologies_seen"])
    missed = set(spec.get("technologies_missed", {}))
    implied = set(spec.get("technologies_implied", []))
    assert missed <= seen and not implied & seen
    found = {tech["name"] for tech in result["technologies"]}
    assert found == (seen - missed) | implied
