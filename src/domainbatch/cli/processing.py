"""Processing batches here: ``domainbatch run`` (create, then process with a live progress bar)
and ``domainbatch worker`` (process every active batch until stopped)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from domainbatch.cli.batches import check_export
from domainbatch.cli.common import (
    DatabaseUrl,
    Fingerprints,
    JsonFlag,
    check_fingerprints,
    err,
    execute,
    fail,
    out,
    print_json,
)
from domainbatch.cli.creation import (
    Column,
    Deadline,
    DomainsFile,
    InputFormat,
    InputFormatOption,
    Options,
    ProcessorName,
    parse_options,
    read_file,
    report_created,
)
from domainbatch.cli.logs import (
    Level,
    LogFormatFlag,
    LogLevelFlag,
    VerboseFlag,
    logged_settings,
)
from domainbatch.core.humanize import plural
from domainbatch.core.status import ACTIVE_BATCH, BatchStatus

if TYPE_CHECKING:
    from domainbatch.core.models import BatchReport
    from domainbatch.engine.worker import Worker
    from domainbatch.service import Batches, CreatedBatch

Concurrency = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        "-c",
        min=1,
        metavar="N",
        help="Domains in flight per worker, pinned (default: adaptive).",
    ),
]
Processes = Annotated[
    int | None,
    typer.Option(
        "--processes",
        "-P",
        min=1,
        metavar="N",
        help="Worker processes, each its own claimer; overrides DOMAINBATCH_WORKER_PROCESSES "
        "(default: one per core).",
        show_default=False,
    ),
]


class Interrupt:
    """SIGINT/SIGTERM stop the worker gracefully; the command then exits 128 + the signal's
    number (130 for Ctrl-C, 143 for SIGTERM), as shells do for a process a signal ended.
    ``forward`` gets each signal too (the worker processes this one started)."""

    def __init__(self, worker: Worker, forward: Callable[[int], None] | None = None) -> None:
        import asyncio

        self.signal: int | None = None
        self._worker = worker
        self._forward = forward
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: int) -> None:
        # A second signal does not wait for the grace period: in-flight work is released now.
        self._worker.stop(now=self.signal is not None)
        self.signal = self.signal or sig
        if self._forward is not None:
            self._forward(sig)

    @property
    def exit_code(self) -> int | None:
        return None if self.signal is None else 128 + self.signal


def run(
    file: DomainsFile,
    processor: ProcessorName = None,
    option: Options = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            metavar="FILE",
            help="Write results to a .jsonl, .csv or .parquet file.",
            show_default=False,
        ),
    ] = None,
    concurrency: Concurrency = None,
    processes: Processes = None,
    fmt: InputFormatOption = InputFormat.AUTO,
    column: Column = None,
    deadline: Deadline = None,
    database_url: DatabaseUrl = None,
    fingerprints: Fingerprints = None,
    as_json: JsonFlag = False,
    verbose: VerboseFlag = None,
    log_level: LogLevelFlag = None,
    log_format: LogFormatFlag = None,
) -> None:
    """Create a batch from FILE and process it here, with a live progress bar.
    Interrupted (Ctrl-C), it exits 130 and the batch can be continued by a worker."""
    from domainbatch.cli.render import status_table
    from domainbatch.cli.worker_processes import split_settings, worker_processes
    from domainbatch.runtime import open_runtime
    from domainbatch.service.exports import format_for, write_file

    settings = logged_settings(
        default=Level.WARNING,
        verbose=verbose,
        log_level=log_level,
        log_format=log_format,
        database_url=database_url,
        concurrency=concurrency,
        fingerprints=fingerprints,
        worker_processes=processes,
    )
    check_fingerprints(settings)
    settings = split_settings(settings)
    options = parse_options(option)
    fmt_out = None if output is None else format_for(output)
    if output is not None and fmt_out is None:
        fail("--output must end in .jsonl, .csv or .parquet", code=2)
    if fmt_out is not None:
        check_export(fmt_out, output, None, excel=False)

    async def main() -> int:
        async with open_runtime(settings) as rt:
            batches = rt.batches()
            created = await read_file(
                batches,
                file,
                processor=processor,
                options=options,
                fmt=fmt.value,
                column=column,
                deadline=deadline,
            )
            report_created(created)
            worker = rt.worker(only_batches=[created.id], burst=True)
            # No more processes than domains to claim.
            count = min(settings.worker_process_count(), max(1, created.total))
            level = settings.log_level or Level.WARNING.value
            async with worker_processes(
                settings, count, burst=True, batch_ids=[created.id], log_level=level
            ) as fleet:
                interrupt = Interrupt(worker, fleet.forward)
                status = await follow(batches, created, worker)
            if count > 1:  # as the other processes left it
                status = await batches.status(created.id)
            if output is not None and fmt_out is not None:
                export = await batches.export(created.id, fmt_out)
                n = await write_file(export, output)
                err.print(f"wrote {plural(n, 'result')} to {output}")
        if as_json:
            print_json(status.as_dict())
        else:
            out.print(status_table(status))
        if interrupt.exit_code is not None:
            return interrupt.exit_code
        return 0 if status.status == BatchStatus.COMPLETED and not fleet.failed else 1

    raise typer.Exit(execute(main))


async def follow(batches: Batches, created: CreatedBatch, worker: Worker) -> BatchReport:
    """Run the in-process worker while drawing progress; returns the final status."""
    import asyncio

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    task = asyncio.create_task(worker.run())
    progress = Progress(
        TextColumn("[bold]{task.fields[state]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.percentage:>6.2f}%"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        # Redrawn after each status poll below, never by Rich's own 10 Hz thread: on a console
        # that is not a terminal that thread drew the bar into nothing, 2.6% of a core for the
        # whole batch (py-spy, 2,000 simulated internet hosts).
        auto_refresh=False,
    )
    with progress:
        bar = progress.add_task("batch", total=created.total, state="pending", rate="")
        while True:
            status = await batches.status(created.id)
            rate = status.rate_per_second
            progress.update(
                bar,
                completed=status.done,
                state=status.status.value,
                rate="" if rate is None else f"{rate:,.0f}/s",
                refresh=err.is_terminal,
            )
            if status.status not in ACTIVE_BATCH or task.done():
                break
            await asyncio.sleep(0.25)
    worker.stop()
    await task
    final = await batches.status(created.id)
    if final.status in ACTIVE_BATCH:
        err.print(
            "[yellow]stopped before the batch ended;[/] "
            f"`domainbatch worker` continues it (id {created.id})"
        )
    return final


def worker(
    concurrency: Concurrency = None,
    processes: Processes = None,
    burst: Annotated[bool, typer.Option("--burst", help="Exit when no work is left.")] = False,
    batch: Annotated[
        list[str] | None,
        typer.Option(
            "--batch",
            "-b",
            metavar="BATCH",
            help="Only process this batch, by id or unique prefix (repeatable); by default "
            "every active batch.",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    fingerprints: Fingerprints = None,
    verbose: VerboseFlag = None,
    log_level: LogLevelFlag = None,
    log_format: LogFormatFlag = None,
    fleet_root: Annotated[
        int | None,
        typer.Option(
            "--fleet-root",
            metavar="PID",
            help="Given by the first process of `worker`/`run -P N` to the others it starts.",
            hidden=True,
        ),
    ] = None,
) -> None:
    """Process domains from every active batch until stopped (graceful: in-flight work
    finishes or is released; SIGTERM exits 0, Ctrl-C 130)."""
    from domainbatch.cli.worker_processes import split_settings, worker_processes
    from domainbatch.runtime import open_runtime

    settings = logged_settings(
        default=Level.INFO,
        verbose=verbose,
        log_level=log_level,
        log_format=log_format,
        database_url=database_url,
        concurrency=concurrency,
        fingerprints=fingerprints,
        worker_processes=processes,
    )
    check_fingerprints(settings)
    settings = split_settings(settings)

    async def main() -> int:
        async with open_runtime(settings) as rt:
            batches = rt.batches()
            only = [await batches.resolve(ref) for ref in batch or []]
            w = rt.worker(burst=burst, only_batches=only or None, fleet_root=fleet_root)
            level = settings.log_level or Level.INFO.value
            async with worker_processes(
                settings,
                settings.worker_process_count(),
                burst=burst,
                batch_ids=only,
                log_level=level,
            ) as fleet:
                interrupt = Interrupt(w, fleet.forward)
                stats = await w.run()
        err.print(f"worker done: {stats}")
        # SIGTERM is how a supervisor stops a worker: its normal end.
        if interrupt.signal == signal.SIGINT:
            return 130
        return 1 if fleet.failed else 0

    raise typer.Exit(execute(main))
