"""Resolving links found in a page to absolute http(s) URLs."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

MAX_URL_CHARS = 2_048


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
