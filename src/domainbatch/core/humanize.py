"""Times as people read them (the CLI's tables, the dashboard's pages) and as programs read
them (RFC 3339 in UTC, for JSON, exports and the API)."""

from __future__ import annotations

from datetime import UTC, datetime


def when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    minutes, secs = divmod(value, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}h{minutes:02d}m{secs:04.1f}s" if hours else f"{minutes}m{secs:04.1f}s"


def rfc3339(epoch: float | None) -> str | None:
    """``2026-11-30T14:58:22.123Z``: RFC 3339 in UTC, to the millisecond (what JSON APIs and
    spreadsheets parse; the stored epoch keeps more precision than a reader needs)."""
    if epoch is None:
        return None
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return stamp.removesuffix("+00:00") + "Z"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 domain``, ``2,000 domains``; ``many`` for irregular words (``1 entry``/``entries``)."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"
