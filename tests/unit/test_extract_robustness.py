"""The extractor never raises, bounds its work, and reports a failing step without hiding it."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from domainbatch.extract import empty_result, extract
from domainbatch.extract import extractor as extractor_module


@pytest.mark.parametrize(
    ("url", "headers", "body"),
    [
        ("", [], b""),
        ("http://[::1", [("content-type", "text/html; charset=utf-8")], b"<a href='/x'>x</a>"),
        ("https://acme.test/", None, b"<p>x</p>"),
        ("https://acme.test/", [("only-one",), ("a", "b", "c"), 5], b"<p>x</p>"),
        ("https://acme.test/", [(b"Content-Type", b"text/html; charset=latin1")], b"caf\xe9"),
        ("https://acme.test/", {"content-type": "text/html; charset=\x00\xff"}, b"\x00\xff\xfe"),
        ("https://acme.test/", [], "a str body, not bytes"),
        ("https://acme.test/", [], bytearray(b"<title>t</title>")),
        ("https://acme.test/", [], None),
        (None, [], b"<p>x</p>"),
    ],
)
def test_odd_inputs(url: Any, headers: Any, body: Any) -> None:
    result = extract(url, headers, body)
    assert result["errors"] == []
    assert set(result) == set(empty_result())
    orjson.dumps(result)


def test_lone_surrogates_never_reach_the_result() -> None:
    html = b'<script type="application/ld+json">{"@type":"Organization","name":"\\ud800x"}</script>'
    result = extract("https://acme.test/", [], html)
    assert result["jsonld"]["organization"]["name"] == "?x"
    orjson.dumps(result)


def test_a_failing_step_is_recorded_and_the_others_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(doc: Any, table: Any = None) -> list[dict[str, Any]]:
        raise RuntimeError("boom")

    monkeypatch.setattr(extractor_module, "detect_technologies", broken)
    result = extract("https://acme.test/", [], b"<title>Still here</title>")
    assert result["title"] == "Still here"
    assert result["technologies"] == []
    assert result["errors"] == ["technologies: RuntimeError: boom"]


def test_deep_nesting_is_cut_and_flagged() -> None:
    body = b"<title>Deep</title>" + b"<div>" * 200_000 + b"<p>lost</p>"
    started = time.perf_counter()
    result = extract("https://acme.test/", [], body)
    assert time.perf_counter() - started < 5
    assert result["title"] == "Deep"
    assert result["truncated"] is True


def test_oversized_body_is_truncated_and_bounded() -> None:
    body = b"<title>Big</title>" + b"<p>(212) 555-0123 info@acme-corp.com</p>" * 150_000
    started = time.perf_counter()
    result = extract("https://acme.test/", [], body)
    assert time.perf_counter() - started < 5
    assert result["truncated"] is True
    assert result["emails"] == ["info@acme-corp.com"]
    assert result["phones"] == ["+12125550123"]
