"""How a batch's end is bounded and measured (pure): its deadline, and the percentiles of its
completion (seconds from its start until 50, 90, 99 and 100% of its domains were finished)."""

from __future__ import annotations

from collections.abc import Mapping

DEADLINE_CODE = "deadline_exceeded"

# The reported points: name -> the percentage of a batch's finished domains.
POINTS: Mapping[str, int] = {"t50": 50, "t90": 90, "t99": 99, "t100": 100}


def deadline_message(seconds: float) -> str:
    """What a domain that the deadline ended says (the same from the runner and the sweep)."""
    return f"the batch's deadline passed ({seconds:g} s after its start)"


def ranks(n: int) -> dict[str, int]:
    """The nearest rank (1-based) of each point among ``n`` finish times, sorted ascending:
    the smallest k with k >= percent * n / 100 (SQL's ``percentile_disc``), in integers so
    that every store picks the same row (0.99 * 100 is not 99 in floating point)."""
    if n <= 0:
        return {}
    return {name: max(1, -(-percent * n // 100)) for name, percent in POINTS.items()}


def completion(
    started_at: float | None, at: Mapping[int, float], n: int
) -> dict[str, float] | None:
    """The points from the finish times at ``ranks(n)`` (``at``: rank -> time), in seconds
    since ``started_at`` to the millisecond; None when it never started or nothing finished."""
    if started_at is None or not at:
        return None
    return {
        name: round(max(at[rank] - started_at, 0.0), 3)
        for name, rank in ranks(n).items()
        if rank in at
    }
