"""Response headers as the extractor sees them: case-insensitive, repeatable, never trusted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MAX_HEADERS = 200
MAX_HEADER_VALUE_CHARS = 8_192


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return str(value)


class HeaderBag:
    """Header values by lowercased name, in arrival order (``Set-Cookie`` may repeat)."""

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in _pairs(headers):
            key = _as_text(name).strip().lower()
            if key:
                text = _as_text(value)[:MAX_HEADER_VALUE_CHARS].strip()
                self._values.setdefault(key, []).append(text)

    def get(self, name: str) -> str | None:
        """The first value of ``name``, or None."""
        values = self._values.get(name.lower())
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        return list(self._values.get(name.lower(), ()))

    def items(self) -> list[tuple[str, str]]:
        """Every (lowercased name, value) pair."""
        return [(name, value) for name, values in self._values.items() for value in values]

    def by_name(self) -> Mapping[str, list[str]]:
        """Every value of each lowercased name, in arrival order (not to be changed)."""
        return self._values

    def cookie_names(self) -> list[str]:
        """Names of the cookies set by ``Set-Cookie`` headers."""
        return [name for name, _ in self.cookies()]

    def cookies(self) -> list[tuple[str, str]]:
        """(name, value) of the cookies set by ``Set-Cookie`` headers: the part before the
        first ";" of each (attributes follow it), split at its first "="."""
        pairs: list[tuple[str, str]] = []
        for value in self.get_all("set-cookie"):
            name, _, rest = value.split(";", 1)[0].partition("=")
            if name.strip():
                pairs.append((name.strip(), rest.strip()))
        return pairs


def _pairs(headers: Any) -> Iterable[tuple[Any, Any]]:
    """Header pairs from a mapping or an iterable of pairs; malformed entries are skipped."""
    if headers is None:
        return []
    try:
        source = headers.items() if isinstance(headers, Mapping) else headers
        pairs: list[tuple[Any, Any]] = []
        for entry in source:
            if len(pairs) >= MAX_HEADERS:
                break
            if isinstance(entry, tuple | list) and len(entry) == 2:
                pairs.append((entry[0], entry[1]))
        return pairs
    except Exception:
        return []
