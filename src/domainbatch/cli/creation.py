"""Creating a batch from a file: ``domainbatch submit``, and what ``run`` shares with it (the
input and processor options, reading the file with progress, the creation report)."""

from __future__ import annotations

from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from domainbatch.service import Batches, CreatedBatch

DomainsFile = Annotated[
    Path, typer.Argument(metavar="FILE", help="Domains: text (one per line), CSV or JSON.")
]
ProcessorName = Annotated[
    str | None,
    typer.Option("--processor", "-p", metavar="NAME", help="Processor name or module:factory."),
]
Options = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        metavar="KEY=VALUE",
        help="Processor option KEY=VALUE (VALUE may be JSON).",
    ),
]


class InputFormat(StrEnum):
    AUTO = "auto"
    TEXT = "text"
    CSV = "csv"
    JSON = "json"


InputFormatOption = Annotated[
    InputFormat,
    typer.Option("--format", "-f", help="Input format (auto: from the file's name and content)."),
]
Column = Annotated[
    str | None,
    typer.Option(
        "--column",
        metavar="NAME",
        help="CSV column holding the domains: a header name (case, spaces and punctuation"
        " ignored) or a 1-based number. Default: detected from the header.",
    ),
]

Deadline = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=0.001,
        metavar="SECONDS",
        help="Seconds from the batch's start after which every domain not yet finished fails"
        " with deadline_exceeded (the batch then ends as usual). Default: none.",
        show_default=False,
    ),
]


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    import orjson

    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--option expects KEY=VALUE, got {pair!r}", code=2)
        try:
            options[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            options[key] = value
    return options


def report_created(created: CreatedBatch) -> None:
    err.print(
        f"batch [bold]{created.id}[/]: {plural(created.total, 'domain')} "
        f"({created.invalid:,} invalid, {plural(created.duplicates, 'duplicate')} merged)"
    )
    for entry in created.invalid_entries[:5]:
        err.print(f"  [yellow]invalid[/] {entry['input']!r}: {entry['reason']}")
    if created.invalid > 5:
        more = plural(created.invalid - 5, "more invalid entry", "more invalid entries")
        err.print(f"  ... and {more}")


async def read_file(batches: Batches, file: Path, **kwargs: Any) -> CreatedBatch:
    """Create a batch from ``file``, with a progress bar on a terminal when it is big."""
    from domainbatch.cli.reading import ReadProgress

    async with ReadProgress(err, file) as reading:
        return await batches.create_from_file(file, on_open=reading.attach, **kwargs)


def submit(
    file: DomainsFile,
    processor: ProcessorName = None,
    option: Options = None,
    fmt: InputFormatOption = InputFormat.AUTO,
    column: Column = None,
    deadline: Deadline = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a batch from FILE for workers to process; prints its id."""
    from domainbatch.runtime import open_runtime

    settings = load_settings(database_url=database_url)
    options = parse_options(option)

    async def main() -> CreatedBatch:
        async with open_runtime(settings) as rt:
            return await read_file(
                rt.batches(),
                file,
                processor=processor,
                options=options,
                fmt=fmt.value,
                column=column,
                deadline=deadline,
            )

    created = execute(main)
    if as_json:
        print_json(asdict(created))
        return
    report_created(created)
    out.print(created.id)
