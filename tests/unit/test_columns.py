"""CSV header detection: normalized names, the ranked synonyms, a chosen column."""

from __future__ import annotations

import io

import pytest

from domainbatch.core.columns import HEADER_NAMES, missing_column, normalize_header, pick_column
from domainbatch.core.inputs import iter_entries
from domainbatch.errors import InputError


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Company Domain Name", "companydomainname"),
        ("  website_url ", "websiteurl"),
        ("WEBSITE-URL:", "websiteurl"),
        ('"Web site"', "website"),
        ("Ｗｅｂｓｉｔｅ", "website"),  # full-width, as some spreadsheets save it
        ("Organization - Website", "organizationwebsite"),
    ],
)
def test_normalize_header(header: str, expected: str) -> None:
    assert normalize_header(header) == expected


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["Name", "Website URL", "Company Domain Name"], 2),  # a domain before a website
        (["Website", "Company Website"], 0),  # a bare name before its prefixed form
        (["URL", "Homepage"], 1),
        (["Company LinkedIn URL", "Email Domain", "Site"], 2),  # names match whole
        (["Account: Website"], 0),
        (["Home Page", "Web"], 0),
        (["Name", "Phone"], None),
        ([], None),
    ],
)
def test_known_names_by_rank(cells: list[str], expected: int | None) -> None:
    assert pick_column(cells) == expected


def test_every_documented_name_is_recognized_with_or_without_an_entity_word() -> None:
    for name in HEADER_NAMES:
        assert pick_column(["x", name.upper()]) == 1, name
        assert pick_column(["x", f"Company {name}"]) == 1, name


def test_a_chosen_column_by_name_then_by_number() -> None:
    cells = ["Name", "2", "Website URL", "Domain"]
    assert pick_column(cells, "website url") == 2
    assert pick_column(cells, "2") == 1  # a header named "2" wins over column number 2
    assert pick_column(cells, "4") == 3
    assert pick_column(cells, "5") is None
    assert pick_column(cells, "0") is None
    assert pick_column(cells, "Homepage") is None  # a choice is exact: no synonyms


def test_errors_list_the_headers_found() -> None:
    message = missing_column(["Name", " Phone "], None).message
    assert "headers found: 'Name', 'Phone'" in message and "--column" in message
    many = missing_column([f"c{i}" for i in range(40)], "x").message
    assert "'c29', ... (40 columns)" in many and "'c30'" not in many


def test_iter_entries_with_a_column() -> None:
    data = b"Name;Company Domain Name;Website URL\nA;a.test;https://a.test/x\n"
    assert list(iter_entries(io.BytesIO(data))) == ["a.test"]
    assert list(iter_entries(io.BytesIO(data), column="Website URL")) == ["https://a.test/x"]
    assert list(iter_entries(io.BytesIO(data), column="1")) == ["A"]
    with pytest.raises(InputError, match="blank"):
        iter_entries(io.BytesIO(data), column=" - ")
    with pytest.raises(InputError, match="only CSV has columns"):
        iter_entries(io.BytesIO(b'["a.test"]'), column="1")
    with pytest.raises(InputError, match="only CSV has columns"):
        iter_entries(io.BytesIO(b"a.test\n"), fmt="text", column="1")


def test_a_crm_header_is_sniffed_as_csv_without_an_extension() -> None:
    assert list(iter_entries(io.BytesIO(b"Website URL\nx.test\n"))) == ["x.test"]
    assert list(iter_entries(io.BytesIO(b"x.test\ny.test\n"))) == ["x.test", "y.test"]
