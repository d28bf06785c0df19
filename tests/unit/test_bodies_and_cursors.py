"""API edges where input enters outside ``iter_entries``: JSON request bodies and options
(``parse_json``, ``parse_options``) and pagination cursors (``decode_cursor``)."""

from __future__ import annotations

import base64
import io
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainbatch.api.bodies import parse_json, parse_options
from domainbatch.core.inputs import MAX_JSON_DEPTH
from domainbatch.errors import InputError, InvalidCursorError
from domainbatch.storage.pages import decode_cursor, encode_cursor

BATCHES = ((int, float), str)  # the shapes batch_page and domain_page ask for
DOMAINS = (int,)


def raw_cursor(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


# --- JSON bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize("where", ["top", "domains", "options"])
def test_deep_json_body_names_the_bound(depth: int, where: str) -> None:
    deep = "[" * depth + "]" * depth
    body = {
        "top": deep,
        "domains": '{"domains": ' + deep + "}",
        "options": '{"domains": ["a.com"], "options": {"x": ' + deep + "}}",
    }[where]
    with pytest.raises(InputError) as info:
        parse_json(io.BytesIO(body.encode()))
    assert info.value.code == "invalid_input"
    assert f"deeper than {MAX_JSON_DEPTH} levels" in info.value.message


def test_json_body_as_deep_as_allowed_is_accepted() -> None:
    deep = "[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2)
    body = '{"domains": ["a.com"], "options": {"x": ' + deep + "}}"
    assert parse_json(io.BytesIO(body.encode())).domains == ["a.com"]


@pytest.mark.parametrize(
    "encoded",
    [
        b'\xef\xbb\xbf{"domains": ["a.com", "b\xc3\xbccher.de"]}',
        '{"domains": ["a.com", "bücher.de"]}'.encode("utf-16"),  # with its BOM
        '{"domains": ["a.com", "bücher.de"]}'.encode("utf-16-le"),
    ],
)
def test_json_body_with_a_byte_order_mark(encoded: bytes) -> None:
    assert parse_json(io.BytesIO(encoded)).domains == ["a.com", "bücher.de"]


def test_json_body_that_is_not_text_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        parse_json(io.BytesIO(b'{"domains": ["\xff\xfe\xfd"]} '))
    assert info.value.code == "invalid_input"


def test_deep_options_are_an_input_error() -> None:
    assert parse_options('{"a": [[1]]}') == {"a": [[1]]}
    for depth in (MAX_JSON_DEPTH, 300, 100_000):
        with pytest.raises(InputError) as info:
            parse_options('{"a": ' + "[" * depth + "]" * depth + "}")
        assert f"deeper than {MAX_JSON_DEPTH} levels" in info.value.message


# --- cursors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("[9223372036854775808]", DOMAINS),
        ("[-1]", DOMAINS),
        ("[18446744073709551616]", DOMAINS),
        ('[9223372036854775808, "b"]', BATCHES),
        ('[1.5, "x\\u0000"]', BATCHES),
        ('[1.5, "x\\n"]', BATCHES),
        ('[1.5, "x\\u007f"]', BATCHES),
        ('[1.5, "\\u00e9t\\u00e9"]', BATCHES),
        ('[1.5, "' + "a" * 65 + '"]', BATCHES),
        ('[1.5, ""]', BATCHES),
        ('[1e400, "b"]', BATCHES),
        ('[NaN, "b"]', BATCHES),
        ("[[1]]", DOMAINS),
        ("[" * 5000 + "]" * 5000, DOMAINS),
    ],
)
def test_malformed_cursors_are_validation_errors(
    text: str, shape: tuple[type | tuple[type, ...], ...]
) -> None:
    with pytest.raises(InvalidCursorError) as info:
        decode_cursor(raw_cursor(text), shape)
    assert info.value.code == "validation_error"
    assert isinstance(info.value, InputError)


def test_cursors_we_issue_still_decode() -> None:
    batch_id = "0b7e64f6-8f3e-4c1e-9d5a-2d6b4d9b3f10"
    assert decode_cursor(encode_cursor([1732.25, batch_id]), BATCHES) == [1732.25, batch_id]
    assert decode_cursor(encode_cursor([1732, batch_id]), BATCHES) == [1732, batch_id]
    assert decode_cursor(encode_cursor([2**63 - 1]), DOMAINS) == [2**63 - 1]
    assert decode_cursor(encode_cursor([0]), DOMAINS) == [0]
    assert decode_cursor(raw_cursor('[1e308, "b"]'), BATCHES) == [1e308, "b"]  # odd, harmless
    with pytest.raises(InvalidCursorError):
        decode_cursor("not-a-cursor", DOMAINS)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=120).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
        st.lists(
            st.one_of(
                st.integers(), st.floats(allow_nan=False), st.text(max_size=80), st.booleans()
            ),
            max_size=3,
        ).map(lambda v: raw_cursor(json.dumps(v))),  # any int, ±Infinity
    ),
    st.sampled_from([BATCHES, DOMAINS]),
)
def test_any_cursor_decodes_to_a_storable_key_or_is_refused(
    cursor: str, shape: tuple[type | tuple[type, ...], ...]
) -> None:
    try:
        key = decode_cursor(cursor, shape)
    except InvalidCursorError:
        return
    for value in key:
        if isinstance(value, int):
            assert 0 <= value <= 2**63 - 1
        elif isinstance(value, float):
            assert math.isfinite(value)
        else:
            assert isinstance(value, str) and 0 < len(value) <= 64
            assert value.isascii() and value.isprintable()
