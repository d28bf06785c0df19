"""The application factory. ``create_app(settings)`` builds routes only; the lifespan opens the
database (migrating the embedded SQLite default) and, when asked, runs a worker in-process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from domainbatch import __version__
from domainbatch.api import batches, dashboard, docs, errors, system
from domainbatch.api.auth import Service
from domainbatch.api.loopback import LoopbackOnly
from domainbatch.api.schemas import CreateBatchRequest
from domainbatch.runtime import Runtime
from domainbatch.settings import Settings

log = logging.getLogger("domainbatch.api")


def create_app(
    settings: Settings, *, require_auth: bool = True, run_worker: bool = False
) -> FastAPI:
    """The service. ``require_auth=False`` serves every batch to anyone (loopback use only);
    ``run_worker`` processes batches in this process too (``domainbatch serve``'s default)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings)
        await runtime.prepare()
        svc = Service(runtime=runtime, require_auth=require_auth)
        task: asyncio.Task[Any] | None = None
        if run_worker:
            svc.worker = runtime.worker()
            task = asyncio.create_task(svc.worker.run())
        app.state.service = svc
        try:
            yield
        finally:
            if svc.worker is not None and task is not None:
                svc.worker.stop()  # graceful: in-flight work finishes or is released
                await asyncio.gather(task, return_exceptions=True)
            await runtime.close()

    # FastAPIOffline mounts the docs' assets (api/docs.py says why this package); api.docs adds
    # the two pages.
    app = FastAPIOffline(
        title="domainbatch",
        version=__version__,
        description="Batch processing of domains: create batches, follow their progress, "
        "export results. Authenticate with `Authorization: Bearer <API key>`. Times are RFC 3339 "
        "strings in UTC (`2026-11-30T14:58:22.123Z`); durations are seconds.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        static_url=docs.ASSETS,
    )
    docs.install(app)
    errors.install(app)
    if not require_auth:
        app.add_middleware(LoopbackOnly)
    app.include_router(system.router)
    app.include_router(batches.router)
    app.include_router(dashboard.build_router(settings, require_auth))
    dashboard.install(app)
    _document_request_schemas(app)
    return app


def _document_request_schemas(app: FastAPI) -> None:
    """Add the JSON batch request to the OpenAPI components: the create route reads its body
    itself (to stream text and CSV), so FastAPI cannot see the model."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = base()
        model = CreateBatchRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(model.pop("$defs", {}))
        components["CreateBatchRequest"] = model
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
