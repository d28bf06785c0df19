"""The dashboard's rules for what may become a link, the progress bar's shares, and which form
field a refusal points at (pure; the pages themselves are tested in Chromium)."""

from __future__ import annotations

import pytest

from domainbatch.api.cards import (
    check_pasted,
    field_of,
    mailto,
    other_fields,
    segments,
    tel,
    web_link,
)
from domainbatch.core.domains import DomainNormalizer
from domainbatch.errors import (
    EmptyBatchError,
    InputError,
    InvalidOptionsError,
    LimitExceededError,
    ProcessorNotFoundError,
)


@pytest.mark.parametrize(
    ("value", "link"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        (" HTTP://Example.com ", "HTTP://Example.com"),
        ("javascript:alert(1)", None),
        ("JavaScript:alert(1)", None),
        ("  javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("//evil.example/", None),
        ("https://", None),
        ("https://exa mple.com/", None),
        ("https://[::1", None),
        (None, None),
        (42, None),
        ("https://example.com/" + "a" * 3000, None),
    ],
)
def test_web_link_keeps_http_urls_only(value: object, link: str | None) -> None:
    assert web_link(value) == link


def test_mailto_and_tel_take_plain_values_only() -> None:
    assert mailto("hello@example.com") == "mailto:hello@example.com"
    assert mailto("javascript:alert(1)//@x.test") is None
    assert mailto("<b>x</b>@example.com") is None
    assert mailto("a b@example.com") is None
    assert tel("+1 (604) 555-0186") == "tel:+16045550186"
    assert tel("+1<script>") is None
    assert tel("call us") is None


def test_segments_share_the_total() -> None:
    counts = {"succeeded": 1, "failed": 2, "invalid": 1, "cancelled": 0, "pending": 4}
    assert segments(counts, 8) == [
        ("succeeded", "12.50"),
        ("failed", "37.50"),
        ("cancelled", "0.00"),
    ]
    assert segments({}, 0) == [("succeeded", "0"), ("failed", "0"), ("cancelled", "0")]


def test_other_fields_of_homepage_and_other_results() -> None:
    homepage = {"final_url": "https://a.test/", "extracted": {}, "mx": [], "tls": None}
    assert other_fields(homepage) == [("tls", None)]
    assert other_fields({"domain": "a.test", "addresses": []}) == [("domain", "a.test")]
    assert other_fields(["not", "a", "mapping"]) == []


def test_field_of_a_refusal() -> None:
    assert field_of(InputError("x"), stage="options", uploaded=False) == "options"
    assert field_of(InvalidOptionsError("x"), stage="create", uploaded=False) == "options"
    assert field_of(ProcessorNotFoundError("x"), stage="create", uploaded=True) == "processor"
    assert field_of(EmptyBatchError("x"), stage="create", uploaded=False) == "domains"
    assert field_of(InputError("x"), stage="create", uploaded=True) == "file"
    assert field_of(LimitExceededError("x"), stage="create", uploaded=True) == "file"


def test_check_pasted_refuses_a_list_without_a_valid_domain() -> None:
    normalizer = DomainNormalizer(extra_suffixes=["test"])
    check_pasted("bad one\nok.test", normalizer)
    check_pasted("", normalizer)  # empty: the service's empty_batch says so
    with pytest.raises(InputError, match="no valid domain") as refused:
        check_pasted("bad one\nhttp://\n", normalizer)
    assert "'bad one'" in refused.value.message
