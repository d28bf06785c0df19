"""Human output: status tables and times. Result export lives in ``domainbatch.service.exports``."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from domainbatch.core.humanize import seconds, when

__all__ = ["seconds", "status_table", "when"]


def status_table(status: dict[str, Any]) -> Table:
    table = Table(title=f"batch {status['id']}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("status", str(status["status"]))
    table.add_row("processor", str(status["processor"]))
    table.add_row("progress", f"{status['progress']}%  ({status['done']:,} / {status['total']:,})")
    for name, count in status["counts"].items():
        if count:
            table.add_row(f"  {name}", f"{count:,}")
    if status["duplicates"]:
        table.add_row("duplicates merged", f"{status['duplicates']:,}")
    for code, count in status["errors"].items():
        table.add_row(f"  error {code}", f"{count:,}")
    table.add_row("started", when(status["started_at"]))
    table.add_row("finished", when(status["finished_at"]))
    table.add_row("duration", seconds(status["duration_seconds"]))
    rate = status["rate_per_second"]
    table.add_row("rate", "-" if rate is None else f"{rate:,.1f} domains/s")
    if status["finished_at"] is None:
        table.add_row("eta", seconds(status["eta_seconds"]))
    if status["error"]:
        table.add_row("error", str(status["error"]))
    return table
