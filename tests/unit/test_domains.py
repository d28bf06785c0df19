"""Domain normalization and Public Suffix List matching (README, "Input formats and domain
normalization")."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domainbatch.core.domains import DomainNormalizer, Normalized
from domainbatch.core.suffixes import PublicSuffixList, default_suffix_list
from domainbatch.errors import ConfigurationError

PLAIN = DomainNormalizer()
EXTRA = DomainNormalizer(extra_suffixes=["test", "internal"])
WWW = DomainNormalizer(strip_www=True)


# --- accepted entries: (input, A-label, display) ---------------------------------------------

ACCEPTED = [
    ("example.com", "example.com", "example.com"),
    ("  Example.COM \t", "example.com", "example.com"),
    ("example.com.", "example.com", "example.com"),
    ("https://Example.com:8443/path?q=1#frag", "example.com", "example.com"),
    ("http://example.com", "example.com", "example.com"),
    ("//example.com/x", "example.com", "example.com"),
    ("example.com/path/to", "example.com", "example.com"),
    ("example.com?q", "example.com", "example.com"),
    ("example.com:8080", "example.com", "example.com"),
    ("https://user:pw@Example.com.:443/", "example.com", "example.com"),
    ("ftp://user@files.example.org", "files.example.org", "files.example.org"),
    ("user@example.com", "example.com", "example.com"),
    ("www.example.com", "www.example.com", "www.example.com"),  # www kept by default
    ("foo.co.uk", "foo.co.uk", "foo.co.uk"),
    ("a-b.example.com", "a-b.example.com", "a-b.example.com"),
    ("123.example.com", "123.example.com", "123.example.com"),
    ("a" * 63 + ".com", "a" * 63 + ".com", "a" * 63 + ".com"),
    # IDN: UTS-46 mapping, IDNA 2008 A-labels, Unicode display form
    ("Bücher.de", "xn--bcher-kva.de", "bücher.de"),
    ("https://BÜCHER.de/", "xn--bcher-kva.de", "bücher.de"),
    ("xn--bcher-kva.de", "xn--bcher-kva.de", "bücher.de"),
    ("XN--BCHER-KVA.DE", "xn--bcher-kva.de", "bücher.de"),
    ("ＥＸＡＭＰＬＥ.com", "example.com", "example.com"),  # fullwidth + uppercase
    ("example。com", "example.com", "example.com"),  # ideographic full stop
    ("straße.de", "xn--strae-oqa.de", "straße.de"),  # IDNA 2008: ß is kept, not "ss"
    ("ß.com", "xn--zca.com", "ß.com"),
    ("ma\u00adil.com", "mail.com", "mail.com"),  # soft hyphen is mapped away
    ("пример.рф", "xn--e1afmkfd.xn--p1ai", "пример.рф"),
    ("bücher.xn--p1ai", "xn--bcher-kva.xn--p1ai", "bücher.рф"),
    # PSL: private section, wildcards and exceptions
    ("me.github.io", "me.github.io", "me.github.io"),
    ("www.ck", "www.ck", "www.ck"),  # !www.ck
    ("bar.foo.ck", "bar.foo.ck", "bar.foo.ck"),  # *.ck
    ("city.kawasaki.jp", "city.kawasaki.jp", "city.kawasaki.jp"),  # !city.kawasaki.jp
    ("a.foo.kawasaki.jp", "a.foo.kawasaki.jp", "a.foo.kawasaki.jp"),  # *.kawasaki.jp
    ("kawasaki.jp", "kawasaki.jp", "kawasaki.jp"),  # only *.kawasaki.jp is listed
]


@pytest.mark.parametrize(("raw", "domain", "display"), ACCEPTED)
def test_accepted(raw: str, domain: str, display: str) -> None:
    result = PLAIN.normalize(raw)
    assert result == Normalized(raw, domain, display, None)
    assert result.valid


# --- rejected entries: (input, keyword expected in the reason) --------------------------------

REJECTED = [
    ("", "empty"),
    ("   ", "empty"),
    ("1.2.3.4", "IP address"),
    ("http://10.0.0.1:8080/", "IP address"),
    ("127.1", "IP address"),
    ("0x7f.0.0.1", "IP address"),
    ("[::1]", "IP address"),
    ("http://[2001:db8::1]:443/x", "IP address"),
    ("::1", "IP address"),
    ("fe80::1%eth0", "IP address"),
    ("localhost", "localhost"),
    ("LocalHost.", "localhost"),
    ("http://localhost:8000", "localhost"),
    ("myhost", "single-label"),
    ("a..com", "empty label"),
    (".example.com", "empty label"),
    ("example.com..", "empty label"),  # only ONE trailing dot is dropped
    ("a" * 64 + ".com", "63 octets"),
    ("ü" + "a" * 60 + ".com", "63 octets"),  # over 63 octets once encoded
    (".".join(["a" * 63] * 4) + ".com", "253 octets"),
    ("foo_bar.com", "'_'"),
    ("exa mple.com", "U+0020"),
    ("ex%61mple.com", "'%'"),
    ("example.com\x00", "U+0000"),
    ("💩.la", "invalid character"),
    ("bad\ufffdbyte.com", "undecodable"),
    ("-abc.com", "hyphen"),
    ("abc-.com", "hyphen"),
    ("example.com-", "hyphen"),
    ("ab--cd.com", "3rd and 4th"),
    ("xn--abc-.com", "hyphen"),
    ("xn--a.com", "IDNA"),
    ("xn--.com", "hyphen"),
    ("xn--zca0.com", "IDNA"),
    ("example.123", "all-numeric"),
    ("example.invalidtld", "unknown public suffix"),
    ("shop.test", "unknown public suffix"),
    ("host.internal", "unknown public suffix"),
    ("printer.local", "unknown public suffix"),
    ("app.localhost", "unknown public suffix"),
    ("com", "public suffix"),
    ("co.uk", "public suffix"),
    ("github.io", "public suffix"),  # PRIVATE section
    ("foo.ck", "public suffix"),  # *.ck
    ("ck", "public suffix"),
    ("foo.kawasaki.jp", "public suffix"),  # *.kawasaki.jp
    ("https://", "no host"),
    ("example.com:http", "invalid port"),
    ("http://[zz]/", "bracketed"),
]


@pytest.mark.parametrize(("raw", "keyword"), REJECTED)
def test_rejected(raw: str, keyword: str) -> None:
    result = PLAIN.normalize(raw)
    assert not result.valid
    assert result.domain is None and result.display is None
    assert result.reason is not None and keyword in result.reason, result.reason
    assert result.raw == raw  # the original text is kept for the invalid record


def test_reason_names_the_bare_suffix_and_unknown_tld() -> None:
    assert PLAIN.normalize("co.uk").reason == "'co.uk' is a public suffix, not a registrable domain"
    reason = PLAIN.normalize("shop.test").reason
    assert reason is not None and "'.test'" in reason


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("shop.test", "shop.test"),
        ("https://Web.Shop.TEST/", "web.shop.test"),
        ("vault.internal", "vault.internal"),
        ("test", None),  # a bare extra suffix is still a bare suffix
        ("internal", None),
        ("printer.local", None),  # not listed
        ("example.com", "example.com"),  # the bundled list still applies
    ],
)
def test_extra_suffixes(raw: str, domain: str | None) -> None:
    assert EXTRA.normalize(raw).domain == domain


@pytest.mark.parametrize("extras", ["test, internal", [".TEST", "internal."], ("test",)])
def test_extra_suffixes_forms(extras: str | list[str] | tuple[str, ...]) -> None:
    assert DomainNormalizer(extra_suffixes=extras).normalize("shop.test").domain == "shop.test"


def test_extra_suffix_with_several_labels() -> None:
    normalizer = DomainNormalizer(extra_suffixes=["corp.example.com"])
    assert normalizer.normalize("a.corp.example.com").domain == "a.corp.example.com"
    assert normalizer.normalize("corp.example.com").reason == (
        "'corp.example.com' is a public suffix, not a registrable domain"
    )


def test_bad_extra_suffix_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        DomainNormalizer(extra_suffixes=["bad_suffix!"])


def test_extra_suffixes_do_not_leak_into_other_normalizers() -> None:
    DomainNormalizer(extra_suffixes=["leaky"])
    assert not PLAIN.normalize("a.leaky").valid
    assert not DomainNormalizer().normalize("a.leaky").valid


@pytest.mark.parametrize(
    ("raw", "kept", "stripped"),
    [
        ("www.example.com", "www.example.com", "example.com"),
        ("https://WWW.Example.com/", "www.example.com", "example.com"),
        ("www.www.example.com", "www.www.example.com", "example.com"),
        ("www.bücher.de", "www.xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("www.co.uk", "www.co.uk", "www.co.uk"),  # stripping would leave a bare suffix
        ("www.com", "www.com", "www.com"),
        ("www.www.ck", "www.www.ck", "www.ck"),
        ("wwwexample.com", "wwwexample.com", "wwwexample.com"),
        ("shop.www.example.com", "shop.www.example.com", "shop.www.example.com"),
    ],
)
def test_strip_www(raw: str, kept: str, stripped: str) -> None:
    assert PLAIN.normalize(raw).domain == kept
    assert WWW.normalize(raw).domain == stripped


def test_strip_www_keeps_display_in_step() -> None:
    result = WWW.normalize("www.Bücher.de")
    assert (result.domain, result.display) == ("xn--bcher-kva.de", "bücher.de")


def test_normalize_never_raises_on_non_str() -> None:
    result = PLAIN.normalize(None)  # type: ignore[arg-type]
    assert not result.valid and result.reason


# --- Public Suffix List ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "registrable"),
    [  # from the PSL project's test vectors (checkPublicSuffix), minus the implicit "*" rule
        ("com", None),
        ("example.com", "example.com"),
        ("a.b.example.com", "example.com"),
        ("uk.com", None),
        ("b.example.uk.com", "example.uk.com"),
        ("jp", None),
        ("www.test.jp", "test.jp"),
        ("ac.jp", None),
        ("www.test.ac.jp", "test.ac.jp"),
        ("kyoto.jp", None),
        ("ide.kyoto.jp", None),
        ("a.b.ide.kyoto.jp", "b.ide.kyoto.jp"),
        ("c.kobe.jp", None),
        ("a.b.c.kobe.jp", "b.c.kobe.jp"),
        ("city.kobe.jp", "city.kobe.jp"),
        ("www.city.kobe.jp", "city.kobe.jp"),
        ("ck", None),
        ("test.ck", None),
        ("a.b.test.ck", "b.test.ck"),
        ("www.ck", "www.ck"),
        ("www.www.ck", "www.ck"),
        ("us", None),
        ("www.test.us", "test.us"),
        ("ak.us", None),
        ("www.test.ak.us", "test.ak.us"),
        ("k12.ak.us", None),
        ("www.test.k12.ak.us", "test.k12.ak.us"),
        ("xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),  # 食狮.公司.cn
        ("xn--55qx5d.cn", None),  # 公司.cn (a Unicode rule in the file)
        ("example.unknowntld", None),
    ],
)
def test_psl_registrable_domain(name: str, registrable: str | None) -> None:
    assert default_suffix_list().registrable_domain(name) == registrable


def test_psl_unknown_tld_and_bundled_snapshot() -> None:
    psl = default_suffix_list()
    assert psl.suffix_length(["example", "unknowntld"]) is None
    assert psl.public_suffix("a.b.compute.amazonaws.com") == "b.compute.amazonaws.com"
    assert psl.rule_count > 9000  # ICANN + PRIVATE sections both loaded
    assert default_suffix_list() is psl  # parsed once, cached


def test_psl_parse_own_rules() -> None:
    psl = PublicSuffixList.parse("// comment\n\nexample\n*.wild.example\n!keep.wild.example\n")
    assert psl.public_suffix("a.example") == "example"
    assert psl.public_suffix("a.b.wild.example") == "b.wild.example"
    assert psl.public_suffix("a.keep.wild.example") == "wild.example"
    assert psl.suffix_length(["a", "other"]) is None
    with pytest.raises(ValueError):
        PublicSuffixList(["a..b"])


# --- properties ------------------------------------------------------------------------------

_FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(st.text())
def test_never_raises_and_is_idempotent(raw: str) -> None:
    for normalizer in (PLAIN, WWW, EXTRA):
        result = normalizer.normalize(raw)
        assert result.raw == raw
        assert result.valid == (result.reason is None)
        if result.valid:
            assert result.domain is not None and result.domain.isascii()
            again = normalizer.normalize(result.domain)
            assert again.domain == result.domain
            assert again.display == result.display


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda label: label[2:4] != "--"
)
_UNICODE_LABEL = st.text(
    alphabet="abcçdeéfgğhıijklmnoöpqrsştuüvwxyzß0123456789", min_size=1, max_size=20
)
_SUFFIX = st.sampled_from(["com", "co.uk", "de", "org", "github.io", "xn--p1ai", "test"])


@_FAST
@given(st.lists(_LABEL | _UNICODE_LABEL, min_size=1, max_size=4), _SUFFIX, st.booleans())
def test_plausible_domains_are_valid(labels: list[str], suffix: str, as_url: bool) -> None:
    # a fixed leftmost label keeps the name below any (private) suffix, e.g. the rule x0.com
    labels = ["www0", *labels]
    name = ".".join([*labels, suffix])
    raw = f"https://{name.upper()}/path" if as_url else name
    result = EXTRA.normalize(raw)
    assert result.valid, (raw, result.reason)
    assert result.domain is not None and result.display is not None
    assert result.domain.endswith("." + suffix)
    assert len(result.domain.split(".")) == len(labels) + len(suffix.split("."))
    assert EXTRA.normalize(result.domain).domain == result.domain
    assert EXTRA.normalize(result.display).domain == result.domain
    # without the extra suffix, .test is unknown; the rest is unaffected
    assert PLAIN.normalize(raw).valid == (suffix != "test")


@_FAST
@given(_LABEL, st.sampled_from(["1.2.3.4", "co.uk", "com", "localhost", "a..b.com"]))
def test_invalid_shapes_stay_invalid_inside_urls(label: str, host: str) -> None:
    assert not PLAIN.normalize(f"http://{host}/{label}").valid
