"""The adaptive concurrency level (engine/concurrency.py): its decision, signals in and the next
level out, table by table; the controller's pinned mode and the 2x rule of its log lines."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domainbatch.engine.concurrency import Concurrency, Signals, decide
from domainbatch.settings import Settings

GiB = 1024**3
# A machine with room everywhere: little lag, half busy, most memory free, few descriptors.
ROOMY = Signals(
    demand=True,
    loop_lag=0.002,
    cpu_busy=0.5,
    memory_available=12 * GiB,
    memory_total=16 * GiB,
    rss=200 * 1024**2,
    fds_open=100,
    fds_limit=65536,
)


@pytest.mark.parametrize(
    ("level", "signals", "grows"),
    [
        (16, ROOMY, True),
        (200, ROOMY, True),
        (16, replace(ROOMY, loop_lag=None, cpu_busy=None, rss=None, fds_open=None), True),
        (16, Signals(demand=True), True),  # nothing measurable (not Linux): demand alone
        # A machine busy with other work: this worker's domains only wait, its lag is low.
        (100, replace(ROOMY, cpu_busy=1.0, cpu_own=0.05), True),
    ],
)
def test_it_grows_with_headroom_and_demand(level: int, signals: Signals, grows: bool) -> None:
    step = decide(level, signals, floor=16, ceiling=1000)
    assert step.level > level and step.reason == "headroom"
    assert step.level <= max(level + 16, level * 1.25 + 1)  # additive-but-fast, not a jump


@pytest.mark.parametrize(
    "signals",
    [
        replace(ROOMY, demand=False),  # free slots: more would not be used
        replace(ROOMY, loop_lag=0.060),  # between "fine" and "too late"
        replace(ROOMY, cpu_busy=0.93),
        replace(ROOMY, cpu_busy=0.93, cpu_own=0.6),  # the worker's own work fills it
        replace(ROOMY, rss=8 * GiB, memory_available=3 * GiB),  # growth: +2 of 3 GiB left
        replace(ROOMY, fds_open=700, fds_limit=1024),  # past 70% after growing
    ],
    ids=["no demand", "lag", "cpu", "own cpu", "memory", "fds"],
)
def test_it_holds_without_demand_or_near_a_limit(signals: Signals) -> None:
    step = decide(100, signals, floor=16, ceiling=1000)
    assert step.level == 100


@pytest.mark.parametrize(
    ("signals", "reason"),
    [
        (replace(ROOMY, loop_lag=0.150), "event loop lag 150 ms"),
        (replace(ROOMY, cpu_busy=0.99), "CPU 99% busy"),
        (replace(ROOMY, cpu_busy=0.99, cpu_own=0.8), "CPU 99% busy"),
        (replace(ROOMY, memory_available=1 * GiB), "memory 6% available"),
        (replace(ROOMY, fds_open=950, fds_limit=1024), "file descriptors 93% used"),
        # Pressure wins over demand or its absence: an idle worker also comes down.
        (replace(ROOMY, demand=False, cpu_busy=0.99), "CPU 99% busy"),
    ],
)
def test_it_shrinks_on_pressure(signals: Signals, reason: str) -> None:
    step = decide(200, signals, floor=16, ceiling=1000)
    assert step.level == 140 and step.reason == reason  # x0.7


def test_it_stays_within_floor_and_ceiling() -> None:
    pressed = replace(ROOMY, loop_lag=1.0)
    assert decide(20, pressed, floor=16, ceiling=1000).level == 16
    assert decide(16, pressed, floor=16, ceiling=1000).level == 16
    assert decide(990, ROOMY, floor=16, ceiling=1000).level == 1000
    top = decide(1000, ROOMY, floor=16, ceiling=1000)
    assert top.level == 1000 and top.reason == "at the ceiling"
    assert decide(5000, ROOMY, floor=16, ceiling=1000).level == 1000  # a level out of range


def test_a_run_of_good_intervals_climbs_fast_and_pressure_brings_it_down() -> None:
    level = Concurrency(16, 1000)
    levels = [level.step(ROOMY).level for _ in range(12)]
    assert levels == sorted(levels) and levels[8] >= 200 and levels[-1] <= 1000
    after = [level.step(replace(ROOMY, cpu_busy=0.99)).level for _ in range(30)]
    assert after == sorted(after, reverse=True) and after[-1] == 16


def test_a_pinned_level_never_moves() -> None:
    pinned = Concurrency(16, 1000, pinned=8)
    assert (pinned.level, str(pinned)) == (8, "8 (pinned)")
    assert pinned.step(ROOMY).level == 8
    assert pinned.step(replace(ROOMY, loop_lag=1.0)).level == 8
    assert str(Concurrency(16, 1000)) == "adaptive 16..1000"


def test_only_a_change_of_2x_since_the_last_logged_level_is_notable() -> None:
    level = Concurrency(16, 1000)
    level.slow_start = False
    assert level.step(ROOMY).level == 32 and level.notable() == 16  # 16 -> 32
    assert level.step(ROOMY).level == 48 and level.notable() is None
    assert level.step(ROOMY).level == 64 and level.notable() == 32
    pressed = replace(ROOMY, loop_lag=1.0)
    assert level.step(pressed).level == 44 and level.notable() is None
    assert level.step(pressed).level == 30 and level.notable() == 64


def test_the_level_doubles_until_the_first_interval_that_does_not_grow() -> None:
    level = Concurrency(16, 1000)
    idle = replace(ROOMY, demand=False)
    assert level.step(idle).level == 16 and level.slow_start  # no demand: nothing learned
    assert [level.step(ROOMY).level for _ in range(4)] == [32, 64, 128, 256]
    assert level.step(replace(ROOMY, loop_lag=0.05)).level == 256  # held: slow start ends
    assert not level.slow_start
    assert level.step(ROOMY).level == 320  # +25% from here on


def test_a_busy_first_interval_does_not_end_the_slow_start() -> None:
    # The first interval's CPU is the start-up of the command's processes.
    level = Concurrency(16, 1000)
    busy = replace(ROOMY, cpu_busy=0.95, cpu_own=0.9)
    assert level.step(busy).level == 16 and level.slow_start
    assert [level.step(ROOMY).level for _ in range(3)] == [32, 64, 128]
    assert level.step(busy).level == 128 and not level.slow_start  # a later hold ends it


def test_settings_adaptive_by_default_and_connections_follow_the_bound() -> None:
    adaptive = Settings()
    assert adaptive.concurrency is None
    assert (adaptive.min_concurrency, adaptive.max_concurrency) == (16, 1000)
    assert adaptive.connection_limit() == 1000
    assert Settings(concurrency=200).connection_limit() == 200
    assert Settings(concurrency=200, http_connection_limit=50).connection_limit() == 50
    assert Settings(max_concurrency=300).connection_limit() == 300
    with pytest.raises(ValueError, match="min_concurrency"):
        Settings(min_concurrency=64, max_concurrency=32)
