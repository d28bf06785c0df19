"""The validation report's evidence, from the scripts' output lines: recovery times, pooler
compliance, a soak's curve, and every WARNING/ERROR line (passed scripts included)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

SCRIPTS = REPO / "scripts" / "testing"


@pytest.fixture(scope="module")
def modules() -> Iterator[Any]:
    """The runner's modules, imported as run_all.py imports them (its folder on sys.path).

    Each must come from that folder: a module of the same name already imported (CI's Python once
    had trio's ``outcome``, which shadowed a runner module then named so) would be tested instead.
    """
    sys.path.insert(0, str(SCRIPTS))
    try:
        import advice
        import evidence
        import report
        import script_result

        for module in (advice, evidence, report, script_result):
            assert module.__file__ is not None and Path(module.__file__).parent == SCRIPTS, module
        yield argparse.Namespace(
            advice=advice, evidence=evidence, script_result=script_result, report=report
        )
    finally:
        sys.path.remove(str(SCRIPTS))


def line(level: str, message: str) -> str:
    return f"2026-11-30T10:00:00.123 {level:<7} validate: {message}"


def build(modules: Any, results: list[Any], env: dict[str, Any] | None = None) -> dict[str, Any]:
    moment = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    built: dict[str, Any] = modules.report.build_report(
        results, moment, moment, argparse.Namespace(keep_going=False, sabotage=[])
    )
    if env is not None:  # the database the test pretends to have run on
        built["environment"].update(env)
        built["pooler_compliance"] = modules.evidence.pooler_compliance(
            results, built["environment"]
        )
    return built


def test_every_warning_and_error_line_is_listed_with_repeats_counted(modules: Any) -> None:
    result = modules.script_result.Result("test_db_outage", status="passed")
    result.read(
        [
            line("INFO", "STEP cut the proxy"),
            "2026-11-30T10:00:01.000 WARNING domainbatch.engine.outage: lost the database",
            "2026-11-30T10:00:02.500 WARNING domainbatch.engine.outage: lost the database",
            line("ERROR", "cleanup failed: x"),
            "/x.py:3: DeprecationWarning: old",
            "Traceback (most recent call last)",
            line("INFO", "ok   done"),
        ]
    )
    assert [(p["level"], p["count"]) for p in result.problems] == [
        ("WARNING", 2),
        ("ERROR", 1),
        ("WARNING", 1),
        ("ERROR", 1),
    ]
    assert result.problems[0]["line"] == 2
    markdown = modules.report.markdown(build(modules, [result]))
    section = markdown.split("## Warnings and errors")[1].split("##")[0]
    assert "4 distinct lines" in section
    assert "| `test_db_outage` | WARNING | 2 | " in section and "lost the database" in section


def test_a_clean_run_says_so(modules: Any) -> None:
    result = modules.script_result.Result("test_batch_create", status="passed")
    result.read([line("INFO", "STEP x"), line("INFO", "METRIC create_entries_per_second=5 e/s")])
    markdown = modules.report.markdown(build(modules, [result]))
    assert "No script printed a WARNING or ERROR line." in markdown
    assert result.metrics["create_entries_per_second"]["value"] == 5


def test_recovery_times_are_reported(modules: Any) -> None:
    result = modules.script_result.Result("test_recovery", status="passed")
    result.read(
        [line("INFO", "RECOVERY worker_killed=4.25 s 16 domains reclaimed after the 3 s lease")]
    )
    built = build(modules, [result])
    assert built["recovery"] == [
        {
            "what": "worker_killed",
            "seconds": 4.25,
            "detail": "16 domains reclaimed after the 3 s lease",
            "script": "test_recovery",
        }
    ]
    markdown = modules.report.markdown(built)
    assert "| worker killed | 4.25 s | 16 domains reclaimed after the 3 s lease |" in markdown


def compliance_lines(prepared: int) -> list[str]:
    return [
        line(
            "INFO",
            f"COMPLIANCE {name}={prepared if name == 'prepared_statements' else 0} connections=2",
        )
        for name in CHECKS
    ]


# test_db_connection's names, as its COMPLIANCE lines print them.
CHECKS = [
    "prepared_statements",
    "LISTEN_channels",
    "advisory_locks",
    "open_cursors",
    "temporary_tables",
    "SET_parameters",
    "connections_in_a_transaction",
]


@pytest.mark.parametrize(
    ("prepared", "verdict"),
    [(0, "compliant: no session state"), (3, "not compliant: session state reached the server")],
)
def test_pooler_compliance_table(modules: Any, prepared: int, verdict: str) -> None:
    assert [n for n, _ in modules.evidence.COMPLIANCE_CHECKS] == CHECKS
    result = modules.script_result.Result("test_db_connection", status="passed")
    result.read(compliance_lines(prepared))
    env = {"database": "postgresql", "pooler_mode": "transaction", "pooler_version": "PgBouncer 1"}
    built = build(modules, [result], env)
    table = built["pooler_compliance"]
    assert table["verdict"].startswith(verdict)
    assert table["checks"][0] == {
        "check": "server-side prepared statements",
        "found": prepared,
        "connections": 2,
    }
    markdown = modules.report.markdown(built)
    assert f"| server-side prepared statements | {prepared} | 2 |" in markdown


def test_compliance_not_measured_and_not_applicable(modules: Any) -> None:
    result = modules.script_result.Result("test_db_connection", status="failed")
    result.read(compliance_lines(0)[:2])
    env = {"database": "postgresql", "pooler_mode": "direct", "pooler_version": "none"}
    table = build(modules, [result], env)["pooler_compliance"]
    assert table["verdict"].startswith("incomplete")
    assert table["checks"][2]["found"] is None
    other = modules.script_result.Result("test_batch_create", status="passed")
    table = build(modules, [other], env)["pooler_compliance"]
    assert table["verdict"] == "not measured: test_db_connection did not run"
    sqlite = build(modules, [result], {"database": "sqlite"})["pooler_compliance"]
    assert sqlite["applicable"] is False


def test_soak_curve_and_slope(modules: Any) -> None:
    result = modules.script_result.Result("soak_test", status="failed")
    result.read(
        [
            line("INFO", "SOAK minute=1.00 rss_mb=80.5"),
            line("INFO", "SOAK minute=2.00 rss_mb=95.0"),
            line("INFO", "METRIC soak_rss_slope_mb_per_min=14.5 MB/min"),
            line("INFO", "METRIC soak_rss_slope_bound_mb_per_min=2 MB/min"),
        ]
    )
    built = build(modules, [result])
    assert built["soak"]["samples"] == [
        {"minute": 1.0, "rss_mb": 80.5},
        {"minute": 2.0, "rss_mb": 95.0},
    ]
    markdown = modules.report.markdown(built)
    assert "RSS slope: **+14.50 MB/min** (bound 2 MB/min)" in markdown
    assert "| 2 | 95.0 |" in markdown


def test_the_failure_reason_picks_the_hint_before_the_log(modules: Any) -> None:
    result = modules.script_result.Result("test_recovery", status="failed")
    result.failure = "8 domains held by the killed worker were never reclaimed (lease 3 s)"
    result.log = "worker: lost the database: Connection refused\n" * 3  # the log says "refused"
    advice = build(modules, [result])["recommendations"]
    assert advice[0].startswith("`test_recovery` failed: 8 domains held")
    assert advice[1].startswith("A dead worker's domains were not taken back")
    assert not any("not reachable" in a for a in advice)


def test_a_task_limit_below_the_worst_connection_wait_is_flagged(modules: Any) -> None:
    result = modules.script_result.Result("test_batch_create", status="passed")
    settings = {"task_timeout": 60.0, "total_timeout": 15.0, "http_connection_limit": 100}
    flagged = []
    for concurrency in (32, 500):
        env = {"settings": {**settings, "concurrency": concurrency}}
        advice = modules.advice.recommendations([result], env)
        flagged.append(any("below TOTAL_TIMEOUT x CONCURRENCY" in a for a in advice))
    assert flagged == [False, True]  # 15 x 500 / 100 = 75 s > 60 s


def test_the_connection_wait_advice_reads_unset_limits_as_their_defaults(modules: Any) -> None:
    """Unset CONCURRENCY is adaptive up to MAX_CONCURRENCY; an unset HTTP_CONNECTION_LIMIT
    follows the in-flight bound, so no domain waits for a connection."""
    result = modules.script_result.Result("test_batch_create")
    timeouts = {"task_timeout": 60.0, "total_timeout": 15.0}
    cases = [
        ({"concurrency": None, "http_connection_limit": None}, False),
        ({"concurrency": 500, "http_connection_limit": None}, False),
        ({"concurrency": None, "max_concurrency": 1000, "http_connection_limit": 100}, True),
        ({"concurrency": None, "max_concurrency": 300, "http_connection_limit": 100}, False),
    ]
    for settings, expected in cases:
        env = {"settings": {**timeouts, **settings}}
        advice = modules.advice.recommendations([result], env)
        flagged = [a for a in advice if "below TOTAL_TIMEOUT x" in a]
        assert bool(flagged) == expected, settings
        if flagged and settings["concurrency"] is None:
            assert "MAX_CONCURRENCY (CONCURRENCY is adaptive)" in flagged[0]


def test_only_the_scripts_own_failed_line_is_its_failure(modules: Any) -> None:
    result = modules.script_result.Result("test_batch_process")
    result.read(
        [
            line("INFO", "batch x: failed; events [<BatchEvent.FAILED: 'batch.failed'>]"),
            line("ERROR", "FAILED [step: a mix]: plain.test: outcome: expected succeeded"),
        ]
    )
    assert (result.failed_step, result.failure) == (
        "a mix",
        "plain.test: outcome: expected succeeded",
    )
