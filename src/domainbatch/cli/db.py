"""``domainbatch db``: schema upgrades and a connectivity check."""

from __future__ import annotations

from typing import Annotated

import typer

from domainbatch.cli.common import DatabaseUrl, execute, fail, load_settings, out, print_json
from domainbatch.core.models import DatabaseCheck
from domainbatch.runtime import Runtime

app = typer.Typer(help="Database schema and connectivity.", no_args_is_help=True)


@app.command()
def upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration."""
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
def check(
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Connect, run a query, and report server version, pooler mode and leftover connections."""
    settings = load_settings(database_url=database_url)

    async def main() -> DatabaseCheck:
        rt = Runtime(settings)  # not open_runtime: a check must not migrate anything
        try:
            return await rt.system().check()
        finally:
            await rt.close()

    report = execute(main)
    if as_json:
        print_json(report.as_dict())
    else:
        for key, value in report.as_dict().items():
            out.print(f"{key:>24}: {value}")
    if not report.ok:
        fail("database check failed")
    if report.schema_revision != report.schema_head:
        fail("schema is not up to date: run `domainbatch db upgrade`")
