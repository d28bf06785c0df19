"""Liveness, readiness and Prometheus metrics (not under /v1 and not authenticated, like any
probe endpoint; they reveal counts, never batch contents)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from domainbatch.api.auth import Service, service
from domainbatch.api.errors import documented
from domainbatch.api.schemas import Health
from domainbatch.core.status import BatchStatus
from domainbatch.engine.metrics import CONTENT_TYPE, Family, histogram_family, render

router = APIRouter(tags=["system"])
Svc = Annotated[Service, Depends(service)]


@router.get("/healthz", operation_id="getHealth", summary="Liveness probe", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process is up (no database access)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness probe",
    response_model=Health,
    responses=documented(503),
)
async def readyz(svc: Svc) -> dict[str, str]:
    """The database answers and has our schema (503 otherwise)."""
    await svc.runtime.system().ready()
    return {"status": "ready"}


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, **documented(503)},
)
async def metrics(svc: Svc) -> PlainTextResponse:
    """Prometheus text format: batches by status, queue depth, busy workers and each live
    worker's concurrency level and domains in flight (fleet-wide, from the database); domains
    processed and processing latency (this process's worker)."""
    fleet = await svc.runtime.system().gauges()
    batches = Family("domainbatch_batches", "gauge", "Batches by status")
    for status in BatchStatus:
        batches.add(fleet.batches_by_status.get(status.value, 0), status=status.value)
    families = [
        batches,
        Family("domainbatch_queue_depth", "gauge", "Pending domains due for processing").add(
            fleet.queue_depth
        ),
        Family("domainbatch_workers_busy", "gauge", "Workers holding live leases (fleet-wide)").add(
            fleet.workers_busy
        ),
        Family("domainbatch_embedded_workers", "gauge", "Workers running in this process").add(
            1 if svc.worker is not None else 0
        ),
    ]
    level = Family(
        "domainbatch_worker_concurrency", "gauge", "Each live worker's concurrency level"
    )
    inflight = Family("domainbatch_worker_inflight", "gauge", "Each live worker's domains busy")
    for worker in fleet.workers:
        mode = "pinned" if worker.pinned else "adaptive"
        level.add(worker.concurrency, worker=worker.id, mode=mode)
        inflight.add(worker.inflight, worker=worker.id)
    families += [level, inflight]
    if svc.worker is not None:
        stats = svc.worker.stats
        processed = Family(
            "domainbatch_domains_processed_total", "counter", "Attempts by outcome (this process)"
        )
        processed.add(stats.succeeded, outcome="succeeded")
        processed.add(stats.failed, outcome="failed")
        processed.add(stats.retried, outcome="retried")
        families += [
            processed,
            histogram_family(
                "domainbatch_domain_processing_seconds",
                "Seconds per processing attempt (this process)",
                stats.latency,
            ),
            Family("domainbatch_webhooks_delivered_total", "counter", "Webhooks delivered").add(
                svc.worker.webhooks.sent if svc.worker.webhooks is not None else 0
            ),
        ]
    return PlainTextResponse(render(families), media_type=CONTENT_TYPE)
