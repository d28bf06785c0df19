"""A parsed page: decoded text, the selectolax tree, link resolution and the collections
extractors share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import accumulate
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from domainbatch.extract.charset import decode_body
from domainbatch.extract.headers import HeaderBag
from domainbatch.extract.needles import fold

MAX_ELEMENTS = 5_000  # per kind (meta, link, a, script) looked at
MAX_TEXT_CHARS = 200_000  # visible text kept for email and phone scanning
MAX_ATTRIBUTE_CHARS = 4_096
MAX_URL_CHARS = 2_048
MAX_NESTING = 512  # like Blink's parser; deeper input is cut (lexbor is quadratic in depth)
NESTING_CHECK_TAGS = 10_000  # below this many "<", depth cannot cost much

_SKIPPED_TEXT_PARENTS = frozenset({"script", "style", "noscript", "template", "iframe", "head"})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_BLOCK_TAGS = _words(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol option p pre section table tbody td tfoot th "
    "thead tr ul"
)
_WHITESPACE = re.compile(r"\s+")
_RAW_TEXT_TAGS = frozenset({"script", "style", "textarea", "title", "xmp", "noscript"})
# Elements that never hold children, or that close their open sibling (p, li, td, a...).
_FLAT_TAGS = _words(
    "area base br col embed hr img input link meta param source track wbr keygen frame "
    "p li dt dd option optgroup tr td th thead tbody tfoot rp rt colgroup caption a"
)
_FLAT_ANY_CASE = _FLAT_TAGS | {tag.upper() for tag in _FLAT_TAGS}
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]{0,30})")
# _TAG as one string per tag ("div", "/div"): findall then builds no tuples.
_TAG_TEXT = re.compile(r"<(/?[A-Za-z][A-Za-z0-9-]{0,30})")
_FLAT = _FLAT_ANY_CASE | {"/" + name for name in _FLAT_ANY_CASE}
_RAW_TEXT_OPEN = re.compile(rf"<({'|'.join(sorted(_RAW_TEXT_TAGS))})\b")


def absolutize(base: str, href: str | None) -> str | None:
    """``href`` resolved against ``base``, or None when it is not an http(s) URL."""
    if not href:
        return None
    href = href.strip()
    if not href or len(href) > MAX_URL_CHARS:
        return None
    try:
        absolute = href[:8].lower().startswith(("https://", "http://"))
        joined = href if absolute or not base else urljoin(base, href)
        parts = urlsplit(joined)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return joined


def http_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL, else an empty string (no base to resolve)."""
    try:
        parts = urlsplit(url.strip())
    except (ValueError, AttributeError):
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return url.strip()


def collapse(text: str | None, limit: int = MAX_ATTRIBUTE_CHARS) -> str | None:
    """``text`` with runs of whitespace collapsed to one space, or None when blank."""
    if text is None:
        return None
    cleaned = _WHITESPACE.sub(" ", text[: limit * 2]).strip()[:limit]
    return cleaned or None


def _deepen(depth: int, step: int) -> int:
    return depth + step if depth + step > 0 else 0


def _blank_raw_text(html: str) -> str:
    """``html`` with the contents of scripts, styles... replaced by spaces (same length)."""
    lowered = html.lower()
    pieces: list[str] = []
    position = 0
    for match in _RAW_TEXT_OPEN.finditer(lowered):
        if match.start() < position:
            continue
        end = lowered.find("</" + match.group(1), match.end())
        end = len(html) if end < 0 else end
        pieces += (html[position : match.end()], " " * (end - match.end()))
        position = end
    pieces.append(html[position:])
    return "".join(pieces)


def limit_nesting(html: str) -> tuple[str, bool]:
    """``html`` cut before the first element nested deeper than ``MAX_NESTING`` (estimated).

    The estimate counts start and end tags, skipping void and sibling-closing elements
    and the content of raw-text elements (scripts, styles); it only runs on documents with
    many tags. The boolean says whether the text was cut.
    """
    if html.count("<") <= NESTING_CHECK_TAGS:
        return html, False
    flat = _blank_raw_text(html)
    steps = [-1 if tag[0] == "/" else 1 for tag in _TAG_TEXT.findall(flat) if tag not in _FLAT]
    if max(accumulate(steps, _deepen), default=0) <= MAX_NESTING:
        return html, False
    depth = 0
    for match in _TAG.finditer(flat):
        if match.group(2) not in _FLAT_ANY_CASE:
            depth = _deepen(depth, -1 if match.group(1) else 1)
            if depth > MAX_NESTING:
                return html[: match.start()], True
    return html, False  # pragma: no cover - the estimate above found a deeper point


@dataclass(frozen=True)
class MetaTag:
    key: str  # lowercased name, property, itemprop or http-equiv (the first one present)
    content: str
    attribute: str = "name"  # which of those four attributes gave ``key``
    name: str = ""  # lowercased ``name``, also when ``property`` gave the key


@dataclass(frozen=True)
class LinkTag:
    rel: frozenset[str]
    href: str
    attributes: dict[str, str] = field(default_factory=dict)


def _attributes(node: LexborNode) -> dict[str, str]:
    return {
        str(key).lower(): (value or "")[:MAX_ATTRIBUTE_CHARS]
        for key, value in node.attributes.items()
    }


class Document:
    """Everything extractors read, parsed once; collections are computed on first use."""

    def __init__(
        self, url: str, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes
    ) -> None:
        self.url = http_url(url) if isinstance(url, str) else ""
        self.headers = HeaderBag(headers)
        decoded = decode_body(bytes(body or b""), self.headers.get("content-type"))
        self.html = decoded.text
        self.charset = decoded.charset
        self.charset_source = decoded.source
        html, cut = limit_nesting(decoded.text)
        self.truncated = decoded.truncated or cut
        self.tree = LexborHTMLParser(html)
        self._selected: dict[str, tuple[LexborNode, ...]] = {}

    def select(self, selector: str) -> tuple[LexborNode, ...]:
        """The first ``MAX_ELEMENTS`` matches of ``selector``; asked again (several
        fingerprints read ``script`` or ``iframe``), the same list without a new search."""
        found = self._selected.get(selector)
        if found is None:
            found = self._selected[selector] = tuple(self.tree.css(selector)[:MAX_ELEMENTS])
        return found

    @cached_property
    def folded_html(self) -> str:
        """``html`` folded (``needles.fold``: lowercased, one character for one), shared by
        the technology prefilter and the checks for an attribute before a selector runs."""
        return fold(self.html)

    @cached_property
    def base_url(self) -> str:
        """The page URL, or the absolute ``<base href>`` when the page declares one."""
        node = self.tree.css_first("base[href]")
        if node is not None and self.url:
            resolved = absolutize(self.url, node.attributes.get("href"))
            if resolved:
                return resolved
        return self.url

    @cached_property
    def meta_tags(self) -> list[MetaTag]:
        tags: list[MetaTag] = []
        for node in self.select("meta[content]"):
            attrs = _attributes(node)
            for attr in ("property", "name", "itemprop", "http-equiv"):
                key = attrs.get(attr, "").strip().lower()
                if key:
                    name = attrs.get("name", "").strip().lower()
                    tags.append(MetaTag(key, attrs.get("content", ""), attr, name))
                    break
        return tags

    def meta(self, key: str) -> list[str]:
        """Contents of every meta tag named ``key`` (name, property, itemprop or http-equiv)."""
        return [tag.content for tag in self.meta_tags if tag.key == key]

    @cached_property
    def link_tags(self) -> list[LinkTag]:
        tags: list[LinkTag] = []
        for node in self.select("link[href]"):
            attrs = _attributes(node)
            rel = frozenset(attrs.get("rel", "").lower().split())
            tags.append(LinkTag(rel, attrs.get("href", "").strip(), attrs))
        return tags

    @cached_property
    def anchor_hrefs(self) -> list[str]:
        return [(node.attributes.get("href") or "").strip() for node in self.select("a[href]")]

    @cached_property
    def form_actions(self) -> list[str]:
        return [
            (node.attributes.get("action") or "").strip() for node in self.select("form[action]")
        ]

    @cached_property
    def script_srcs(self) -> list[str]:
        return [(node.attributes.get("src") or "").strip() for node in self.select("script[src]")]

    @cached_property
    def inline_scripts(self) -> list[str]:
        """The text of each ``<script>`` without ``src`` (read only by Wappalyzer tables)."""
        return [node.text(deep=True) or "" for node in self.select("script:not([src])")]

    @cached_property
    def visible_text(self) -> str:
        """Text a reader sees (no script/style), blocks on new lines, text nodes spaced, capped."""
        body = self.tree.body
        if body is None:
            return ""
        ids = _tag_ids()
        if ids is None:  # pragma: no cover - selectolax without tag ids
            return _visible_text_by_name(body)
        text_id, skipped_ids, block_ids = ids
        parts: list[str] = []
        size = 0
        skipped: set[int] = set()  # text children of skipped elements, by node identity
        # The walk by tag names, faster: tag ids are ints (a name is a new string each
        # time), and a skipped element marks its text children when the walk reaches it
        # (before them), instead of every text node looking up its parent.
        for node in body.traverse(include_text=True):
            tag_id = node.tag_id
            if tag_id == text_id:
                if skipped and node.mem_id in skipped:
                    continue
                chunk = node.text_content or ""
                parts.append(chunk)
                parts.append(" ")  # inline neighbours (menu links...) must not glue together
                size += len(chunk) + 1
                if size >= MAX_TEXT_CHARS:
                    break
            elif tag_id in block_ids:
                parts.append("\n")
            elif tag_id in skipped_ids:
                child = node.child
                while child is not None:
                    if child.tag_id == text_id:
                        skipped.add(child.mem_id)
                    child = child.next
        return "".join(parts)[:MAX_TEXT_CHARS]


def _visible_text_by_name(body: LexborNode) -> str:
    """``Document.visible_text`` by tag names (selectolax without ``tag_id``)."""
    parts: list[str] = []
    size = 0
    for node in body.traverse(include_text=True):
        tag = node.tag
        if tag == "-text":
            parent = node.parent
            if parent is not None and parent.tag in _SKIPPED_TEXT_PARENTS:
                continue
            chunk = node.text_content or ""
            parts.append(chunk)
            parts.append(" ")
            size += len(chunk) + 1
            if size >= MAX_TEXT_CHARS:
                break
        elif tag in _BLOCK_TAGS:
            parts.append("\n")
    return "".join(parts)[:MAX_TEXT_CHARS]


@cache
def _tag_ids() -> tuple[int, frozenset[int], frozenset[int]] | None:
    """lexbor's ids of text nodes, of the skipped parents and of the block tags (fixed for
    HTML's own tags); None when this selectolax cannot tell them."""
    try:
        parser = LexborHTMLParser("<p>x</p>")
        paragraph = parser.css_first("p")
        text = paragraph.child if paragraph is not None else None
        if text is None or text.tag != "-text":
            return None

        def ids(names: frozenset[str]) -> frozenset[int]:
            return frozenset(int(parser.create_node(name).tag_id) for name in names)

        return int(text.tag_id), ids(_SKIPPED_TEXT_PARENTS), ids(_BLOCK_TAGS)
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - older selectolax
        return None
