"""Commands that read or steer an existing batch: status, list, results, cancel, retry."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live

from domainbatch.cli.common import (
    DatabaseUrl,
    JsonFlag,
    err,
    execute,
    fail,
    load_settings,
    out,
    print_json,
)
from domainbatch.cli.render import batches_table, status_table
from domainbatch.core.humanize import plural
from domainbatch.core.models import BatchRecord, BatchReport
from domainbatch.core.status import ACTIVE_BATCH
from domainbatch.runtime import open_runtime
from domainbatch.service.exports import write_results

BatchId = Annotated[str, typer.Argument(help="The batch id.")]


def status(
    batch_id: BatchId,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh until it ends.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a batch: status, counts, progress, errors by code, rate and ETA."""
    settings = load_settings(database_url=database_url)

    async def main() -> BatchReport:
        async with open_runtime(settings) as rt:
            batches = rt.batches()
            current = await batches.status(batch_id)
            if not watch:
                return current
            if as_json:
                while True:
                    print_json(current.as_dict())
                    if current.status not in ACTIVE_BATCH:
                        return current
                    await asyncio.sleep(interval)
                    current = await batches.status(batch_id)
            with Live(status_table(current), console=out, auto_refresh=False) as live:
                while current.status in ACTIVE_BATCH:
                    await asyncio.sleep(interval)
                    current = await batches.status(batch_id)
                    live.update(status_table(current), refresh=True)
            return current

    current = execute(main)
    if watch:
        return
    if as_json:
        print_json(current.as_dict())
    else:
        out.print(status_table(current))


def list_(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    status_filter: Annotated[str | None, typer.Option("--status")] = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """List the newest batches."""
    settings = load_settings(database_url=database_url)

    async def main() -> list[BatchRecord]:
        async with open_runtime(settings) as rt:
            return await rt.batches().recent(limit=limit, status=status_filter)

    rows = execute(main)
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    out.print(batches_table(rows))


def results(
    batch_id: BatchId,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", help="File instead of stdout.")] = None,
    status_filter: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export every domain of a batch with its status and result (streamed)."""
    if fmt not in {"jsonl", "csv"}:
        fail("--format must be jsonl or csv", code=2)
    settings = load_settings(database_url=database_url)

    async def main() -> int:
        async with open_runtime(settings) as rt:
            export = await rt.batches().export(batch_id, fmt, status=status_filter)
            if output is None:
                return await write_results(export, sys.stdout.write)
            with output.open("w", encoding="utf-8", newline="") as handle:
                return await write_results(export, handle.write)

    count = execute(main)
    if output is not None:
        err.print(f"wrote {plural(count, 'result')} to {output}")


def cancel(batch_id: BatchId, database_url: DatabaseUrl = None) -> None:
    """Cancel a batch: its pending domains are cancelled; in-flight ones finish."""
    settings = load_settings(database_url=database_url)

    async def main() -> int:
        async with open_runtime(settings) as rt:
            return await rt.batches().cancel(batch_id)

    count = execute(main)
    out.print(f"cancelled batch {batch_id} ({plural(count, 'pending domain')} cancelled)")


def retry(batch_id: BatchId, database_url: DatabaseUrl = None) -> None:
    """Re-queue the failed domains of a batch."""
    settings = load_settings(database_url=database_url)

    async def main() -> int:
        async with open_runtime(settings) as rt:
            return await rt.batches().retry(batch_id)

    count = execute(main)
    out.print(f"re-queued {plural(count, 'failed domain')} of batch {batch_id}")


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command("list")(list_)
    app.command()(results)
    app.command()(cancel)
    app.command()(retry)
