"""Status and progress rules, and the storage URL / pooler rules (pure)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domainbatch.core.retry import RetryPolicy
from domainbatch.core.status import BatchEvent, BatchStatus, Progress, batch_ending
from domainbatch.errors import ConfigurationError
from domainbatch.settings import Settings
from domainbatch.storage.database import detect_pooler_mode, normalize_url


def test_final_status_needs_one_success() -> None:
    assert batch_ending({"succeeded": 1, "failed": 9}) == (BatchStatus.COMPLETED, None)
    assert batch_ending({"failed": 3, "invalid": 2}) == (BatchStatus.FAILED, "no domain succeeded")
    assert batch_ending({"succeeded": 5, "pending": 1}) is None
    assert batch_ending({"failed": 5, "processing": 1}) is None


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_progress_is_100_only_when_everything_is_terminal(done: int, extra: int) -> None:
    total = done + extra
    progress = Progress(total=total, counts={"succeeded": done, "pending": extra})
    assert 0 <= progress.percent <= 100
    assert (progress.percent == 100) == (extra == 0)


def test_rate_and_eta() -> None:
    progress = Progress(
        total=110,
        counts={"succeeded": 40, "failed": 10, "invalid": 10, "pending": 45, "processing": 5},
        started_at=1000.0,
        now=1010.0,
    )
    assert progress.done == 60 and progress.processed == 50
    assert progress.rate == 5.0 and progress.eta_seconds == 10.0
    assert progress.percent == 54.54
    assert progress.by_status == {
        "pending": 45,
        "processing": 5,
        "succeeded": 40,
        "failed": 10,
        "invalid": 10,
        "cancelled": 0,
    }
    finished = Progress(total=1, counts={"succeeded": 1}, started_at=5.0, finished_at=7.5, now=99)
    assert finished.elapsed == 2.5
    assert Progress(total=3, counts={}).rate is None


def test_eta_is_unknown_while_nothing_is_in_flight_and_absent_once_ended() -> None:
    # 99 of 100 done in 10 s; the last one waits on a retry's backoff: not "0 s left".
    waiting = Progress(total=100, counts={"succeeded": 99, "pending": 1}, started_at=0.0, now=10.0)
    assert waiting.rate == 9.9 and waiting.eta_seconds is None
    working = Progress(total=100, counts={"succeeded": 98, "processing": 1, "pending": 1}, now=10.0)
    assert working.eta_seconds is None  # not started: no rate yet
    started = Progress(**{**vars(working), "started_at": 0.0})
    assert started.eta_seconds == 0.2
    drained = Progress(total=2, counts={"succeeded": 2}, started_at=0.0, now=4.0)
    assert drained.eta_seconds == 0.0  # done, not ended yet
    for counts in ({"succeeded": 1}, {"failed": 1, "cancelled": 1}):
        ended = Progress(total=2, counts=counts, started_at=0.0, finished_at=3.0, now=9.0)
        assert ended.eta_seconds is None


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    policy = RetryPolicy(base=2.0, cap=60.0, max_attempts=3)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (10, 60.0), (10_000, 60.0)]:
        values = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= v <= ceiling for v in values)
        assert len(set(values)) > 100  # jittered, not fixed
    assert [policy.retries(n) for n in (1, 2, 3)] == [True, True, False]
    assert RetryPolicy(1.0, 2.0).retries(10**6)  # no max_attempts: for ever


def test_the_policies_come_from_their_settings() -> None:
    settings = Settings(
        retry_base_seconds=1, retry_max_seconds=9, webhook_max_attempts=4, poll_max_seconds=3
    )
    assert RetryPolicy.for_domains(settings, 5) == RetryPolicy(1, 9, 5, 2)
    assert RetryPolicy.for_webhooks(settings).max_attempts == 4
    assert RetryPolicy.for_polling(settings).cap == 3


def test_batch_events_name_each_ending() -> None:
    assert [BatchEvent.ending(s) for s in ("completed", "failed", "cancelled")] == [
        BatchEvent.COMPLETED,
        BatchEvent.FAILED,
        BatchEvent.CANCELLED,
    ]
    assert BatchEvent.STARTED == "batch.started"


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("postgres://u:p@db.example.com:5432/postgres", "postgresql+psycopg"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
    ],
)
def test_database_urls_map_to_our_drivers(raw: str, driver: str) -> None:
    assert normalize_url(raw).drivername == driver


@pytest.mark.parametrize("raw", ["mysql://u@h/db", "not a url"])
def test_unsupported_database_urls_are_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError):
        normalize_url(raw)


@pytest.mark.parametrize(
    ("raw", "configured", "mode"),
    [
        ("postgresql://u@aws-0-eu-west-1.pooler.supabase.com:5432/postgres", "auto", "transaction"),
        ("postgresql://u@db.internal:6543/postgres", "auto", "transaction"),
        ("postgresql://u@db.internal:5432/postgres", "auto", "direct"),
        ("postgresql://u@db.internal:6543/postgres", "session", "session"),
        ("sqlite:///x.db", "auto", "direct"),
    ],
)
def test_pooler_mode_detection(raw: str, configured: str, mode: str) -> None:
    assert detect_pooler_mode(normalize_url(raw), configured) == mode


def test_settings_parse_lists_and_overrides_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMAINBATCH_EXTRA_SUFFIXES", "test, .Internal")
    monkeypatch.setenv("DOMAINBATCH_RESOLVE_OVERRIDES", '{"*.test": "127.0.0.1"}')
    monkeypatch.setenv("DOMAINBATCH_CONCURRENCY", "7")
    settings = Settings()
    assert settings.extra_suffixes == ["test", "internal"]
    assert settings.resolve_overrides == {"*.test": "127.0.0.1"}
    assert settings.with_overrides(concurrency=None).concurrency == 7
    assert settings.with_overrides(concurrency=3).concurrency == 3
    with pytest.raises(TypeError, match="concurency"):  # misspelled: never silently dropped
        settings.with_overrides(concurency=3)
    monkeypatch.setenv("DOMAINBATCH_RESOLVE_OVERRIDES", "*.test=127.0.0.1,a.example=::1")
    assert Settings().resolve_overrides == {"*.test": "127.0.0.1", "a.example": "::1"}
