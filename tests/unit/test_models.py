"""The read models keep the JSON shape the storage dicts had (keys, order, plain values; times
as RFC 3339 strings), and the API's response schemas are derived from them (fields, types,
descriptions)."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from domainbatch.api.schemas import (
    Batch,
    BatchAction,
    BatchDetail,
    BatchList,
    CreatedBatch,
    Domain,
    DomainList,
    derived,
)
from domainbatch.core import queue
from domainbatch.core.humanize import rfc3339
from domainbatch.core.models import (
    BatchRecord,
    BatchReport,
    DatabaseCheck,
    DeliveryRecord,
    DomainRecord,
    KeyRecord,
    Page,
    time_fields,
)
from domainbatch.core.status import BatchEvent, BatchStatus, DomainStatus, Progress
from domainbatch.storage.tables import webhook_deliveries

RECORD = BatchRecord(
    id="0b6c6f5e-4f7a-4d8e-9a57-2f1d0c1e7a10",
    status=BatchStatus.PROCESSING,
    processor="homepage",
    options={"timeout": 5},
    total=110,
    invalid=10,
    duplicates=2,
    error=None,
    created_at=990.5,
    started_at=1000.0,
    finished_at=None,
    webhook_url="https://hooks.test/x",
)
PROGRESS = Progress(
    total=110,
    counts={"succeeded": 40, "failed": 10, "invalid": 10, "pending": 45, "processing": 5},
    errors={"timeout": 4, "dns_nxdomain": 6},
    started_at=1000.0,
    now=1010.0,
)
DOMAIN = DomainRecord(
    id=7,
    domain="xn--bcher-kva.test",
    display="bücher.test",
    input="https://Bücher.test/",
    status=DomainStatus.SUCCEEDED,
    attempts=2,
    error_code=None,
    error_message=None,
    started_at=1001.0,
    finished_at=1002.25,
    result={"final_url": "https://bücher.test/", "extracted": {"title": "B"}},
)

# What storage.batches.batch_dict and Progress.as_dict built before the models, merged, with
# times as RFC 3339 strings.
STATUS_DICT = {
    "id": "0b6c6f5e-4f7a-4d8e-9a57-2f1d0c1e7a10",
    "status": "processing",
    "processor": "homepage",
    "options": {"timeout": 5},
    "total": 110,
    "invalid": 10,
    "duplicates": 2,
    "error": None,
    "created_at": "1970-01-01T00:16:30.500Z",
    "started_at": "1970-01-01T00:16:40.000Z",
    "finished_at": None,
    "webhook_url": "https://hooks.test/x",
    "deadline_seconds": None,
    "deadline_at": None,
    "completion": None,
    "done": 60,
    "progress": 54.54,
    "counts": {
        "pending": 45,
        "processing": 5,
        "succeeded": 40,
        "failed": 10,
        "invalid": 10,
        "cancelled": 0,
    },
    "errors": {"dns_nxdomain": 6, "timeout": 4},
    "duration_seconds": 10.0,
    "rate_per_second": 5.0,
    "eta_seconds": 10.0,
}


def test_a_report_is_the_old_status_dict_key_for_key_in_order() -> None:
    shown = BatchReport.of(RECORD, PROGRESS).as_dict()
    assert shown == STATUS_DICT
    assert list(shown) == list(STATUS_DICT)
    assert list(shown["counts"]) == [s.value for s in DomainStatus]
    assert list(shown["errors"]) == ["dns_nxdomain", "timeout"]  # sorted by code
    assert type(shown["status"]) is str  # a plain value, not the enum
    assert orjson.dumps(shown) == orjson.dumps(STATUS_DICT)


def test_a_record_is_the_first_part_of_its_report() -> None:
    record = RECORD.as_dict()
    assert list(record) == list(STATUS_DICT)[:15]
    assert record == {k: STATUS_DICT[k] for k in record}


def test_models_keep_epochs_and_show_rfc3339_times() -> None:
    report = BatchReport.of(RECORD, PROGRESS)
    assert (report.created_at, report.started_at) == (990.5, 1000.0)  # arithmetic stays cheap
    for model in (report, RECORD, DOMAIN):
        shown = model.as_dict()
        times = {name for name in shown if name.endswith("_at")}
        assert times == set(time_fields(type(model)))
        assert all(shown[name] == rfc3339(getattr(model, name)) for name in times)
    assert orjson.loads(orjson.dumps(DOMAIN.as_dict())) == {
        "id": 7,
        "domain": "xn--bcher-kva.test",
        "display": "bücher.test",
        "input": "https://Bücher.test/",
        "status": "succeeded",
        "attempts": 2,
        "error_code": None,
        "error_message": None,
        "started_at": "1970-01-01T00:16:41.000Z",
        "finished_at": "1970-01-01T00:16:42.250Z",
        "result": {"final_url": "https://bücher.test/", "extracted": {"title": "B"}},
    }


def test_a_finished_report_has_no_eta_and_a_fixed_duration() -> None:
    ended = dataclasses.replace(RECORD, status=BatchStatus.COMPLETED, finished_at=1002.5)
    done = Progress(total=1, counts={"succeeded": 1}, started_at=1000.0, finished_at=1002.5)
    report = BatchReport.of(ended, done)
    assert (report.done, report.progress, report.eta_seconds) == (1, 100.0, None)
    assert report.duration_seconds == 2.5 and report.rate_per_second == 0.4


def test_a_page_is_items_and_cursor() -> None:
    page = Page([DOMAIN], "WzJd")
    assert page.as_dict() == {"items": [DOMAIN.as_dict()], "next_cursor": "WzJd"}


def test_the_api_schemas_are_the_models_fields() -> None:
    for schema, model in ((Batch, BatchRecord), (BatchDetail, BatchReport), (Domain, DomainRecord)):
        assert list(schema.model_fields) == [f.name for f in dataclasses.fields(model)]
    for listing in (BatchList, DomainList):
        assert list(listing.model_fields) == ["items", "next_cursor"]
    described = BatchDetail.model_json_schema()["properties"]
    assert described["progress"]["description"] == "done / total × 100, rounded down to 0.01"
    assert described["counts"]["description"] == "Domains by status"
    assert described["status"] == {"$ref": "#/$defs/BatchStatus"}


def test_the_api_serializes_a_model_as_its_dict() -> None:
    """What FastAPI does with a route's ``as_dict()``: validate it, dump it as JSON, unchanged."""
    report = BatchReport.of(RECORD, PROGRESS)
    shown = BatchDetail.model_validate(report.as_dict()).model_dump(mode="json")
    assert shown == report.as_dict() and list(shown) == list(STATUS_DICT)
    page = BatchList.model_validate(Page([RECORD], None).as_dict())
    assert page.model_dump(mode="json") == Page([RECORD], None).as_dict()
    domain = Domain.model_validate(DOMAIN.as_dict()).model_dump(mode="json")
    assert domain == DOMAIN.as_dict()


def test_the_api_documents_times_as_date_time_strings() -> None:
    named = (Batch, BatchDetail, Domain, BatchList, DomainList)
    assert [s.__name__ for s in named] == [
        "Batch",
        "BatchDetail",
        "Domain",
        "BatchList",
        "DomainList",
    ]
    for schema, model in ((BatchDetail, BatchReport), (Domain, DomainRecord)):
        properties = schema.model_json_schema(mode="serialization")["properties"]
        for name in time_fields(model):
            kinds = properties[name].get("anyOf", [properties[name]])
            assert kinds[0]["type"] == "string" and kinds[0]["format"] == "date-time", name
    durations = BatchDetail.model_json_schema(mode="serialization")["properties"]
    for name in ("duration_seconds", "eta_seconds"):  # durations stay numbers
        assert durations[name]["anyOf"][0]["type"] == "number"


def test_a_key_is_the_old_keys_list_row() -> None:
    key = KeyRecord("k-1", "alice", "dbk_Q0uhab89", 1796030003.5, None)
    old = {  # what storage.tenants.list_keys built, with an RFC 3339 time
        "id": "k-1",
        "tenant": "alice",
        "prefix": "dbk_Q0uhab89",
        "created_at": "2026-11-30T09:13:23.500Z",
        "revoked_at": None,
    }
    assert key.as_dict() == old and list(key.as_dict()) == list(old)


def test_a_delivery_is_its_outbox_row_without_a_secret() -> None:
    row = {  # dict(row._mapping) of ``SELECT webhook_deliveries.*``, as Outbox.deliveries gave
        "id": "d-1",
        "batch_id": "b-1",
        "event": "batch.completed",
        "status": "delivered",
        "attempts": 3,
        "next_attempt_at": 1000.0,
        "lease_expires_at": None,
        "worker_id": "w-1",
        "response_status": 200,
        "last_error": None,
        "created_at": 999.5,
        "delivered_at": 1001.0,
    }
    assert list(row) == [c.name for c in webhook_deliveries.columns]
    delivery = DeliveryRecord(**{**row, "event": BatchEvent(row["event"])})
    shown = delivery.as_dict()
    times = {"next_attempt_at", "lease_expires_at", "created_at", "delivered_at"}
    assert {k: v for k, v in shown.items() if k not in times} == {
        k: v for k, v in row.items() if k not in times
    }
    assert list(shown) == list(row)
    assert (shown["created_at"], shown["lease_expires_at"]) == ("1970-01-01T00:16:39.500Z", None)
    assert type(shown["event"]) is str
    assert not any("secret" in name or "url" in name for name in shown)


def test_a_database_check_is_the_old_check_dict_and_where_why() -> None:
    old = {  # what System.check returned
        "ok": True,
        "database": "sqlite+aiosqlite:////tmp/x.db",
        "server_version": "SQLite 3.40.1",
        "pooler_mode": "direct",
        "schema_revision": None,
        "schema_head": "0002",
        "checked_out_connections": 0,
    }
    check = DatabaseCheck(**old)
    added = {"location": None, "pooler": None, "problem": None}  # appended: old keys unmoved
    assert check.as_dict() == {**old, **added} and list(check.as_dict()) == [*old, *added]
    assert orjson.dumps(check.as_dict()) == orjson.dumps({**old, **added})


def test_a_created_batch_schema_is_the_store_record_and_its_status_url() -> None:
    created = queue.CreatedBatch("b-1", "pending", 3, 5, 1, 1, [{"input": "x y", "reason": "r"}])
    names = [f.name for f in dataclasses.fields(queue.CreatedBatch)]
    assert list(CreatedBatch.model_fields) == [*names, "status_url"]
    body = {**vars(created), "status_url": "http://127.0.0.1/v1/batches/b-1"}
    assert CreatedBatch.model_validate(body).model_dump(mode="json") == body
    described = CreatedBatch.model_json_schema()["properties"]
    assert described["status"] == {"$ref": "#/$defs/BatchStatus"}
    assert described["entries"]["description"] == "Entries received"
    assert described["invalid_entries"]["items"] == {"$ref": "#/$defs/InvalidEntry"}
    with pytest.raises(TypeError, match="no field entires"):
        derived(queue.CreatedBatch, "Misspelt", entires="Entries received")


def test_a_batch_action_dumps_as_the_old_dict() -> None:
    action = BatchAction(id="b-1", status=BatchStatus.CANCELLED, affected=4)
    assert action.model_dump(mode="json") == {"id": "b-1", "status": "cancelled", "affected": 4}
