"""``domainbatch db``: schema upgrades and a connectivity check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from domainbatch.cli.common import (
    DatabaseUrl,
    JsonFlag,
    execute,
    fail,
    load_settings,
    out,
    print_json,
)

if TYPE_CHECKING:
    from domainbatch.core.models import DatabaseCheck

app = typer.Typer(
    help="Database schema and connectivity.", no_args_is_help=True, rich_markup_mode=None
)


@app.command()
def upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration (creating the SQLite file if there is none)."""
    from domainbatch.runtime import Runtime

    settings = load_settings(database_url=database_url)

    async def main() -> str | None:
        rt = Runtime(settings)  # not open_runtime: upgrading is the point, not a side effect
        try:
            return await rt.system().upgrade()
        finally:
            await rt.close()

    revision = execute(main)
    out.print(f"schema at revision {revision}")


@app.command()
def check(database_url: DatabaseUrl = None, as_json: JsonFlag = False) -> None:
    """Report where the database is, its server, pooler and mode, schema revision and leftover
    connections; exit 1 unless this domainbatch can use it as it is."""
    from domainbatch.runtime import Runtime

    settings = load_settings(database_url=database_url)

    async def main() -> DatabaseCheck:
        rt = Runtime(settings)  # not open_runtime: a check creates and migrates nothing
        try:
            return await rt.system().check()
        finally:
            await rt.close()

    report = execute(main)
    if as_json:
        print_json(report.as_dict())
    else:
        fields = report.as_dict()
        # Where first: the answer to "which database did it look at?".
        for key in ("location", *(k for k in fields if k != "location")):
            value = fields[key]
            shown = "-" if value is None else str(value).lower() if key == "ok" else value
            out.print(f"{key:>24}: {shown}", soft_wrap=True)
    if not report.ok:
        fail(f"database check failed: {report.problem}")
