"""Email extraction: plain, mailto, obfuscated, Cloudflare-protected, and what is rejected."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainbatch.extract import extract
from domainbatch.extract.emails import decode_cfemail, has_obfuscation_hint, normalize_email


def emails(html: str) -> list[str]:
    result = extract("https://acme.test/", [], html.encode())
    assert result["errors"] == []
    return list(result["emails"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("info@acme.com", ["info@acme.com"]),
        ("Mail: Sales@ACME.Com.", ["sales@acme.com"]),
        ("first.last+tag@mail.acme.co.uk", ["first.last+tag@mail.acme.co.uk"]),
        ("jane [at] acme [dot] com", ["jane@acme.com"]),
        ("jane[at]acme[dot]com", ["jane@acme.com"]),
        ("jane (at) acme (dot) com", ["jane@acme.com"]),
        ("jane(at)acme.com", ["jane@acme.com"]),
        ("jane {at} acme {dot} io", ["jane@acme.io"]),
        ("jane <at> acme <dot> org", []),  # "<at>" is a tag in HTML: no text left to read
        ("jane &lt;at&gt; acme &lt;dot&gt; org", ["jane@acme.org"]),
        ("jane [@] acme [.] net", ["jane@acme.net"]),
        ("jane at acme dot com", ["jane@acme.com"]),
        ("JANE AT ACME DOT COM", ["jane@acme.com"]),
        ("meet us at acme.com", []),
        ("we are at the office", []),
        ("logo@2x.png sprite@3x.webp banner@1.5x.jpg", []),
        ("you@example.com your.name@yourdomain.com x@example.org", []),
        ("john.doe@domain.com admin@site.test user@host.invalid", []),
        ("package@1.2.3 and git@github", []),
        ("a@b.c", []),
    ],
)
def test_text_emails(text: str, expected: list[str]) -> None:
    assert emails(f"<p>{text}</p>") == expected


def test_mailto_with_query_several_addresses_and_encoding() -> None:
    html = '<a href="mailto:%20A@Acme.com,b@acme.com?subject=Hi&cc=c@acme.com">x</a>'
    assert emails(html) == ["a@acme.com", "b@acme.com"]


def test_a_mailto_link_tag_names_the_author() -> None:
    html = '<head><link rev="made" href="mailto:webmaster@acme.com"></head><p>Hi</p>'
    assert extract("https://acme.com/", [], html.encode())["emails"] == ["webmaster@acme.com"]


def test_addresses_in_scripts_styles_and_attributes_are_ignored() -> None:
    html = (
        "<script>var e='dev@acme.com'</script><style>.x{}/* css@acme.com */</style>"
        '<img alt="img@acme.com" src="a.png"><p>real@acme.com</p>'
    )
    assert emails(html) == ["real@acme.com"]


def test_adjacent_inline_elements_do_not_glue() -> None:
    assert emails("<p>info@acme.com</p><a href='/x'>Next</a>") == ["info@acme.com"]


def test_cloudflare_protection() -> None:
    encoded = "42" + "".join(f"{b ^ 0x42:02x}" for b in b"ops@acme.com")
    assert decode_cfemail(encoded) == "ops@acme.com"
    html = f'<a href="/cdn-cgi/l/email-protection#{encoded}">[email protected]</a>'
    assert emails(html) == ["ops@acme.com"]
    assert emails(f'<span data-cfemail="{encoded}">[email protected]</span>') == ["ops@acme.com"]


@pytest.mark.parametrize("bad", ["", "zz", "4", "not-hex"])
def test_cfemail_garbage(bad: str) -> None:
    assert decode_cfemail(bad) in (None, "")


def test_normalize_rejects_overlong_parts() -> None:
    assert normalize_email("a" * 65 + "@acme.com") is None
    assert normalize_email("ok@" + "a" * 250 + ".com") is None
    assert normalize_email("Ok@Acme.com") == "ok@acme.com"


def test_cap_on_number_of_addresses() -> None:
    html = "".join(f"<p>user{i}@acme.com</p>" for i in range(200))
    found = emails(html)
    assert len(found) == 50
    assert found[0] == "user0@acme.com"


# The hint that gates the obfuscated-address regex, as one regex (the reference).
_HINT = re.compile(r"[\[({<]\s*(?:at|@|dot|\.)\s*[\])}>]|\sdot\s", re.I)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*"[({<])}> \n\t@.xdotaDOTA", "at", "dot", "DoT", "\u00a0", "\u2003", "\u0130", "ſ"]
        ),
        max_size=16,
    ).map("".join)
)
def test_obfuscation_hint_is_the_reference_regex(text: str) -> None:
    assert has_obfuscation_hint(text) == bool(_HINT.search(text))
