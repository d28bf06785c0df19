"""Wappalyzer technology definitions -> the engine's compiled fingerprints.

A pattern is a string (or a list of them): a JavaScript-flavoured regex, matched
case-insensitively, with optional tags ``\\;version:TEMPLATE`` and ``\\;confidence:N``.
A version comes only from a template (``\\1`` is group 1), as in Wappalyzer.
``headers``, ``meta`` and ``cookies`` map a name to a pattern; ``dom`` is a CSS selector,
a list of them, or a map selector -> ``{exists, attributes: {name: pattern}, text}``.
What needs a browser or another request (``js``, ``xhr``, ``css``, ``robots``, ``dns``,
``certIssuer``, ``probe``, ``text``, DOM ``properties``) is skipped and counted, as is a
regex Python cannot compile (JavaScript-only syntax) or a selector lexbor cannot parse.

Our extensions, written by the built-in database (``extract.fingerprints``) and read in any
database (Wappalyzer's tools ignore unknown fields and tags): the pattern-list fields
``links`` (``<link href>``), ``anchors`` (``<a href>``, ``<form action>``), ``comments`` (the
HTML comments) and ``cookieNames`` (regexes on the names of the cookies set), and the tag
``\\;site:own``: the pattern counts only inside a URL of the page's own site.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, NamedTuple

from selectolax.lexbor import LexborHTMLParser

from domainbatch.extract.fingerprint_table import CompiledFingerprint, DomRule
from domainbatch.extract.needles import choose_gates, commonness
from domainbatch.extract.patterns import Pattern, compile_regex

SKIPPED_FIELDS = ("js", "xhr", "css", "robots", "dns", "certIssuer", "probe", "text")
# Text sources: field -> the engine's source, in the order a version is looked for (the
# first found wins). links, anchors, comments and cookieNames are our extensions.
_SOURCES = (
    ("scriptSrc", "scripts"),
    ("links", "links"),
    ("anchors", "anchors"),
    ("html", "html"),
    ("comments", "comments"),
    ("cookieNames", "cookies"),
    ("url", "url"),
    ("scripts", "inline"),
)
_OWN_SITE = "own"  # the value of our tag ``\\;site:own``
_ID_OR_CLASS = re.compile(r"[#.]([A-Za-z_][\w-]{2,})")
_ATTRIBUTE_NAME = re.compile(r"\[\s*([A-Za-z_][\w-]{2,})")
# An attribute test's value: [name OP "value"], [name OP 'value'] or [name OP value].
_ATTRIBUTE_VALUE = re.compile(r"""[~|^$*]?=\s*(?:("[^"]*"|'[^']*')|([^\]\s'"]+))""")
# A word of a decoded value or text: letters, digits, "_" and "-" are not written as
# character references (other characters are: "&#x2F;", "&#32;", "&apos;").
_VALUE_RUN = re.compile(r"[\w-]{2,}")
# A type selector with a hyphen, at the start or after a combinator: a custom element.
_CUSTOM_ELEMENT = re.compile(r"(?:^|[\s>+~])([a-z][a-z0-9]*-[\w-]*)", re.I)
_ESCAPE = re.compile(r"\\([^0-9A-Fa-f\s])")
_PSEUDO_ARGUMENT = re.compile(r"\([^()]*\)")
_PROBE = LexborHTMLParser("<p></p>")
OTHER = "Other"


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


class Tagged(NamedTuple):
    """A pattern string's regex and tags."""

    regex: str
    template: str | None  # \\;version:
    confidence: int  # \\;confidence: (100 without)
    own_site: bool  # \\;site:own (ours)


def parse_tags(text: str) -> Tagged:
    """The regex and tags of a tagged pattern string; unknown tags are ignored."""
    regex, *tags = text.split("\\;")
    template: str | None = None
    confidence = 100
    own_site = False
    for tag in tags:
        key, _, value = tag.partition(":")
        if key == "version":
            template = value
        elif key == "confidence" and value.strip().isdigit():
            confidence = int(value.strip())
        elif key == "site":
            own_site = value.strip() == _OWN_SITE
    return Tagged(regex, template, confidence, own_site)


class Translator:
    """Translates definitions one by one, counting what it skips (by kind)."""

    def __init__(self, categories: dict[str, str]) -> None:
        self.categories = categories
        self.skipped: Counter[str] = Counter()

    def pattern(self, text: Any, kind: str) -> Pattern | None:
        if not isinstance(text, str):
            self.skipped[f"{kind} (not a string)"] += 1
            return None
        tagged = parse_tags(text)
        try:
            return compile_regex(
                tagged.regex,
                tagged.template,
                own_site=tagged.own_site,
                confidence=tagged.confidence,
            )
        except (re.error, RecursionError, OverflowError):
            self.skipped[f"{kind} (regex Python cannot compile)"] += 1
            return None

    def patterns(self, value: Any, kind: str) -> tuple[Pattern, ...]:
        compiled = (self.pattern(text, kind) for text in _listed(value))
        return tuple(pattern for pattern in compiled if pattern is not None)

    def named(self, value: Any, kind: str) -> tuple[tuple[str, Pattern], ...]:
        if not isinstance(value, dict):
            self.skipped[f"{kind} (not a map)"] += len(_listed(value))
            return ()
        pairs = []
        for name, texts in value.items():
            for pattern in self.patterns(texts, kind):
                pairs.append((str(name).lower(), pattern))
        return tuple(pairs)

    def dom(self, value: Any) -> tuple[DomRule, ...]:
        if isinstance(value, dict):
            entries = list(value.items())
        else:
            entries = [(selector, {"exists": ""}) for selector in _listed(value)]
        rules = []
        for selector, checks in entries:
            if not isinstance(selector, str) or not _selector_parses(selector):
                self.skipped["dom (selector lexbor cannot parse)"] += 1
                continue
            checks = checks if isinstance(checks, dict) else {}
            if "properties" in checks:
                self.skipped["dom properties"] += 1
            attributes = self.named(checks.get("attributes", {}), "dom attributes")
            text = self.pattern(checks["text"], "dom text") if "text" in checks else None
            if not attributes and text is None and "exists" not in checks:
                continue  # only properties (a browser's): nothing we can read
            exists = parse_tags(checks.get("exists") or "").confidence
            gates = _selector_gates(selector) or _check_gates(attributes, text)
            rules.append(DomRule(selector, gates, attributes, text, exists))
        return tuple(rules)

    def fingerprint(self, name: str, definition: dict[str, Any]) -> CompiledFingerprint:
        for field in SKIPPED_FIELDS:
            value = definition.get(field)
            if value:
                self.skipped[field] += len(value) if isinstance(value, dict | list) else 1
        category_names = [self.categories.get(str(c)) for c in _listed(definition.get("cats"))]
        required_categories = (
            self.categories.get(str(c), str(c)) for c in _listed(definition.get("requiresCategory"))
        )
        return CompiledFingerprint(
            name=name,
            category=next((c for c in category_names if c), OTHER),
            headers=self.named(definition.get("headers", {}), "headers"),
            meta=self.named(definition.get("meta", {}), "meta"),
            sources=tuple(
                (source, patterns)
                for field, source in _SOURCES
                if (patterns := self.patterns(definition.get(field), field))
            ),
            implies=tuple(_implications(definition.get("implies"))),
            cookies=self.named(definition.get("cookies", {}), "cookies"),
            dom=self.dom(definition.get("dom")),
            excludes=tuple(parse_tags(n).regex for n in _listed(definition.get("excludes"))),
            requires=tuple(parse_tags(n).regex for n in _listed(definition.get("requires"))),
            requires_category=tuple(required_categories),
            meta_names=True,
        )


def modernize(technologies: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], bool]:
    """The database in today's format, and whether it was in the older one: before
    ``scriptSrc`` (2021), ``scripts`` (python-Wappalyzer) or ``script`` (apps.json) held
    script URLs, not inline code. A database without any ``scriptSrc`` that has those is
    read so."""
    if any("scriptSrc" in definition for definition in technologies.values()):
        return technologies, False
    if not any("scripts" in d or "script" in d for d in technologies.values()):
        return technologies, False
    modern: dict[str, dict[str, Any]] = {}
    for name, definition in technologies.items():
        definition = dict(definition)
        urls = [*_listed(definition.pop("script", [])), *_listed(definition.pop("scripts", []))]
        if urls:
            definition["scriptSrc"] = urls
        modern[name] = definition
    return modern, True


def _implications(value: Any) -> list[tuple[str, int]]:
    implied = []
    for text in _listed(value):
        if isinstance(text, str):
            tagged = parse_tags(text)
            implied.append((tagged.regex, tagged.confidence))
    return implied


def _selector_parses(selector: str) -> bool:
    try:
        _PROBE.css(selector)
    except Exception:  # selectolax's SelectolaxError, or anything lexbor raises
        return False
    return True


def _selector_gates(selector: str) -> tuple[str, ...]:
    """Literals one of which the page's HTML holds whenever ``selector`` can match: for
    each selector of a list, its rarest id, class or word of an attribute value
    (``[src*='.hotjar.com']``), else attribute name, as written in the markup; () (always
    tried) when one of them names none, or uses a hex escape."""
    gates: list[str] = []
    for alternative in _split_selector_list(selector):
        alternative = _ESCAPE.sub(r"\1", alternative)  # ``\.`` is a plain "."
        if "\\" in alternative:  # a hex escape: the markup may spell it otherwise
            return ()
        # Names inside a pseudo-class's argument (``:not(.x)``) need not be on the page.
        while _PSEUDO_ARGUMENT.search(alternative):
            alternative = _PSEUDO_ARGUMENT.sub("", alternative)
        names = [name.lower() for name in _ID_OR_CLASS.findall(alternative)]
        # A custom element's name ("model-viewer") is in the markup as its tag.
        names += [name.lower() for name in _CUSTOM_ELEMENT.findall(alternative)]
        for quoted, bare in _ATTRIBUTE_VALUE.findall(alternative):
            # Every operator (=, *=, ^=, $=, ~=, |=) finds its value inside the attribute's.
            # Its words: markup may write other characters as references ("&#x2F;").
            names.extend(_VALUE_RUN.findall((quoted[1:-1] if quoted else bare).lower()))
        # An attribute's name ("href", "aria-label") is on many pages: a last resort.
        names = names or [name.lower() for name in _ATTRIBUTE_NAME.findall(alternative)]
        # Two-letter words ("a8" of ".a8.net") only where nothing longer is rarer.
        chosen = choose_gates(name for name in names if len(name) >= 2)
        if not chosen:
            return ()
        gates.extend(chosen)
    return tuple(dict.fromkeys(gates))


def _check_gates(
    attributes: tuple[tuple[str, Pattern], ...], text: Pattern | None
) -> tuple[str, ...]:
    """For a rule counted only when an attribute or the text matches: for each check, the
    attribute's name or a word of its pattern's gate, whichever is rarer, one of which the
    HTML then holds; () when a check has none."""
    gates: list[str] = []
    checks = [(name, pattern) for name, pattern in attributes] + ([("", text)] if text else [])
    for name, pattern in checks:
        # Values and text are decoded, so only a gate's words are surely in the markup.
        words = [_VALUE_RUN.findall(gate) for gate in pattern.gates]
        choice = [min(found, key=commonness) for found in words if found]
        usable = [tuple(choice)] if choice and len(choice) == len(words) else []
        chosen = choose_gates([name.lower()] if len(name) >= 3 else [], usable)
        if not chosen:
            return ()
        gates.extend(chosen)
    return tuple(dict.fromkeys(gates))


def _split_selector_list(selector: str) -> list[str]:
    """The selectors of a comma-separated list (commas inside brackets, parentheses or
    quotes belong to their selector)."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in selector:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]
