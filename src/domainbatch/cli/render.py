"""Human output: status tables and times. Result export lives in ``domainbatch.service.exports``."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Column, Table

from domainbatch.core.humanize import seconds, when
from domainbatch.core.models import BatchRecord, BatchReport, WorkerRecord
from domainbatch.core.status import ACTIVE_BATCH

__all__ = ["batches_table", "print_wide", "seconds", "status_table", "when"]


def print_wide(console: Console, table: Table) -> None:
    """Print ``table`` at the console's width, or wider when that would cut a word or an id
    (a narrow terminal wraps the lines). A pipe gets every row on one line, as wide as it
    needs: ``grep`` and ``awk`` read lines, and a file has no width."""
    unbounded = console.options.update_width(10_000)  # a measure is clamped to its width
    measure = Measurement.get(console, unbounded, table)
    needed = measure.minimum if console.is_terminal else measure.maximum
    width = console.width
    console.width = max(width, needed)  # print(width=) would be capped at the console's
    try:
        console.print(table)
    finally:
        console.width = width


def status_table(status: BatchReport, workers: list[WorkerRecord] | None = None) -> Table:
    """The batch; while it is open, the live workers too (every worker serves every batch),
    each with its concurrency level and domains in flight."""
    table = Table(title=f"batch {status.id}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("status", status.status.value)
    table.add_row("processor", status.processor)
    table.add_row("progress", f"{status.progress}%  ({status.done:,} / {status.total:,})")
    for name, count in status.counts.items():
        if count:
            table.add_row(f"  {name}", f"{count:,}")
    if status.duplicates:
        table.add_row("duplicates merged", f"{status.duplicates:,}")
    for code, count in status.errors.items():
        table.add_row(f"  error {code}", f"{count:,}")
    table.add_row("started", when(status.started_at))
    table.add_row("finished", when(status.finished_at))
    table.add_row("duration", seconds(status.duration_seconds))
    rate = status.rate_per_second
    table.add_row("rate", "-" if rate is None else f"{rate:,.1f} domains/s")
    if status.finished_at is None:
        table.add_row("eta", seconds(status.eta_seconds))
    if status.deadline_seconds is not None:
        table.add_row("deadline", f"{status.deadline_seconds:g} s after the start")
    if status.completion:
        # When 50/90/99/100% of the domains were finished: the shape of the batch's tail.
        table.add_row(
            "completion",
            "  ".join(f"{name} {seconds(value)}" for name, value in status.completion.items()),
        )
    if status.error:
        table.add_row("error", status.error)
    if workers is not None and status.status in ACTIVE_BATCH:
        for worker in workers:
            level = f"{worker.concurrency:,}{' (pinned)' if worker.pinned else ''}"
            table.add_row(
                f"worker {worker.host}:{worker.pid}",
                f"concurrency {level}, {worker.inflight:,} in flight",
            )
        if not workers:
            table.add_row("workers", "none running")
    return table


def batches_table(rows: list[BatchRecord]) -> Table:
    # Ids are never cut (they are what `status`, `results` and `cancel` take): the other
    # columns wrap at spaces instead (see ``print_wide``).
    names = ("status", "processor", "total", "invalid", "created", "duration")
    table = Table(Column("id", no_wrap=True), *(Column(n, overflow="fold") for n in names))
    for row in rows:
        end, start = row.finished_at, row.started_at
        table.add_row(
            row.id,
            row.status.value,
            row.processor,
            f"{row.total:,}",
            f"{row.invalid:,}",
            when(row.created_at),
            seconds(None if end is None or start is None else end - start),
        )
    return table
