"""Domain normalization: one raw entry in, one :class:`Normalized` record out, never an exception.

Rules (README, "Input formats and domain normalization"): trim, lowercase, take the host of a
URL, drop one trailing dot, IDNA 2008 with UTS-46 mapping to A-labels (the Unicode form is kept
for display), optionally strip leading ``www.``; reject IP literals, ``localhost``, single
labels, empty or over-long labels, names over 253 octets, bad characters, edge hyphens, all-
numeric TLDs, unknown and bare public suffixes. Plain ASCII names take a regex fast path and
never touch the ``idna`` package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

import idna

from domainbatch.core.hosts import IP_LITERAL_REASON, host_of, looks_like_ipv4
from domainbatch.core.suffixes import PublicSuffixList, default_suffix_list
from domainbatch.errors import ConfigurationError

__all__ = ["DomainNormalizer", "Normalized"]

# A whole lowercase LDH name whose TLD starts with a letter (so it is not all-numeric).
# Names containing "--" (A-labels, reserved hyphens) are left to the careful path.
_FAST_NAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
)
_LDH_LABEL = re.compile(r"[a-z0-9-]+")
_NOT_LDH = re.compile(r"[^a-z0-9-]")
_CODEPOINT = re.compile(r"U\+([0-9A-Fa-f]{4,6})")
_MAX_NAME = 253
_MAX_LABEL = 63
_MAX_HOST_CHARS = 1024  # cheap guard before any Unicode work on absurd input


@dataclass(frozen=True, slots=True)
class Normalized:
    """The outcome of normalizing one entry. ``domain`` is the A-label form used as the key."""

    raw: str
    domain: str | None
    display: str | None
    reason: str | None

    @property
    def valid(self) -> bool:
        return self.domain is not None


class _Invalid(Exception):
    """Internal: carries a rejection reason out of the careful path."""


def _show(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _char_reason(text: str, where: str) -> str:
    """A reason naming the offending code point of an ``idna`` error message."""
    found = _CODEPOINT.search(text)
    if not found or "joiner" in text:
        detail = text[:1].lower() + text[1:120]
        return f"invalid internationalized label {_show(where)}: {detail}"
    cp = int(found.group(1), 16)
    if cp == 0xFFFD:
        return f"undecodable bytes (U+FFFD) in {_show(where)}"
    return f"invalid character {_char(chr(cp))} in {_show(where)}"


def _char(char: str) -> str:
    """A character as a reader can see it: ``'_'``, or ``U+00A0`` for invisible ones."""
    return repr(char) if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def _ascii_label(label: str) -> tuple[str, str]:
    """Check one ASCII label; return its (A-label, U-label) forms."""
    bad = _NOT_LDH.search(label)
    if bad:
        _raise(f"invalid character {_char(bad.group())} in label {_show(label)}")
    if len(label) > _MAX_LABEL:
        _raise(f"label {_show(label)} is longer than {_MAX_LABEL} octets")
    if label[0] == "-" or label[-1] == "-":
        _raise(f"label {_show(label)} starts or ends with a hyphen")
    if label[2:4] != "--":
        return label, label
    if not label.startswith("xn--"):
        _raise(f"label {_show(label)} has '--' in 3rd and 4th positions (reserved for IDNA)")
    try:
        ulabel = idna.ulabel(label)
        canonical = idna.alabel(ulabel).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise _Invalid(f"malformed IDNA label {_show(label)}: {exc}") from None
    if canonical != label:
        _raise(f"malformed IDNA label {_show(label)} (not in canonical form)")
    return label, ulabel


def _unicode_label(label: str) -> tuple[str, str]:
    """Check one (UTS-46 mapped) non-ASCII label; return its (A-label, U-label) forms."""
    try:
        alabel = idna.alabel(label).decode("ascii")
    except idna.IDNAError as exc:
        text = str(exc)
        if "too long" in text:
            _raise(f"label {_show(label)} is longer than {_MAX_LABEL} octets in A-label form")
        if "hyphen" in text:
            _raise(f"label {_show(label)}: {text[0].lower()}{text[1:]}")
        raise _Invalid(_char_reason(text, label)) from None
    except UnicodeError:  # punycode of absurd input
        _raise(f"label {_show(label)} cannot be encoded as an A-label")
    return alabel, label


def _raise(reason: str) -> NoReturn:
    raise _Invalid(reason)


class DomainNormalizer:
    """Normalizes entries against the bundled Public Suffix List (plus ``extra_suffixes``)."""

    __slots__ = ("_psl", "_strip_www")

    def __init__(self, *, extra_suffixes: Iterable[str] = (), strip_www: bool = False) -> None:
        if isinstance(extra_suffixes, str):  # "test,internal" from a setting or CLI flag
            extra_suffixes = extra_suffixes.replace(",", " ").split()
        extras = [rule for rule in map(_extra_rule, extra_suffixes) if rule]
        base = default_suffix_list()
        self._psl: PublicSuffixList = base.extended(extras) if extras else base
        self._strip_www = strip_www

    def normalize(self, raw: str) -> Normalized:
        """Normalize one entry. Never raises: problems come back as ``reason``."""
        try:
            return self._normalize(raw)
        except _Invalid as exc:
            return Normalized(raw, None, None, str(exc))
        except Exception as exc:  # a safety net: a bad entry must never break a batch
            return Normalized(str(raw), None, None, f"could not be normalized ({exc!r:.80})")

    def _normalize(self, raw: str) -> Normalized:
        entry = raw.strip()
        if not entry:
            _raise("empty entry")
        host, reason = host_of(entry)
        if host is None:
            raise _Invalid(reason)
        if host.isascii():
            host = host.lower()
            if host.endswith("."):
                host = host[:-1]
            if "--" not in host and len(host) <= _MAX_NAME and _FAST_NAME.fullmatch(host):
                labels = host.split(".")
                k = self._psl.suffix_length(labels)
                if k is not None and k < len(labels):
                    if self._strip_www and labels[0] == "www":
                        labels, _ = self._strip(labels, labels, k)
                        host = ".".join(labels)
                    return Normalized(raw, host, host, None)
        elif len(host) > _MAX_HOST_CHARS:
            _raise(f"name is longer than {_MAX_NAME} octets")
        else:
            try:
                host = idna.uts46_remap(host, std3_rules=True, transitional=False)
            except (idna.IDNAError, UnicodeError, ValueError) as exc:
                raise _Invalid(_char_reason(str(exc), host)) from None
            if host.endswith("."):
                host = host[:-1]
        return self._careful(raw, host)

    def _careful(self, raw: str, host: str) -> Normalized:
        """The full check of a lowercase (UTS-46 mapped) host, with a reason for each failure."""
        if not host:
            _raise("empty name")
        if len(host) > _MAX_HOST_CHARS:
            _raise(f"name is longer than {_MAX_NAME} octets")
        if host == "localhost":
            _raise("'localhost' is not a public domain name")
        if looks_like_ipv4(host):
            _raise(IP_LITERAL_REASON)
        labels = host.split(".")
        if "" in labels:
            _raise(f"empty label in {_show(host)} (consecutive, leading or trailing dots)")
        alabels: list[str] = []
        ulabels: list[str] = []
        for label in labels:
            a, u = _ascii_label(label) if label.isascii() else _unicode_label(label)
            alabels.append(a)
            ulabels.append(u)
        domain = ".".join(alabels)
        if len(domain) > _MAX_NAME:
            _raise(f"name is longer than {_MAX_NAME} octets")
        psl = self._psl
        if len(alabels) == 1:
            if psl.knows_tld(domain):
                _raise(f"{_show(ulabels[0])} is a public suffix, not a registrable domain")
            _raise(f"single-label name {_show(ulabels[0])} is not a domain name")
        tld = alabels[-1]
        if tld.isdigit():
            _raise(f"all-numeric top-level label {_show(tld)}")
        k = psl.suffix_length(alabels)
        if k is None:
            tld = _show("." + ulabels[-1])
            _raise(f"unknown public suffix {tld} (not in the Public Suffix List)")
        if k >= len(alabels):
            _raise(f"{_show('.'.join(ulabels))} is a public suffix, not a registrable domain")
        if self._strip_www and alabels[0] == "www":
            alabels, ulabels = self._strip(alabels, ulabels, k)
        return Normalized(raw, ".".join(alabels), ".".join(ulabels), None)

    def _strip(self, alabels: list[str], ulabels: list[str], k: int) -> tuple[list[str], list[str]]:
        """Drop leading ``www`` labels while the rest is still below its public suffix."""
        while alabels[0] == "www" and len(alabels) - 1 > k:
            alabels, ulabels = alabels[1:], ulabels[1:]
            shorter = self._psl.suffix_length(alabels)
            if shorter is None:  # cannot happen: the matched rule is still a suffix
                break
            k = shorter
        return alabels, ulabels


def _extra_rule(suffix: str) -> str:
    """Normalize one ``extra_suffixes`` entry (``.Test``, ``internal``, ``corp.example``)."""
    text = suffix.strip().strip(".")
    try:
        return idna.encode(text, uts46=True).decode("ascii") if text else ""
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise ConfigurationError(f"invalid extra suffix {suffix!r}: {exc}") from None
