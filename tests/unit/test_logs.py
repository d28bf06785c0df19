"""The log formats, the latency summary and plurals (pure)."""

from __future__ import annotations

import json
import logging

from domainbatch.cli.logs import JsonFormatter, TextFormatter, redact
from domainbatch.core.humanize import plural
from domainbatch.engine.metrics import Histogram
from domainbatch.engine.stats import Throughput, WorkerStats


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("domainbatch.worker", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_json_lines_carry_time_level_logger_message_and_extras() -> None:
    line = JsonFormatter().format(record("took %d", 3, claimed=7, per_second=1.5))
    entry = json.loads(line)
    assert entry.pop("time").endswith("Z")
    assert entry == {
        "level": "info",
        "logger": "domainbatch.worker",
        "message": "took 3",
        "claimed": 7,
        "per_second": 1.5,
    }


def test_passwords_never_reach_a_log_line() -> None:
    url = "postgresql+psycopg://app:s3cr%40t@db.example:6543/postgres"
    assert redact(url) == "postgresql+psycopg://app:***@db.example:6543/postgres"
    assert redact("sqlite:///./a@b.db and https://example.com/x@y") == (
        "sqlite:///./a@b.db and https://example.com/x@y"
    )
    for formatter in (TextFormatter(), JsonFormatter()):
        assert "s3cr" not in formatter.format(record("cannot connect to %s", url))


def test_latency_is_printed_as_figures() -> None:
    latency = Histogram(buckets=(0.1, 1.0, 10.0))
    assert str(latency) == "none" and latency.quantile(0.5) is None
    for value in [0.05] * 50 + [0.5] * 45 + [4.0] * 5:
        latency.observe(value)
    assert latency.quantile(0.5) == 0.1  # the first bucket's top: interpolated, capped by max
    assert 0.9 < (latency.quantile(0.95) or 0) <= 1.0
    assert str(latency) == "p50 100ms, p95 1s, max 4s"
    stats = WorkerStats(claimed=3, succeeded=1, failed=1, retried=1, latency=latency)
    assert "3 claimed, 1 succeeded, 1 failed, 1 retried, 0 released in " in str(stats)
    assert str(stats).endswith("latency p50 100ms, p95 1s, max 4s")


def test_throughput_counts_the_interval_only() -> None:
    stats = WorkerStats(claimed=10, succeeded=8, failed=1)
    last = Throughput(claimed=4, succeeded=2, failed=1, at=stats.started_at)
    line, figures = last.since(stats, inflight=2, level=48)
    assert (figures["claimed"], figures["succeeded"], figures["failed"]) == (6, 6, 0)
    assert figures["inflight"] == 2 and figures["per_second"] > 0
    assert figures["concurrency"] == 48
    assert line.startswith("throughput: 6 claimed, 6 succeeded, 0 failed in ")
    assert line.endswith("2 in flight, concurrency 48")
    _, again = last.since(stats, inflight=0, level=48)
    assert (again["claimed"], again["succeeded"]) == (0, 0)


def test_plurals() -> None:
    assert plural(1, "domain") == "1 domain"
    assert [plural(n, "domain") for n in (0, 2, 1000)] == [
        "0 domains",
        "2 domains",
        "1,000 domains",
    ]
    assert (
        plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"
    )
