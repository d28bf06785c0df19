"""Batch input parsing: text, CSV, JSON, auto-detection and streaming."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainbatch.core.inputs import iter_entries
from domainbatch.errors import InputError


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
