"""``domainbatch serve`` (the HTTP API, with an embedded worker by default) and
``domainbatch keys`` (tenants' API keys)."""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from domainbatch.cli.common import (
    DatabaseUrl,
    Fingerprints,
    JsonFlag,
    check_fingerprints,
    err,
    execute,
    fail,
    load_settings,
    out,
    print_json,
)
from domainbatch.cli.logs import (
    Level,
    LogFormatFlag,
    LogLevelFlag,
    VerboseFlag,
    logged_settings,
)

if TYPE_CHECKING:
    from types import FrameType

    import uvicorn

    from domainbatch.core.models import KeyRecord
    from domainbatch.service import IssuedKey

keys_app = typer.Typer(
    help="API keys: each belongs to a tenant.", no_args_is_help=True, rich_markup_mode=None
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """Bind the port now, before migrations and the worker start: a busy port fails at once
    (exit 1, one line) and leaves the database untouched."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a port left in TIME_WAIT by a previous run is not "busy".
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    # Listening now: a client that connects while migrations run waits in the backlog.
    sock.listen(2048)
    bound = sock.getsockname()[1]
    logging.getLogger("domainbatch.api").info(
        "listening on http://%s:%d (Ctrl-C to quit)",
        f"[{host}]" if family == socket.AF_INET6 else host,
        bound,
    )
    return sock


def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, metavar="PORT", help="Port to listen on.")
    ] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only: separate `domainbatch worker`s work.")
    ] = False,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="No API keys: anyone can do anything (loopback only)."),
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            metavar="N",
            help="Embedded worker's domains in flight, pinned (default: adaptive).",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    fingerprints: Fingerprints = None,
    verbose: VerboseFlag = None,
    log_level: LogLevelFlag = None,
    log_format: LogFormatFlag = None,
) -> None:
    """Serve the HTTP API and dashboard (with an embedded worker unless --no-worker)."""
    import uvicorn  # here, not at import time: other commands never need a web server

    from domainbatch.api import create_app

    if no_auth and not is_loopback(host):
        fail(f"--no-auth is refused on {host}: bind a loopback address (127.0.0.1)", code=2)
    settings = logged_settings(
        default=Level.INFO,
        verbose=verbose,
        log_level=log_level,
        log_format=log_format,
        database_url=database_url,
        concurrency=concurrency,
        fingerprints=fingerprints,
    )
    if not no_worker:
        check_fingerprints(settings)  # a bad database stops the server before it listens
    sock = listen(host, port)
    if no_auth:
        err.print(
            "[bold red]WARNING: --no-auth: API keys are NOT checked; anyone who can reach "
            f"{host}:{port} can read, create and cancel every batch.[/]"
        )
    app = create_app(settings, require_auth=not no_auth, run_worker=not no_worker)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # Our logging setup, not uvicorn's: one handler, one format (text or JSON).
        log_config=None,
        log_level=logging.getLogger("domainbatch").level,  # as logged_settings chose
        # Event streams would otherwise hold a shutdown open until their batches end.
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
    received = run_server(config, sock)
    if received is not None:
        raise typer.Exit(128 + received)  # 130 for Ctrl-C


def run_server(config: uvicorn.Config, sock: socket.socket) -> int | None:
    """Serve until a signal stops the server; returns that signal. uvicorn re-raises it once
    shut down, but a SIGINT that lands while ``asyncio.run`` is returning is swallowed (seen
    in CI: exit 0 after Ctrl-C), so the exit code is decided here."""
    import uvicorn

    class Server(uvicorn.Server):
        received: int | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            self.received = self.received or sig
            super().handle_exit(sig, frame)

    server = Server(config)
    server.run(sockets=[sock])
    return server.received


@keys_app.command("create")
def create(
    tenant: Annotated[
        str, typer.Option("--tenant", metavar="NAME", help="Tenant name (created if new).")
    ],
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key for a tenant; the key is printed once and never stored."""
    from domainbatch.runtime import open_runtime

    settings = load_settings(database_url=database_url)

    async def main() -> IssuedKey:
        async with open_runtime(settings) as rt:
            return await rt.system().create_key(tenant)

    issued = execute(main)
    if as_json:
        print_json({"id": issued.id, "key": issued.key, "tenant": issued.tenant.name})
        return
    err.print(f"API key {issued.id} for tenant {issued.tenant.name!r} (shown once, keep it):")
    out.print(issued.key)


@keys_app.command("list")
def list_(
    tenant: Annotated[
        str | None, typer.Option("--tenant", metavar="NAME", help="Only this tenant.")
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """List API keys (their prefixes, never the keys)."""
    from domainbatch.cli.render import when
    from domainbatch.runtime import open_runtime

    settings = load_settings(database_url=database_url)

    async def main() -> list[KeyRecord]:
        async with open_runtime(settings, create=False) as rt:
            return await rt.system().list_keys(tenant)

    keys = execute(main)
    if as_json:
        print_json([key.as_dict() for key in keys])
        return
    for key in keys:
        state = "revoked " + when(key.revoked_at) if key.revoked_at else "active"
        out.print(f"{key.id}  {key.prefix}…  {key.tenant}  {state}")


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[
        str,
        typer.Argument(
            metavar="KEY",
            help="The key's id, a unique prefix of it (4+ characters), or the key prefix "
            "`keys list` shows.",
        ),
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    from domainbatch.runtime import open_runtime

    settings = load_settings(database_url=database_url)

    async def main() -> str:
        async with open_runtime(settings, create=False) as rt:
            return await rt.system().revoke_key(key_id)

    out.print(f"revoked API key {execute(main)}")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
