"""Batch input parsing: text, CSV, JSON, auto-detection and streaming."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domainbatch.core import inputs
from domainbatch.core.inputs import MAX_JSON_DEPTH, Format, iter_entries
from domainbatch.errors import InputError, LimitExceededError


def entries(data: bytes, **kwargs: object) -> list[str]:
    return list(iter_entries(io.BytesIO(data), **kwargs))  # type: ignore[arg-type]


# --- text ------------------------------------------------------------------------------------


def test_text_comments_blank_lines_crlf_and_bom() -> None:
    data = (
        b"\xef\xbb\xbf# my list\r\n"
        b"example.com\r\n"
        b"\r\n"
        b"   \r\n"
        b"  foo.org  # trailing comment\r\n"
        b"\t# indented comment\n"
        b"https://bar.net/page#anchor\r\n"
        b"last.io"  # no final newline
    )
    assert entries(data, fmt="text") == [
        "example.com",
        "foo.org",
        "https://bar.net/page#anchor",  # a '#' inside an entry is not a comment
        "last.io",
    ]


def test_text_old_mac_newlines_and_utf16() -> None:
    assert entries(b"a.com\rb.com\r", fmt="text") == ["a.com", "b.com"]
    assert entries("a.com\r\nbücher.de\r\n".encode("utf-16")) == ["a.com", "bücher.de"]


def test_text_undecodable_bytes_are_replaced_not_fatal() -> None:
    assert entries(b"ok.com\nbad\xff\xfe.com\nalso-ok.com\n", fmt="text") == [
        "ok.com",
        "bad\ufffd\ufffd.com",
        "also-ok.com",
    ]


def test_text_overlong_line_is_cut_and_reading_goes_on() -> None:
    data = b"a" * 200_000 + b".com\nnext.com\n"
    result = entries(data, fmt="text")
    assert len(result) == 2 and len(result[0]) < 100_000 and result[1] == "next.com"


def test_chunks_need_not_align_with_lines_or_characters() -> None:
    data = "first.com\nbücher.de\r\nthird.org\n".encode()
    one_byte_chunks = (data[i : i + 1] for i in range(len(data)))
    assert list(iter_entries(one_byte_chunks)) == ["first.com", "bücher.de", "third.org"]


# --- CSV -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["domain", "URL", "Website", " domain "])
def test_csv_each_header_name(header: str) -> None:
    data = f'name,{header},phone\r\nAcme,acme.com,1\r\n"Foo, Inc",https://foo.org/,2\r\n'
    assert entries(data.encode(), fmt="csv") == ["acme.com", "https://foo.org/"]


def test_csv_prefers_domain_over_website_and_skips_blank_cells() -> None:
    data = b"website,domain\nw.com,d.com\nw2.com,\nw3.com\n\n,d4.com\n"
    assert entries(data) == ["d.com", "d4.com"]


def test_csv_semicolon_single_column_bom_and_quoted_newline() -> None:
    assert entries(b"\xef\xbb\xbfname;Domain\nacme;acme.com\n") == ["acme.com"]
    assert entries(b"domain\nexample.com\nfoo.org\n") == ["example.com", "foo.org"]
    assert entries(b'note,url\n"two\nlines",x.com\ny,z.com\n') == ["x.com", "z.com"]


def test_csv_without_domain_column_names_the_columns_found() -> None:
    with pytest.raises(InputError) as info:
        entries(b"name,email,phone\nacme,a@acme.com,1\n", fmt="csv")
    assert "domain" in info.value.message
    assert "'name', 'email', 'phone'" in info.value.message
    assert info.value.code == "invalid_input"


def test_csv_header_error_is_raised_at_once() -> None:
    with pytest.raises(InputError):
        iter_entries(io.BytesIO(b"a,b\n1,2\n"), fmt="csv")  # no next() needed


def test_csv_oversized_field_is_an_input_error() -> None:
    with pytest.raises(InputError):
        entries(b'domain\n"' + b"a" * 200_000 + b'"\n', fmt="csv")


# --- JSON ------------------------------------------------------------------------------------


def test_json_list_and_object() -> None:
    assert entries(b'["a.com", "  b.org ", ""]') == ["a.com", "  b.org ", ""]
    assert entries(b'{"domains": ["a.com"], "note": "x"}') == ["a.com"]
    assert entries(b"\xef\xbb\xbf[]") == []
    assert entries('["bücher.de"]'.encode("utf-16")) == ["bücher.de"]


@pytest.mark.parametrize(
    ("data", "keyword"),
    [
        (b"[oops", "not valid JSON"),
        (b'{"urls": ["a.com"]}', "'domains'"),
        (b'"a.com"', "list of strings"),
        (b"42", "list of strings"),
        (b'["a.com", 7]', "item 1"),
        (b'{"domains": "a.com"}', "list of strings"),
        (b"example.com", "not valid JSON"),  # forced by the file name
    ],
)
def test_json_errors(data: bytes, keyword: str) -> None:
    with pytest.raises(InputError) as info:
        entries(data, fmt="auto", filename="batch.json")
    assert keyword in info.value.message


# --- auto-detection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b'  \n ["a.com"]', None, ["a.com"]),  # sniffed JSON after blank bytes
        (b'{"domains": ["a.com"]}', None, ["a.com"]),
        (b"Name,Domain\nx,a.com\n", None, ["a.com"]),  # sniffed CSV
        (b"\n\nurl,name\na.com,x\n", None, ["a.com"]),
        (b"a.com\nb.com\n", None, ["a.com", "b.com"]),  # sniffed text
        (b"a.com,b.com\n", None, ["a.com,b.com"]),  # comma but no header: text
        (b"# domain,url\na.com\n", None, ["a.com"]),  # a comment, not a header
        (b"domain,x\na.com,1\n", "list.txt", ["domain,x", "a.com,1"]),  # name wins
        (b"a.com\n", "LIST.CSV", None),  # .csv without a header -> error
        (b"", None, []),
        (b"\n \n", None, []),
    ],
)
def test_auto_detection(data: bytes, filename: str | None, expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(InputError):
            entries(data, filename=filename)
    else:
        assert entries(data, filename=filename) == expected


def test_gzip_is_unpacked_transparently() -> None:
    data = gzip.compress(b"domain,n\na.com,1\nb.com,2\n")
    assert entries(data, filename="leads.csv.gz") == ["a.com", "b.com"]
    assert entries(gzip.compress(b'["x.com"]')) == ["x.com"]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(InputError):
        iter_entries(io.BytesIO(b"a.com"), fmt="xml")  # type: ignore[arg-type]


# --- streaming -------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [b"", b"domain\n"])
def test_streaming_is_lazy(header: bytes) -> None:
    total = 200_000
    produced = 0

    def lines() -> Iterator[bytes]:
        nonlocal produced
        yield header
        for i in range(total):
            produced += 1
            yield b"site%d.example.com\n" % i

    stream = iter_entries(lines())
    assert next(stream) == "site0.example.com"
    assert produced < total // 10  # only a read-ahead buffer was consumed
    rest = sum(1 for _ in stream)
    assert rest == total - 1 and produced == total


def test_file_object_is_read_in_chunks_and_not_closed() -> None:
    data = b"".join(b"d%d.com\n" % i for i in range(50_000))
    source = io.BytesIO(data)
    stream = iter_entries(source, fmt="text")
    assert next(stream) == "d0.com"
    assert source.tell() < len(data)  # not slurped
    assert sum(1 for _ in stream) == 49_999
    assert not source.closed


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.from_regex(r"[a-z0-9.\-]{1,30}", fullmatch=True), max_size=30),
    st.sampled_from([b"\n", b"\r\n"]),
    st.integers(min_value=1, max_value=17),
)
def test_text_round_trip_any_chunking(names: list[str], newline: bytes, size: int) -> None:
    data = newline.join(n.encode() for n in names) + newline
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert list(iter_entries(chunks, fmt="text")) == names


# --- hostile input: gzip members and truncation, JSON depth, byte-order marks ----------------

MEMBERS = gzip.compress(b"one.com\ntwo.com\n") + gzip.compress(b"three.com\nfour.com\n")


def test_gzip_every_member_is_read() -> None:
    assert entries(MEMBERS) == ["one.com", "two.com", "three.com", "four.com"]
    one_byte_chunks = (MEMBERS[i : i + 1] for i in range(len(MEMBERS)))
    assert list(iter_entries(one_byte_chunks)) == ["one.com", "two.com", "three.com", "four.com"]
    assert entries(gzip.compress(b"domain\na.com\n") + gzip.compress(b"b.com\n")) == [
        "a.com",
        "b.com",
    ]
    assert entries(gzip.compress(b'["x.com",') + gzip.compress(b'"y.com"]')) == ["x.com", "y.com"]
    assert entries(MEMBERS + gzip.compress(b"")) == ["one.com", "two.com", "three.com", "four.com"]


def test_gzip_zero_padding_is_skipped_other_trailing_bytes_are_refused() -> None:
    padded = gzip.compress(b"a.com\n") + b"\0" * 1000 + gzip.compress(b"b.com\n") + b"\0" * 7
    assert entries(padded) == ["a.com", "b.com"]
    for garbage in (b"x", b"\0\0junk", b"\n", b"PK\x03\x04"):
        with pytest.raises(InputError) as info:
            entries(gzip.compress(b"a.com\n") + garbage)
        assert "after the gzip data" in info.value.message
        assert info.value.code == "invalid_input"


def test_truncated_gzip_is_an_input_error_not_a_shorter_batch() -> None:
    data = gzip.compress(b"".join(b"site%d.example.com\n" % i for i in range(100_000)))
    with pytest.raises(InputError) as info:
        entries(data[: len(data) // 2])
    assert "truncated" in info.value.message
    assert len(info.value.message.splitlines()) == 1
    for cut in (2, 5, 10, len(data) - 8, len(data) - 1):  # header, body, CRC/size trailer
        with pytest.raises(InputError):
            entries(data[:cut])
    with pytest.raises(InputError):  # a second member cut short
        entries(MEMBERS[:-3])


def test_corrupt_gzip_is_an_input_error() -> None:
    data = bytearray(gzip.compress(b"".join(b"d%d.com\n" % i for i in range(1000))))
    data[-6] ^= 0xFF  # the CRC no longer matches (last 8 bytes: CRC32, size)
    with pytest.raises(InputError) as info:
        entries(bytes(data))
    assert "not valid gzip" in info.value.message


def test_gzip_members_are_streamed_lazily() -> None:
    produced = 0

    def members() -> Iterator[bytes]:
        nonlocal produced
        for i in range(2_000):
            produced += 1
            yield gzip.compress(b"".join(b"m%d-%d.example.com\n" % (i, j) for j in range(100)))

    stream = iter_entries(members(), fmt="text")
    assert next(stream) == "m0-0.example.com"
    assert produced < 200
    assert sum(1 for _ in stream) == 199_999 and produced == 2_000


def nested(depth: int, inner: bytes = b"") -> bytes:
    return b"[" * depth + inner + b"]" * depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize("how", ["auto", "json", "filename", "gzip", "utf-16", "object"])
def test_deep_json_is_an_input_error_naming_the_bound(depth: int, how: str) -> None:
    data = nested(depth)
    if how == "object":
        data = b'{"domains": ["a.com"], "x": ' + nested(depth - 1) + b"}"
    kwargs: dict[str, object] = {}
    if how == "json":
        kwargs["fmt"] = "json"
    elif how == "filename":
        kwargs["filename"] = "deep.json"
    elif how == "gzip":
        data = gzip.compress(data)
    elif how == "utf-16":
        data = data.decode().encode("utf-16")
    with pytest.raises(InputError) as info:
        entries(data, **kwargs)
    assert f"deeper than {MAX_JSON_DEPTH} levels" in info.value.message
    assert info.value.code == "invalid_input"


def test_json_depth_counts_structure_not_brackets_in_strings() -> None:
    tricky = '[[[\\"[{]' * 50  # JSON text: [[[\"[{] repeated, all inside one string
    data = ('["a.com", "' + tricky + '"]').encode()
    assert entries(data) == ["a.com", tricky.replace('\\"', '"')]
    at_limit = nested(MAX_JSON_DEPTH)  # as deep as allowed: refused for its shape, not depth
    with pytest.raises(InputError) as info:
        entries(at_limit)
    assert "item 0 is list" in info.value.message


def test_a_byte_order_mark_is_accepted_in_every_format() -> None:
    bom = b"\xef\xbb\xbf"
    assert entries(bom + b'["a.com", "b.org"]') == ["a.com", "b.org"]
    assert entries(bom + b'{"domains": ["a.com"]}', filename="x.json") == ["a.com"]
    assert entries(bom + b"a.com\nb.org\n", filename="x.txt") == ["a.com", "b.org"]
    assert entries(bom + b"domain\na.com\n", filename="x.csv") == ["a.com"]
    assert entries(gzip.compress(bom + b'["a.com"]')) == ["a.com"]
    for codec in ("utf-16", "utf-16-le", "utf-16-be"):
        bom16 = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(codec, b"")
        for text, expected in (
            ('["bücher.de"]', ["bücher.de"]),
            ("domain\nbücher.de\n", ["bücher.de"]),
            ("bücher.de\na.com\n", ["bücher.de", "a.com"]),
        ):
            assert entries(bom16 + text.encode(codec)) == expected, (codec, text)


def test_classic_mac_newlines_are_sniffed_not_a_csv_crash() -> None:
    # Found by the random-bytes property: the sniffer handed a line with a bare CR to csv.
    assert entries(b"domain\ra.com\rb.com\r") == ["a.com", "b.com"]
    assert entries(b"a.com\rb.com\r") == ["a.com", "b.com"]
    assert entries(b'x\ry,"z\n') == ["x", 'y,"z']


def test_csv_header_too_long_for_the_csv_module_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        entries(b"a" * 200_000 + b",domain\nx,y.com\n", fmt="csv")
    assert "CSV header" in info.value.message


# --- properties: nothing but InputError, never a silent partial list -------------------------

FORMATS: list[Format] = ["auto", "text", "csv", "json"]
HOSTILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HOSTILE
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: b"\x1f\x8b" + b),
        st.binary(max_size=300).map(gzip.compress),
        st.binary(max_size=300).map(lambda b: b"\xef\xbb\xbf" + b),
        st.binary(max_size=300).map(lambda b: b"\xff\xfe" + b),
    ),
    st.sampled_from(FORMATS),
    st.sampled_from([None, "x.txt", "x.csv", "x.json", "x.json.gz", "x"]),
)
def test_random_bytes_raise_nothing_but_input_error(
    data: bytes, fmt: Format, filename: str | None
) -> None:
    try:
        result = entries(data, fmt=fmt, filename=filename)
    except InputError:
        return
    assert all(isinstance(e, str) for e in result)


@HOSTILE
@given(
    st.lists(st.from_regex(r"[a-z0-9]{1,20}\.com", fullmatch=True), min_size=1, max_size=300),
    st.integers(min_value=1, max_value=3),
    st.data(),
)
def test_gzip_cut_anywhere_is_an_error_or_every_entry(
    names: list[str], members: int, data: st.DataObject
) -> None:
    parts = [names[i::members] for i in range(members)]
    packed = [gzip.compress("".join(n + "\n" for n in part).encode()) for part in parts]
    whole = b"".join(packed)
    ends = {sum(len(p) for p in packed[: k + 1]): k for k in range(members)}
    cut = data.draw(st.integers(min_value=2, max_value=len(whole)), label="cut")
    try:
        result = entries(whole[:cut], fmt="text")
    except InputError:
        assert cut not in ends  # a complete stream is never refused
        return
    # Only a cut at the end of a member reads without error, and then every entry is there.
    assert cut in ends, f"cut at {cut} of {len(whole)} gave {len(result)} entries silently"
    assert result == [n for part in parts[: ends[cut] + 1] for n in part]


@HOSTILE
@given(
    st.integers(min_value=0, max_value=5_000),
    st.sampled_from([("", ""), ('{"domains": ', "}"), ('["a.com", ', "]")]),
    st.sampled_from(FORMATS),
    st.booleans(),
)
def test_json_of_any_depth_is_entries_or_input_error(
    depth: int, around: tuple[str, str], fmt: Format, closed: bool
) -> None:
    document = around[0] + "[" * depth + ("]" * depth + around[1] if closed else "")
    try:
        result = entries(document.encode(), fmt=fmt)
    except InputError:
        return
    assert all(isinstance(e, str) for e in result)


def test_json_is_bounded_once_unpacked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small gzip body may unpack to gigabytes: JSON, parsed whole, has a size bound."""
    monkeypatch.setattr(inputs, "MAX_JSON_BYTES", 10_000)
    bomb = gzip.compress(b'["a.com", "' + b"b" * 50_000 + b'.com"]')
    assert len(bomb) < 1_000
    with pytest.raises(LimitExceededError, match="larger than 10,000 bytes once unpacked"):
        list(iter_entries(bomb_chunks(bomb), filename="bomb.json.gz"))
    assert list(iter_entries([gzip.compress(b'["a.com"]')], fmt="json")) == ["a.com"]


def bomb_chunks(data: bytes) -> list[bytes]:
    return [data[i : i + 100] for i in range(0, len(data), 100)]
