"""Which CSV column holds the domains: header detection.

Header cells are compared by their normalized name: Unicode NFKC, case folded, and everything
but letters and digits dropped, so ``Website URL``, ``website_url``, ``WEBSITE-URL`` and
``"Website URL:"`` are one name. Without a choice from the caller the best-ranked of
``HEADER_NAMES`` wins, each name also accepted after one of ``ENTITY_WORDS`` (``Company Domain
Name``, ``Organization - Website``, ``Account: Website``); names are matched whole, so
``Company LinkedIn URL`` or ``Email Domain`` never count as ``URL`` or ``domain``. A caller's
choice (``--column``, the API's ``column``) is a header name, normalized the same way, or else a
1-based column number.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Sequence

from domainbatch.errors import InputError

__all__ = [
    "ENTITY_WORDS",
    "HEADER_NAMES",
    "check_choice",
    "header_index",
    "missing_column",
    "normalize_header",
    "pick_column",
    "split_header",
]

# By preference. CRM exports name the column these ways: HubSpot "Company Domain Name" and
# "Website URL"; Salesforce "Website" ("Account: Website" in reports); Pipedrive "Organization -
# Website"; Apollo, ZoomInfo and Sales Navigator tools "Website" or "Company Website"; Clearbit
# "domain". A domain name comes first (a CRM's key for a company: no path, no tracking
# parameters), then a website, then any URL or site column.
HEADER_NAMES: tuple[str, ...] = (
    "domain",
    "domain name",
    "primary domain",
    "website",
    "website URL",
    "website address",
    "web address",
    "homepage",
    "homepage URL",
    "URL",
    "site",
    "site URL",
    "web",
    "www",
)
ENTITY_WORDS: tuple[str, ...] = (
    "company",
    "organization",
    "organisation",
    "org",
    "account",
    "business",
)
_SHOWN = 30  # header cells quoted in an error


def normalize_header(name: str) -> str:
    """``"Company Domain-Name:"`` -> ``"companydomainname"``."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(char for char in folded if char.isalnum())


def _ranks() -> dict[str, int]:
    """Normalized name -> rank (lower wins): a bare name before its entity-prefixed forms."""
    ranks: dict[str, int] = {}
    for index, name in enumerate(HEADER_NAMES):
        base = normalize_header(name)
        ranks.setdefault(base, 2 * index)
        for word in ENTITY_WORDS:
            ranks.setdefault(word + base, 2 * index + 1)
    return ranks


_RANKS = _ranks()


def check_choice(column: str | None) -> None:
    """Refuse a chosen column that names nothing (blank or punctuation only)."""
    if column is not None and not normalize_header(column):
        raise InputError(f"the column to read is blank ({column!r}): give a header name or number")


def pick_column(cells: Sequence[str], column: str | None = None) -> int | None:
    """The 0-based index of the domain column among the header ``cells``, or None.

    ``column`` None: the best-ranked known name, the leftmost of equal rank. Otherwise the
    leftmost header whose normalized name equals ``column``'s, else ``column`` read as a
    1-based column number.
    """
    names = [normalize_header(cell) for cell in cells]
    if column is not None:
        wanted = normalize_header(column)
        if wanted in names:
            return names.index(wanted)
        number = column.strip()
        if number.isdigit() and 1 <= int(number) <= len(cells):
            return int(number) - 1
        return None
    ranked = [(_RANKS[name], index) for index, name in enumerate(names) if name in _RANKS]
    return min(ranked)[1] if ranked else None


def split_header(line: str, column: str | None = None) -> tuple[list[str], str]:
    """Split a header line on its most plausible delimiter (comma, semicolon or tab): the first
    whose cells hold the domain column, else the one that gives the most cells."""
    best: tuple[list[str], str] | None = None
    try:
        for delimiter in (",", ";", "\t"):
            if delimiter in line:
                cells = next(csv.reader([line], delimiter=delimiter), [])
                if pick_column(cells, column) is not None:
                    return cells, delimiter
                if best is None or len(cells) > len(best[0]):
                    best = (cells, delimiter)
        return best or (next(csv.reader([line]), []), ",")
    except csv.Error as exc:  # e.g. a cell over the csv module's field limit
        raise InputError(f"malformed CSV header line: {exc}") from None


def header_index(line: str) -> int | None:
    """The domain column of a header ``line`` by the known names (format sniffing)."""
    return pick_column(split_header(line)[0]) if line else None


def missing_column(cells: Sequence[str], column: str | None) -> InputError:
    """The error for a header without the domain column: it lists the headers found."""
    shown = [repr(cell.strip()) for cell in cells[:_SHOWN]]
    if len(cells) > _SHOWN:
        shown.append(f"... ({len(cells)} columns)")
    found = ", ".join(shown) or "none"
    if column is not None:
        return InputError(
            f"the CSV has no column {column.strip()!r} (names are compared ignoring case, spaces"
            f" and punctuation; a number picks a column from 1 to {len(cells)}); headers found:"
            f" {found}"
        )
    known = ", ".join(HEADER_NAMES)
    return InputError(
        f"the CSV has no domain column: no header is one of {known} (also after Company,"
        " Organization or Account; case, spaces and punctuation ignored); headers found:"
        f" {found}. Name the column to read with --column NAME or its number (API: ?column=)"
    )
