"""``domainbatch``: create, process and inspect batches of domains. The app and its commands,
in the order a user meets them; each module imports its heavy parts inside its commands."""

from __future__ import annotations

from typing import Annotated

import typer

from domainbatch.cli import batches, creation, db, processing, serve
from domainbatch.cli.common import out

app = typer.Typer(
    name="domainbatch",
    help="Batch processor for domains: validate, resolve, fetch and extract, then report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help: typer's Rich help renderer imports rich.markdown, rich.traceback, attrs and
    # markdown-it, which made `--help` cost 2.5x `import typer, rich` even with nothing else
    # loaded (measured); plain help costs about what importing typer does.
    rich_markup_mode=None,
)
app.command()(processing.run)
app.command()(creation.submit)
app.command()(processing.worker)
batches.register(app)
serve.register(app)
app.add_typer(db.app, name="db")


def show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("domainbatch")
        except PackageNotFoundError:  # a source tree that was never installed
            from domainbatch import __version__ as number
        out.print(f"domainbatch {number}")
        raise typer.Exit()


@app.callback()
def root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass
