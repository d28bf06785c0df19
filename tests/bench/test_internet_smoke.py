"""The internet-like bench (``python -m bench internet``) at a tiny size: the simulation draws
the issue's distributions, deterministically, on loopback only; its servers serve what the
ground truth says (the product, the bare loop and Scrapy all report it: accuracy 100%); and
the scoring catches a client that reports anything else."""

from __future__ import annotations

import ipaddress
from collections import Counter

import pytest

try:  # the peers the benchmarks compare with: scripts/test.sh installs the bench extra
    import scrapy  # noqa: F401
except ImportError as missing:
    pytest.fail(f'{missing}: install the bench extra (pip install -e ".[bench]")', pytrace=False)

from bench.internet_clients import Run
from bench.internet_sim import Timing, ground_truth, host, host_names

from bench import internet, internet_sim

pytestmark = pytest.mark.slow

# Scaled down five times: a run takes seconds; 100 hosts meet every outcome class.
SMOKE = Timing(total_timeout=3.0, scale=0.2)
HOSTS = 100


def test_the_simulation_draws_the_issues_distributions() -> None:
    names = host_names(5000)
    hosts = [host(n) for n in names]
    share = lambda pred: sum(map(pred, hosts)) / len(hosts)  # noqa: E731
    assert 0.07 < share(lambda h: h.dns == "nxdomain") < 0.09
    assert 0.015 < share(lambda h: h.dns == "timeout") < 0.025
    assert 0.005 < share(lambda h: h.dns == "servfail") < 0.015
    assert 0.025 < share(lambda h: h.address == internet_sim.TARPIT) < 0.035
    assert 0.015 < share(lambda h: h.address == internet_sim.REFUSING) < 0.025
    assert 0.04 < share(lambda h: h.tls_fail) < 0.06
    assert 0.38 < share(lambda h: h.redirect != "") < 0.42
    assert 0.04 < share(lambda h: h.wall != 0) < 0.06
    assert 0.08 < share(lambda h: h.trickle > 0) < 0.11
    ttfb = sorted(h.ttfb for h in hosts if not h.slow)
    assert 0.22 < ttfb[len(ttfb) // 2] < 0.28  # median ~250 ms
    dns = sorted(h.dns_seconds for h in hosts)
    assert 0.017 < dns[len(dns) // 2] < 0.023  # median ~20 ms
    assert all(ipaddress.ip_address(h.address).is_loopback for h in hosts)
    # Seeded by the name alone: another process, another order, the same host.
    host.cache_clear()
    assert [host(n) for n in reversed(names)][::-1] == hosts
    assert host("www.site7.test") == host("site7.test")
    assert set(Counter(ground_truth(host_names(HOSTS), SMOKE).values())) == set(
        internet_sim.CLASSES
    )


def test_a_refusing_host_is_refused_however_slow_its_draw() -> None:
    """A refused connect comes before any first byte: the 5,000-host run's two refusing hosts
    drawn slow were reported connect_error by every client while the truth said timeout."""
    slow_refusers = [h for h in map(host, host_names(5000)) if h.slow and h.dns == "ok"]
    slow_refusers = [h for h in slow_refusers if h.address == internet_sim.REFUSING]
    assert [h.name for h in slow_refusers] == ["site2607.test", "site4142.test"]
    assert {h.expected for h in slow_refusers} == {"connect_error"}


def test_redirects_stay_in_the_simulation() -> None:
    assert internet_sim.in_zone("www.site12.test") and internet_sim.in_zone("site3.test")
    assert not internet_sim.in_zone("example.com")
    assert not internet_sim.in_zone("site1.test.example.com")


def test_scoring_catches_a_wrong_outcome() -> None:
    truth = {"a.test": "succeeded", "b.test": "dns_nxdomain", "c.test": "timeout"}
    right = Run(1.0, 0.1, 1, {d: (o, 0.5) for d, o in truth.items()})
    assert internet.score(truth, right) == (1.0, Counter())
    wrong = Run(1.0, 0.1, 1, {"a.test": ("succeeded", 0.5), "b.test": ("dns_error", 0.5)})
    accuracy, mismatches = internet.score(truth, wrong)
    assert accuracy == pytest.approx(1 / 3)
    assert mismatches == Counter({("dns_nxdomain", "dns_error"): 1, ("timeout", "missing"): 1})


def test_every_client_reports_the_ground_truth() -> None:
    part = internet.run(
        hosts=HOSTS, clients_=("default", "scrapy-tuned", "bare"), timing=SMOKE, log=print
    )
    assert len(part.rows) == 3, part.rows
    accuracy = {row[0]: row[-1] for row in part.rows}
    assert all(value == 100.0 for value in accuracy.values()), (accuracy, part.notes)
    # Accuracy holds at any scale; the throughput bars are for the full run on a quiet machine.
    assert all(t.met for t in part.targets if "accuracy" in t.name), part.targets
    assert any("bare loop" in t.name for t in part.targets), part.targets
    for row in part.rows:
        domains_per_s, first90, t50, t90, t100, cpu_ms = (row[i] for i in (1, 2, 3, 4, 6, 8))
        assert domains_per_s > 0 and 0 < t50 <= t90 <= t100 and cpu_ms > 0, row
        assert first90 >= domains_per_s * 0.9, row
