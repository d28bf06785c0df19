"""What every command shares: settings from env + flags, the options several commands take,
one-line errors, Rich consoles.

Light on purpose: ``domainbatch --help`` imports the CLI's modules and nothing else, so they
load typer and rich only; a command imports settings (pydantic), the runtime (SQLAlchemy,
Alembic, psycopg) and the service inside its function, when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from domainbatch.errors import (
    AmbiguousIdError,
    ConfigurationError,
    DomainbatchError,
    InvalidOptionsError,
    ProcessorNotFoundError,
)

if TYPE_CHECKING:
    from domainbatch.settings import Settings

T = TypeVar("T")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
# Piped or redirected, a line is not cut at 80 columns in mid-phrase (a table still fits 80).
for _console in (out, err):
    _console.soft_wrap = not _console.is_terminal

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="URL",
        help="Overrides DOMAINBATCH_DATABASE_URL.",
        show_default=False,
    ),
]
Fingerprints = Annotated[
    Path | None,
    typer.Option(
        "--fingerprints",
        metavar="PATH",
        help="A Wappalyzer-format fingerprint database (directory or JSON file); "
        "overrides DOMAINBATCH_FINGERPRINTS (FINGERPRINTS_MODE: extend or replace).",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def load_settings(**overrides: Any) -> Settings:
    from pydantic import ValidationError

    from domainbatch.settings import Settings

    try:
        return Settings().with_overrides(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        fail(f"invalid setting {where}: {first['msg']}", code=2)


def check_fingerprints(settings: Settings) -> None:
    """Load the user's fingerprint database now (once per process), so that a bad one stops
    the command before any domain is claimed."""
    if settings.fingerprints is None:
        return
    # Imported here: the extractor (selectolax, phonenumbers: +6 MB, measured) is loaded only
    # by a command that was given a database, not by every command of the CLI.
    from domainbatch.extract.wappalyzer import load_table

    try:
        load_table(str(settings.fingerprints), settings.fingerprints_mode)
    except ConfigurationError as exc:
        fail(f"{exc.message} [{exc.code}]", code=2)


def fail(message: str, *, code: int = 1) -> NoReturn:
    # Escaped: messages quote user input, and "[invalid_options]" is not a Rich style.
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


# Errors in what the command line asked for (a flag's value) exit 2, like a usage error.
USAGE_ERRORS = (InvalidOptionsError, ProcessorNotFoundError, AmbiguousIdError)


def execute(main: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine; our errors become one line and a non-zero exit."""
    import asyncio

    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except DomainbatchError as exc:
        fail(f"{exc.message} [{exc.code}]", code=2 if isinstance(exc, USAGE_ERRORS) else 1)
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None


def print_json(data: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
