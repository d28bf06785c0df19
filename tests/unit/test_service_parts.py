"""Pure parts of the service: webhook signatures and URL rules, cursors, metrics text, the
loopback rule of ``serve --no-auth``."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from domainbatch.cli.serve import is_loopback
from domainbatch.engine.delivery import sign, verify
from domainbatch.engine.metrics import Family, Histogram, histogram_family, render
from domainbatch.errors import InputError
from domainbatch.fetching.guard import check_url
from domainbatch.storage.pages import decode_cursor, encode_cursor


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"event":"batch.completed"}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k" * 16, 1700000000, body) == "sha256=" + expected
    now = int(time.time())
    good = sign("secret-1", now, body)
    assert verify("secret-1", str(now), good, body)
    assert not verify("secret-2", str(now), good, body)
    assert not verify("secret-1", str(now), good, body + b"x")
    assert not verify("secret-1", str(now - 3600), sign("secret-1", now - 3600, body), body)
    assert not verify("secret-1", "soon", good, body)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "/relative",
        "http://",
        "http://127.0.0.1:8000/h",
        "http://[::1]/h",
        "http://169.254.169.254/latest",
        "http://10.0.0.5/h",
        "http://example.com/\x00",
    ],
)
def test_undeliverable_webhook_urls_are_refused(url: str) -> None:
    with pytest.raises(InputError):
        check_url(url, allow_private=False)


def test_private_webhook_urls_follow_the_setting() -> None:
    check_url("https://hooks.example.com/x", allow_private=False)
    check_url("http://127.0.0.1:8000/h", allow_private=True)


def test_cursors_round_trip_and_refuse_forgeries() -> None:
    cursor = encode_cursor([1732.5, "b-id"])
    assert decode_cursor(cursor, ((int, float), str)) == [1732.5, "b-id"]
    for forged in ("", "!!!", encode_cursor(["x"]), encode_cursor([True]), encode_cursor({})):
        with pytest.raises(InputError):
            decode_cursor(forged or "=", (int,))


def test_metrics_text_format() -> None:
    latency = Histogram((0.1, 1.0))
    for value in (0.05, 0.5, 5.0):
        latency.observe(value)
    text = render(
        [
            Family("demo_batches", "gauge", "Batches").add(3, status="done"),
            histogram_family("demo_seconds", "Latency", latency),
        ]
    )
    assert '# TYPE demo_batches gauge\ndemo_batches{status="done"} 3.0\n' in text
    assert 'demo_seconds_bucket{le="0.1"} 1.0' in text
    assert 'demo_seconds_bucket{le="1.0"} 2.0' in text
    assert 'demo_seconds_bucket{le="+Inf"} 3.0' in text
    assert "demo_seconds_sum 5.55" in text and "demo_seconds_count 3.0" in text


def test_loopback_rule() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "example.com", "::"))


def test_a_processor_module_that_exits_on_import_is_just_unloadable() -> None:
    from domainbatch.errors import ProcessorNotFoundError
    from domainbatch.processors.registry import load_processor

    with pytest.raises(ProcessorNotFoundError, match="SystemExit"):
        load_processor("tests.support.exits_on_import:build")
    with pytest.raises(ProcessorNotFoundError, match="unknown processor"):
        load_processor("tests.support.exits_on_import:build", allow_paths=False)
