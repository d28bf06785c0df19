"""Email addresses: mailto: links (anchors and <link> tags), visible text (plain and
obfuscated), Cloudflare-protected.

Addresses are lowercased and deduplicated in order of appearance. Recognized obfuscations:
``name [at] domain [dot] com`` (any of ``[] () {} <>`` around ``at``/``dot``, or ``@``/``.``
in brackets), ``name(at)domain.com``, ``name at domain dot com`` (spaced words, only when
both ``at`` and ``dot`` appear), and Cloudflare's ``data-cfemail`` / ``email-protection#``.
Rejected: image and asset names (``logo@2x.png``, ``sprite@3x.webp``), reserved or
placeholder domains (``example.com``, ``*.test``, ``domain.com``, ``yourdomain.com``...) and
placeholder mailboxes (``you@``, ``your.name@``, ``john.doe@``...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from urllib.parse import unquote

from domainbatch.extract.document import Document

MAX_EMAILS = 50
MAX_MATCHES = 500

_LOCAL = r"[a-z0-9](?:[a-z0-9._%+'-]{0,62}[a-z0-9_%+-])?"
_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
_PLAIN = re.compile(rf"(?<![a-z0-9._%+-])({_LOCAL})@({_DOMAIN})(?![a-z0-9-])", re.I)
_OPEN, _CLOSE = r"[\[({<]", r"[\])}>]"
_AT = rf"(?:\s*{_OPEN}\s*(?:at|@)\s*{_CLOSE}\s*|\s+at\s+)"
_DOT = rf"(?:\s*{_OPEN}\s*(?:dot|\.)\s*{_CLOSE}\s*|\s+dot\s+|\.)"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_OBFUSCATED = re.compile(
    rf"(?<![a-z0-9._%+-])(?P<local>{_LOCAL})(?P<at>{_AT})"
    rf"(?P<domain>(?:{_LABEL}{_DOT}){{1,4}}[a-z]{{2,24}})(?![a-z0-9-])",
    re.I,
)
_DOT_SEPARATOR = re.compile(_DOT, re.I)
# Every obfuscated address has a bracketed at/dot or a spelled-out " dot ": skip texts without.
# One regex per opening bracket (a literal first character is found at memchr speed, where
# a character class or a case-insensitive word is tested at every position), and " dot "
# only looked for when the text holds "dot" in some case.
_BRACKETED_HINTS = tuple(
    re.compile(rf"{re.escape(bracket)}\s*(?:at|@|dot|\.)\s*{_CLOSE}", re.I) for bracket in "[({<"
)
_SPELLED_DOT = re.compile(r"\sdot\s", re.I)
_BRACKET = re.compile(_OPEN)
_OBFUSCATED_DOT = re.compile(rf"{_OPEN}|\s", re.I)
# Where an obfuscated match's "at" can be (see _obfuscated_matches): a bracketed at/@, one
# regex per opening bracket, and a spelled "at" between whitespace, one regex per case
# ("at" folds to ASCII only): each starts with a literal, found at memchr speed, where
# _OBFUSCATED itself is tried at every letter of the text.
_AT_ANCHORS = tuple(
    re.compile(rf"{re.escape(bracket)}\s*(?:at|@)\s*{_CLOSE}", re.I) for bracket in "[({<"
) + tuple(re.compile(rf"{word}(?<=\s{word})(?=\s)") for word in ("at", "At", "aT", "AT"))
_LOCAL_RUN = re.compile(r"[a-z0-9._%+'-]*\Z", re.I)  # _LOCAL's characters, up to the end


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ASSET_TLDS = _words(
    "png jpg jpeg gif webp avif svg bmp ico tif tiff heic css js mjs map json xml woff woff2 "
    "ttf otf eot mp4 webm mp3 ogg wav pdf zip gz php html htm asp aspx"
)
_RETINA = re.compile(r"^\d+(?:\.\d+)?x\.")
_PLACEHOLDER_DOMAINS = _words(
    "example.com example.org example.net example.edu domain.com yourdomain.com your-domain.com "
    "yoursite.com yourcompany.com mydomain.com mysite.com mycompany.com company.com email.com "
    "sentry.io wixpress.com sentry.wixpress.com"
)
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local"})
_PLACEHOLDER_MAILBOXES = _words(
    "you your yourname your.name youremail your.email yourmail name.surname firstname.lastname "
    "first.last john.doe jane.doe johndoe janedoe someone"
)


def normalize_email(candidate: str) -> str | None:
    """``candidate`` as a lowercased address, or None when it is not a plausible one."""
    address = candidate.strip().strip(".").lower()
    local, sep, domain = address.rpartition("@")
    if not sep or not local or not domain or len(local) > 64 or len(address) > 254:
        return None
    if not _PLAIN.fullmatch(address):
        return None
    tld = domain.rsplit(".", 1)[-1]
    if tld in _ASSET_TLDS or _RETINA.match(domain) or tld in _RESERVED_TLDS:
        return None
    if domain in _PLACEHOLDER_DOMAINS or domain.startswith("example."):
        return None
    if local in _PLACEHOLDER_MAILBOXES:
        return None
    return address


def decode_cfemail(encoded: str) -> str | None:
    """Cloudflare email obfuscation: hex bytes XORed with the first byte."""
    try:
        data = bytes.fromhex(encoded.strip()[:512])
    except ValueError:
        return None
    if len(data) < 2:
        return None
    key = data[0]
    return bytes(b ^ key for b in data[1:]).decode("utf-8", errors="replace")


def _mailto_addresses(href: str) -> list[str]:
    target = href[len("mailto:") :].split("?", 1)[0]
    return [part for part in unquote(target).split(",") if part.strip()]


def has_obfuscation_hint(text: str) -> bool:
    """Whether ``text`` has a bracketed at/dot (``[at]``, ``(.)``) or a spaced " dot "."""
    if any(hint.search(text) for hint in _BRACKETED_HINTS):
        return True
    # "dot" in any case: the regex folds only ASCII d/o/t, and UTF-8 keeps ASCII bytes for
    # ASCII characters only, so bytes.lower() finds the same (faster than str.lower()).
    if b"dot" not in text.encode("utf-8", "surrogatepass").lower():
        return False
    return _SPELLED_DOT.search(text) is not None


def _obfuscated_matches(text: str) -> Iterator[re.Match[str]]:
    """The matches of ``_OBFUSCATED.finditer(text)``, found from where their "at" can be.

    A match's local part is a run of characters that holds no whitespace nor bracket, and
    its "at" starts with one of those: so it starts right where the run of local characters
    from the match's start ends (``r``), on the whitespace before a bracketed at/@ or a
    spelled "at" (an anchor). The match starts at the run's start, or just after an
    apostrophe in it (the one local character the look-behind allows before a start), at
    most 64 characters before ``r``. Trying those starts in order, ``r`` by ``r``, gives
    the matches finditer gives. Measured over the visible texts of the 179 pages of
    ``tests/fixtures`` and both benches: finditer (``_OBFUSCATED`` tried at every letter)
    1.1 ms a text, this 0.08-0.14 ms; it runs only on texts with a hint (3 of the fetch
    bench's 60 documents, where it cost about 4 ms each).
    """
    ends: set[int] = set()
    for anchor in _AT_ANCHORS:
        for found in anchor.finditer(text):
            start = found.start()
            while start > 0 and text[start - 1].isspace():  # \s is str.isspace
                start -= 1
            ends.add(start)
    position = 0
    for end in sorted(ends):
        if end <= position:
            continue
        low = max(position, end - 64)
        run = _LOCAL_RUN.search(text, low, end)
        starts = [run.start() if run is not None else low]
        quote = text.find("'", starts[0], end)
        while quote >= 0:
            starts.append(quote + 1)
            quote = text.find("'", quote + 1, end)
        for start in starts:
            match = _OBFUSCATED.match(text, start)
            if match is not None:
                yield match
                position = match.end()
                break


def _text_candidates(text: str) -> Iterable[str]:
    at = text.find("@")
    for _ in range(MAX_MATCHES):  # each "@" is examined in a window around it, not the text
        if at < 0:
            break
        for match in _PLAIN.finditer(text, max(0, at - 65), at + 256):
            if match.start(2) == at + 1:
                yield f"{match.group(1)}@{match.group(2)}"
                break
        at = text.find("@", at + 1)
    obfuscated = _obfuscated_matches(text) if has_obfuscation_hint(text) else iter(())
    for count, match in enumerate(obfuscated):
        if count >= MAX_MATCHES:
            break
        domain = match.group("domain")
        if not _BRACKET.search(match.group("at")) and not _OBFUSCATED_DOT.search(domain):
            continue  # "meet us at example.com" is prose: a spelled-out "at" needs a "dot" too
        yield f"{match.group('local')}@{_DOT_SEPARATOR.sub('.', domain)}"


def find_emails(doc: Document, extra: Iterable[str | None] = ()) -> list[str]:
    candidates: list[str] = []
    # <link rel="author" href="mailto:..."> and <link rev="made" ...> name the page's author.
    links = [link.href for link in doc.link_tags if link.href[:7].lower() == "mailto:"]
    for href in [*doc.anchor_hrefs, *links]:
        lowered = href[:7].lower()
        if lowered == "mailto:":
            candidates.extend(_mailto_addresses(href))
        elif "/cdn-cgi/l/email-protection#" in href:
            decoded = decode_cfemail(href.rsplit("#", 1)[-1])
            if decoded:
                candidates.append(decoded)
    # Attribute names are ASCII-lowercased by the parser, so a page without the folded name
    # has no such element: the selector tests every element's attributes (0.06-0.09 ms a
    # page on the bench pages, nearly none of which has one).
    cfemail = doc.select("[data-cfemail]") if "data-cfemail" in doc.folded_html else ()
    for node in cfemail:
        decoded = decode_cfemail(node.attributes.get("data-cfemail") or "")
        if decoded:
            candidates.append(decoded)
    candidates.extend(value for value in extra if value)
    candidates.extend(_text_candidates(doc.visible_text))
    found: list[str] = []
    for candidate in candidates:
        address = normalize_email(candidate)
        if address and address not in found:
            found.append(address)
            if len(found) >= MAX_EMAILS:
                break
    return found
