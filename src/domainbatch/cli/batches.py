"""Commands that read or steer an existing batch: status, list, results, cancel, retry."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

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
from domainbatch.core.humanize import plural
from domainbatch.core.status import ACTIVE_BATCH, BatchStatus, DomainStatus

if TYPE_CHECKING:
    from domainbatch.core.models import BatchRecord, BatchReport, WorkerRecord

BatchId = Annotated[
    str,
    typer.Argument(metavar="BATCH", help="The batch id, or a unique prefix of it (4+ characters)."),
]


class ResultFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


def status(
    ref: BatchId,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh until it ends.")] = False,
    interval: Annotated[
        float,
        typer.Option(min=0.05, metavar="SECONDS", help="Seconds between refreshes (with --watch)."),
    ] = 1.0,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a batch: status, counts, progress, errors by code, rate and ETA; while it is
    open, the live workers with their concurrency level and domains in flight."""
    import asyncio

    from rich.live import Live

    from domainbatch.cli.render import status_table
    from domainbatch.runtime import open_runtime

    settings = load_settings(database_url=database_url)

    workers: list[WorkerRecord] = []

    async def main() -> BatchReport:
        nonlocal workers
        async with open_runtime(settings, create=False) as rt:
            batches = rt.batches()
            batch_id = await batches.resolve(ref)
            current = await batches.status(batch_id)
            if not as_json and current.status in ACTIVE_BATCH:
                workers = await rt.system().workers()
            if not watch:
                return current
            if as_json:
                while True:
                    print_json(current.as_dict())
                    if current.status not in ACTIVE_BATCH:
                        return current
                    await asyncio.sleep(interval)
                    current = await batches.status(batch_id)
            with Live(status_table(current, workers), console=out, auto_refresh=False) as live:
                while current.status in ACTIVE_BATCH:
                    await asyncio.sleep(interval)
                    current = await batches.status(batch_id)
                    workers = await rt.system().workers()
                    live.update(status_table(current, workers), refresh=True)
            return current

    current = execute(main)
    if watch:
        return
    if as_json:
        print_json(current.as_dict())
    else:
        out.print(status_table(current, workers))


def list_(
    limit: Annotated[
        int, typer.Option(min=1, max=1000, metavar="N", help="How many batches.")
    ] = 20,
    status_filter: Annotated[
        BatchStatus | None,
        typer.Option("--status", help="Only batches in this status.", show_default=False),
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """List the newest batches, with their full ids."""
    from domainbatch.cli.render import batches_table, print_wide
    from domainbatch.runtime import open_runtime

    settings = load_settings(database_url=database_url)

    async def main() -> list[BatchRecord]:
        async with open_runtime(settings, create=False) as rt:
            return await rt.batches().recent(limit=limit, status=status_filter)

    rows = execute(main)
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    print_wide(out, batches_table(rows))


def results(
    ref: BatchId,
    fmt: Annotated[
        ResultFormat | None,
        typer.Option(
            "--format",
            help="Output format (default: --output's suffix, else jsonl).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", metavar="FILE", help="File instead of stdout.", show_default=False
        ),
    ] = None,
    fields: Annotated[
        str | None,
        typer.Option(
            "--fields",
            metavar="A,B,C",
            help="Only these columns, in order (a wrong name lists them).",
        ),
    ] = None,
    excel: Annotated[
        bool,
        typer.Option("--excel", help="CSV for Excel: UTF-8 with a byte-order mark (implies csv)."),
    ] = False,
    status_filter: Annotated[
        DomainStatus | None,
        typer.Option("--status", help="Only domains in this status.", show_default=False),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export every domain of a batch with its status and result (streamed)."""
    from domainbatch.runtime import open_runtime
    from domainbatch.service.exports import format_for, write_file, write_results

    chosen = fmt.value if fmt else (output and format_for(output)) or ("csv" if excel else "jsonl")
    check_export(chosen, output, fields, excel)
    settings = load_settings(database_url=database_url)

    async def main() -> int:
        async with open_runtime(settings, create=False) as rt:
            batches = rt.batches()
            batch_id = await batches.resolve(ref)
            export = await batches.export(
                batch_id, chosen, status=status_filter, fields=fields, excel=excel
            )
            if output is None:
                return await write_results(export, sys.stdout.write)
            return await write_file(export, output)

    count = execute(main)
    if output is not None:
        err.print(f"wrote {plural(count, 'result')} to {output}")


def check_export(fmt: str, output: Path | None, fields: str | None, excel: bool) -> None:
    """Usage errors (exit 2) before any work; a missing pyarrow exits 1."""
    from domainbatch.errors import DomainbatchError, InvalidFieldsError
    from domainbatch.service.columns import parse_fields
    from domainbatch.service.parquet import require_pyarrow

    if fmt == "parquet" and output is None:
        fail("Parquet is written to a file: give --output FILE.parquet", code=2)
    if excel and fmt != "csv":
        fail("--excel applies to CSV only", code=2)
    try:
        parse_fields(fields)
        if fmt == "parquet":
            require_pyarrow()
    except InvalidFieldsError as exc:
        fail(f"{exc.message} [{exc.code}]", code=2)
    except DomainbatchError as exc:
        fail(f"{exc.message} [{exc.code}]")


def cancel(ref: BatchId, database_url: DatabaseUrl = None) -> None:
    """Cancel a batch: its pending domains are cancelled; in-flight ones finish."""
    batch_id, count = steer(ref, database_url, "cancel")
    out.print(f"cancelled batch {batch_id} ({plural(count, 'pending domain')} cancelled)")


def retry(ref: BatchId, database_url: DatabaseUrl = None) -> None:
    """Re-queue the failed domains of a batch."""
    batch_id, count = steer(ref, database_url, "retry")
    out.print(f"re-queued {plural(count, 'failed domain')} of batch {batch_id}")


def steer(
    ref: str, database_url: str | None, action: Literal["cancel", "retry"]
) -> tuple[str, int]:
    """Resolve ``ref`` and cancel or retry that batch: (its whole id, domains affected)."""
    from domainbatch.runtime import open_runtime

    settings = load_settings(database_url=database_url)

    async def main() -> tuple[str, int]:
        async with open_runtime(settings, create=False) as rt:
            batches = rt.batches()
            batch_id = await batches.resolve(ref)
            act = batches.cancel if action == "cancel" else batches.retry
            return batch_id, await act(batch_id)

    return execute(main)


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command("list")(list_)
    app.command()(results)
    app.command()(cancel)
    app.command()(retry)
