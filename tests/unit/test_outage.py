"""The worker's outage account: one line when the database goes, one when it is back, and
rate-limited tracebacks for everything else."""

from __future__ import annotations

import logging

import psycopg
import pytest

from domainbatch.engine import outage as outage_module
from domainbatch.engine.outage import Outage, QuietPoolResets
from domainbatch.errors import StorageConflictError, StorageError

LOG = "test.outage"


def messages(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, bool]]:
    return [(r.levelno, r.getMessage(), r.exc_info is not None) for r in caplog.records]


def test_an_outage_is_two_lines_whatever_the_loops_do(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOG)
    tracker = Outage("worker w1", logging.getLogger(LOG))
    tracker.recovered()  # nothing was down: silent
    error = StorageError("database error: connection refused\nDETAIL: more")
    for where in ("claim round", "flush", "sweep", "webhook round") * 25:
        tracker.failed(where, error)
    assert tracker.down
    tracker.recovered()
    tracker.recovered()
    assert not tracker.down
    lines = messages(caplog)
    assert len(lines) == 2
    (lost_level, lost, lost_tb), (back_level, back, back_tb) = lines
    assert lost_level == back_level == logging.WARNING and not lost_tb and not back_tb
    assert lost == (
        "worker w1 lost the database in its claim round: database error: connection refused; "
        "retrying with backoff until it is back"
    )
    assert back.startswith("worker w1: the database is back after a ")
    assert back.endswith("s outage (99 failed retries)")


def test_a_second_outage_is_reported_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOG)
    tracker = Outage("worker w1", logging.getLogger(LOG))
    for _ in range(2):
        tracker.failed("flush", StorageError("database error: gone"))
        tracker.recovered()
    lines = [m for _, m, _ in messages(caplog)]
    assert len(lines) == 4
    assert all("lost the database" in m for m in lines[0::2])
    assert all(m.endswith("(0 failed retries)") for m in lines[1::2])


def test_other_errors_keep_a_traceback_once_a_minute(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, LOG)
    now = [1000.0]
    monkeypatch.setattr(outage_module.time, "monotonic", lambda: now[0])
    tracker = Outage("worker w1", logging.getLogger(LOG))
    for _ in range(5):
        try:
            raise RuntimeError("a bug")
        except RuntimeError as exc:
            tracker.failed("claim round", exc)
        now[0] += 1
    tracker.failed("flush", ValueError("another bug"))  # another loop, another error: shown
    now[0] += 60
    tracker.failed("claim round", RuntimeError("a bug"))
    lines = messages(caplog)
    assert lines == [
        (logging.ERROR, "worker w1: claim round failed; will retry", True),
        (logging.ERROR, "worker w1: flush failed; will retry", True),
        (
            logging.ERROR,
            "worker w1: claim round failed (4 more like it in the last 65s); will retry",
            True,
        ),
    ]
    assert not tracker.down


def test_pool_reset_tracebacks_of_lost_connections_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool_log = logging.getLogger("sqlalchemy.pool.impl.AsyncAdaptedQueuePool")
    caplog.set_level(logging.INFO, pool_log.name)

    def reset_failure(
        exc: BaseException, message: str = "Exception during reset or similar"
    ) -> None:
        try:
            raise exc
        except BaseException:
            pool_log.error(message, exc_info=True)

    with QuietPoolResets():
        reset_failure(psycopg.OperationalError("the connection is lost"))
        reset_failure(OSError("reset by peer"), "Exception closing connection %r")
        reset_failure(RuntimeError("not a lost connection"))
    reset_failure(psycopg.OperationalError("outside a worker: shown"))
    shown = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert [str(e) for e in shown] == ["not a lost connection", "outside a worker: shown"]


def test_a_conflict_between_transactions_is_no_outage(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOG)
    tracker = Outage("worker w1", logging.getLogger(LOG))
    conflict = StorageConflictError("database conflict: deadlock detected")
    tracker.failed("flush", conflict)
    assert not tracker.down
    tracker.recovered()  # nothing was down: silent
    assert messages(caplog) == [
        (
            logging.INFO,
            "worker w1: its flush met another transaction (database conflict: deadlock "
            "detected); retrying",
            False,
        )
    ]
    # Within an outage it neither ends it nor counts as one of its failed retries.
    tracker.failed("claim round", StorageError("database error: connection refused"))
    tracker.failed("flush", conflict)
    assert tracker.down and tracker.retries == 0
