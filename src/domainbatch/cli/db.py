"""``domainbatch db``: schema upgrades and a connectivity check."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import text

from domainbatch.cli.common import DatabaseUrl, execute, fail, load_settings, out, print_json
from domainbatch.storage import migrate
from domainbatch.storage.database import Database

app = typer.Typer(help="Database schema and connectivity.", no_args_is_help=True)


@app.command()
def upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration."""
    settings = load_settings(database_url=database_url)

    async def main() -> str | None:
        db = Database(settings)
        try:
            return await migrate.upgrade(db)
        finally:
            await db.dispose()

    revision = execute(main)
    out.print(f"schema at revision {revision}")


async def check_database(db: Database) -> dict[str, Any]:
    """Connect, run a query, report the server, pooler mode, schema and leftover connections."""
    async with db.session() as session:
        one = await session.scalar(text("SELECT 1"))
        if db.is_sqlite:
            version = await session.scalar(text("SELECT 'SQLite ' || sqlite_version()"))
        else:
            version = await session.scalar(text("SELECT version()"))
    revision = await migrate.current_revision(db)
    return {
        "ok": one == 1 and db.checked_out() == 0,
        "database": db.url.render_as_string(hide_password=True),
        "server_version": version,
        "pooler_mode": db.pooler_mode,
        "schema_revision": revision,
        "schema_head": migrate.head_revision(),
        "checked_out_connections": db.checked_out(),
    }


@app.command()
def check(
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Connect, run a query, and report server version, pooler mode and leftover connections."""
    settings = load_settings(database_url=database_url)

    async def main() -> dict[str, Any]:
        db = Database(settings)
        try:
            return await check_database(db)
        finally:
            await db.dispose()

    report = execute(main)
    if as_json:
        print_json(report)
    else:
        for key, value in report.items():
            out.print(f"{key:>24}: {value}")
    if not report["ok"]:
        fail("database check failed")
    if report["schema_revision"] != report["schema_head"]:
        fail("schema is not up to date: run `domainbatch db upgrade`")
