"""Where a match in a page comes from: the page's own site or another, code or a comment.

Technology detection reads raw text, where a CMS's directory (``/wp-content/``) in a link
to another site, or a snippet commented out, says nothing about the page. Two tools:

* :func:`split_comments` blanks HTML comments (same length, so positions hold) and returns
  them apart, for the few fingerprints that read banner comments;
* :class:`Site` tells whether the URL a match sits in is relative or on the page's
  registrable domain (the public suffix list of ``core.suffixes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from domainbatch.core.hosts import looks_like_ipv4
from domainbatch.core.suffixes import default_suffix_list

MAX_URL_CHARS = 2_048  # how far before a match its URL may start
MAX_SITE_CHECKS = 100  # matches on other sites looked past, per pattern and text
# Elements whose content is text, where "<!--" opens no comment (a script's old-style
# "<!-- ... //-->" wrapper is code). The rarer ones (textarea, title...) are left out:
# looking for an absent tag costs a scan of the page, and a comment in them is rare.
_RAW_TEXT_TAGS = ("script", "style")
_TAG_NAME_END = frozenset(" \t\n\r\f/>")
# A URL ends (reading backwards from a match) at whitespace, a quote, a bracket, "=" (an
# attribute or a query value), "," (srcset) or ";" ("&quot;", "url=" in a refresh).
_URL_TAIL_REVERSED = re.compile(r"[^\s\"'`()<>\[\]{}=,;|]*")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:")
_HOST_END = re.compile(r"[/?#\\]")


def split_comments(html: str, folded: str) -> tuple[str, str, str]:
    """(``html``, ``folded``) with HTML comments blanked, and the comments joined.

    ``folded`` is ``html`` folded (``needles.fold``: one character for one), so both are
    blanked at the same places. A comment runs from ``<!--`` to the next ``-->`` (or the
    end, as in a browser); inside scripts and styles ``<!--`` is text. One pass: every
    search starts where the previous one ended.
    """
    comment = folded.find("<!--")
    if comment < 0:
        return html, folded, ""
    spans: list[tuple[int, int]] = []
    upcoming: dict[str, int] = {}  # raw-text tag -> its next start at or after position
    position = 0
    while comment >= 0:
        raw = _next_raw_text(folded, position, upcoming)
        if raw is not None and raw[0] < comment:
            close = folded.find("</" + raw[1], raw[0] + 1)
            position = len(folded) if close < 0 else close
            if comment < position:
                comment = folded.find("<!--", position)
            continue
        close = folded.find("-->", comment + 2)  # "<!-->" is an empty comment
        end = len(folded) if close < 0 else close + 3
        spans.append((comment, end))
        position = end
        comment = folded.find("<!--", position)
    return _blank(html, spans), _blank(folded, spans), "\n".join(html[a:b] for a, b in spans)


def _next_raw_text(folded: str, position: int, upcoming: dict[str, int]) -> tuple[int, str] | None:
    """(start, tag) of the first raw-text element at or after ``position``. ``upcoming``
    keeps each tag's next start, so each tag's search only moves forward (one pass)."""
    first: tuple[int, str] | None = None
    for tag in _RAW_TEXT_TAGS:
        start = upcoming.get(tag, -2)
        if start == -2 or -1 < start < position:
            start = folded.find("<" + tag, position)
            while start >= 0 and not _ends_tag_name(folded, start + len(tag) + 1):
                start = folded.find("<" + tag, start + 1)  # "<scripts", "<titles"
            upcoming[tag] = start
        if start >= 0 and (first is None or start < first[0]):
            first = (start, tag)
    return first


def _ends_tag_name(text: str, index: int) -> bool:
    return index >= len(text) or text[index] in _TAG_NAME_END


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces += (text[position:start], " " * (end - start))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def url_before(text: str, position: int) -> str:
    """The part of the URL in ``text`` that ends at ``position`` (lowercased)."""
    window = text[max(0, position - MAX_URL_CHARS) : position]
    match = _URL_TAIL_REVERSED.match(window[::-1])
    return (match.group() if match else "")[::-1].lower()


def host_of_url(url: str) -> str | None:
    """The host of an absolute or scheme-relative ``url``; "" when it is relative; None
    for another scheme (``mailto:``, ``data:``...)."""
    if url.startswith("//"):
        rest = url[2:]
    else:
        scheme = _SCHEME.match(url)
        if scheme is None:
            return ""
        if scheme.group() not in ("http:", "https:") or not url.startswith("//", scheme.end()):
            return None
        rest = url[scheme.end() + 2 :]
    end = _HOST_END.search(rest)
    authority = rest[: end.start()] if end else rest
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0].rstrip(".")


def site_of(host: str) -> str:
    """The registrable domain of ``host``: the public suffix list's, or the last two
    labels under a top-level domain the list does not know (``.test``, intranets). An IP
    address is its own site."""
    if host.startswith("[") or looks_like_ipv4(host):
        return host
    labels = host.split(".")
    known = default_suffix_list().suffix_length(labels)
    if known is None:
        known = 1
    return ".".join(labels[-known - 1 :]) if known < len(labels) else host


@dataclass
class Site:
    """The page's own site: its registrable domain, from the page's URL."""

    page_url: str
    domain: str | None = None
    _sites: dict[str, bool] = field(default_factory=dict)  # host -> own, per page

    def __post_init__(self) -> None:
        host = host_of_url(self.page_url.lower())
        self.domain = site_of(host) if host else None

    def owns(self, text: str, position: int) -> bool:
        """Whether the URL in ``text`` at ``position`` (where a match starts) is relative
        or on this site. Without a page URL, only relative URLs are."""
        host = host_of_url(url_before(text, position))
        if host is None:
            return False
        if not host:
            return True
        own = self._sites.get(host)
        if own is None:
            own = self.domain is not None and site_of(host) == self.domain
            self._sites[host] = own
        return own
