"""Read models (pure): a batch as stored, a batch with its progress, a domain with its result,
and a keyset page of either; for operators, an API key, a live worker, a webhook delivery and
the database check. Storage builds them from rows; the service hands them to every caller;
``as_dict()`` is their JSON shape (CLI ``--json``, exports, SSE, webhook payloads, API
responses), and the API's response schemas are derived from their fields (types, and the
descriptions in each field's metadata for the OpenAPI document).

Times are Unix epochs (floats) in the models, for arithmetic, and RFC 3339 strings in UTC in
``as_dict()`` (``TIME`` in a field's metadata marks them), the one text every JSON shape uses."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Generic, TypeVar

from domainbatch.core.humanize import rfc3339
from domainbatch.core.status import BatchEvent, BatchStatus, DomainStatus, Progress

# A field holding a time: an epoch in the model, an RFC 3339 string in its JSON.
TIME: dict[str, Any] = {"time": True}

_NAMES: dict[type, tuple[str, ...]] = {}
_TIMES: dict[type, frozenset[str]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """The field names of a read model, in order (looked up once per class: exports call
    ``as_dict`` for every row)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def time_fields(cls: type) -> frozenset[str]:
    """The names of a read model's time fields (``TIME`` in their metadata)."""
    times = _TIMES.get(cls)
    if times is None:
        times = _TIMES[cls] = frozenset(f.name for f in fields(cls) if f.metadata.get("time"))
    return times


class Model:
    """A frozen read model: ``as_dict()`` is its JSON object, keys in field order."""

    __slots__ = ()

    def as_dict(self) -> dict[str, Any]:
        # Shallow: options and results are the stored JSON, handed on as they are. Enums
        # become their plain values and times RFC 3339 strings.
        times = time_fields(type(self))
        shown: dict[str, Any] = {}
        for name in _names(type(self)):
            value = getattr(self, name)
            if isinstance(value, Enum):
                value = value.value
            elif name in times:
                value = rfc3339(value)
            shown[name] = value
        return shown


@dataclass(frozen=True, slots=True)
class BatchRecord(Model):
    """A batch as stored (no tenant, no webhook secret: those never leave the service)."""

    id: str
    status: BatchStatus
    processor: str
    options: dict[str, Any]
    total: int
    invalid: int
    duplicates: int
    error: str | None
    created_at: float = field(metadata=TIME)
    started_at: float | None = field(metadata=TIME)
    finished_at: float | None = field(metadata=TIME)
    webhook_url: str | None
    # Keyword-only with defaults: a record built without them (tests, older callers) has none.
    deadline_seconds: float | None = field(
        default=None,
        kw_only=True,
        metadata={
            "description": "Seconds from the start after which every unfinished domain fails "
            "with deadline_exceeded; null: no deadline"
        },
    )
    deadline_at: float | None = field(
        default=None,
        kw_only=True,
        metadata={**TIME, "description": "When the deadline passes (set when the batch starts)"},
    )
    completion: dict[str, float] | None = field(
        default=None,
        kw_only=True,
        metadata={
            "description": "Seconds from the start until 50, 90, 99 and 100% of the domains "
            "that went through a worker were finished (t50, t90, t99, t100); null until the "
            "batch ends, and for a cancelled batch"
        },
    )


@dataclass(frozen=True, slots=True)
class BatchReport(BatchRecord):
    """A batch with its progress: counts by domain status, errors by code, timing, rate and
    ETA. The object every caller polls (``status``), and the ``batch`` of webhook events."""

    done: int
    progress: float = field(metadata={"description": "done / total × 100, rounded down to 0.01"})
    counts: dict[str, int] = field(metadata={"description": "Domains by status"})
    errors: dict[str, int] = field(metadata={"description": "Failed domains by error code"})
    duration_seconds: float | None
    rate_per_second: float | None
    eta_seconds: float | None

    @classmethod
    def of(cls, batch: BatchRecord, progress: Progress) -> BatchReport:
        stored = {name: getattr(batch, name) for name in _names(BatchRecord)}
        return cls(
            **stored,
            done=progress.done,
            progress=progress.percent,
            counts=progress.by_status,
            errors=progress.by_code,
            duration_seconds=progress.duration,
            rate_per_second=progress.rate,
            eta_seconds=progress.eta_seconds,
        )


@dataclass(frozen=True, slots=True)
class DomainRecord(Model):
    """One domain of a batch with its outcome; ``display`` and ``input`` fall back to the
    normalized domain."""

    id: int
    domain: str | None
    display: str | None
    input: str | None
    status: DomainStatus
    attempts: int
    error_code: str | None
    error_message: str | None
    started_at: float | None = field(metadata=TIME)
    finished_at: float | None = field(metadata=TIME)
    result: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class KeyRecord(Model):
    """An API key as ``keys list`` shows it: its clear prefix, never the key or its digest."""

    id: str
    tenant: str
    prefix: str
    created_at: float = field(metadata=TIME)
    revoked_at: float | None = field(metadata=TIME)


@dataclass(frozen=True, slots=True)
class WorkerRecord(Model):
    """A live worker as ``status`` and ``/metrics`` show it: its level of concurrency
    (``pinned``: set by ``CONCURRENCY``, else adaptive) and its domains in flight, as of its
    last heartbeat (``seen_at``)."""

    id: str
    host: str
    pid: int
    concurrency: int
    pinned: bool
    inflight: int
    started_at: float = field(metadata=TIME)
    seen_at: float = field(metadata=TIME)


@dataclass(frozen=True, slots=True)
class DeliveryRecord(Model):
    """One webhook event's outbox row (``status``: pending, delivered or failed). The receiver's
    URL and secret stay on the batch."""

    id: str
    batch_id: str
    event: BatchEvent
    status: str
    attempts: int
    next_attempt_at: float = field(metadata=TIME)
    lease_expires_at: float | None = field(metadata=TIME)
    worker_id: str | None
    response_status: int | None
    last_error: str | None
    created_at: float = field(metadata=TIME)
    delivered_at: float | None = field(metadata=TIME)


@dataclass(frozen=True, slots=True)
class DatabaseCheck(Model):
    """``domainbatch db check``: a query answered (and no connection left checked out), the
    server, the pooler mode, and the schema's revision against the one this code needs."""

    ok: bool = field(metadata={"description": "Usable by this domainbatch as it is"})
    database: str = field(metadata={"description": "The URL, password hidden"})
    server_version: str | None
    pooler_mode: str
    schema_revision: str | None
    schema_head: str | None
    checked_out_connections: int
    location: str | None = field(
        default=None, metadata={"description": "The SQLite file, or host:port/database"}
    )
    pooler: str | None = field(default=None, metadata={"description": "e.g. PgBouncer 1.18.0"})
    problem: str | None = field(default=None, metadata={"description": "Why ok is false"})


M = TypeVar("M", bound=Model)


@dataclass(frozen=True, slots=True)
class Page(Generic[M]):
    """One keyset page; ``next_cursor`` None means it was the last."""

    items: list[M]
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"items": [item.as_dict() for item in self.items], "next_cursor": self.next_cursor}
