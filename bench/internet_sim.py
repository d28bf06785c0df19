"""The simulated internet's model: every host's behaviour, drawn from its name alone, and the
outcome a correct client must report for it (the ground truth).

Shared by the simulator's servers (bench/internet_dns.py, bench/internet_web.py) and the
bench (bench/internet.py), so every client meets the same internet and is scored against it.
A host is ``site<i>.test``; ``www.<host>`` behaves as its host (a redirect target). The
distributions are the issue's (16, item 5): DNS latency lognormal with a median of 20 ms, 8%
NXDOMAIN, 2% DNS timeouts, 1% SERVFAIL; time to first byte lognormal with a median of 250 ms
and a p99 of 5 s; 3% hang, 2% refuse, 5% fail TLS (then work over http), 40% redirect once,
5% bot walls (403/503), 10% trickle their body.

Every address is loopback: the addresses a name may resolve to are the three below, each
asserted loopback here, and the DNS server asserts it again before answering.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import random
from dataclasses import dataclass
from functools import lru_cache

ZONE = "test"
SERVING = "127.0.0.1"  # the web server (http and https)
REFUSING = "127.0.0.2"  # nothing listens: every connect is refused
TARPIT = "127.0.0.3"  # accepts and never answers: a hanging host
ADDRESSES = (SERVING, REFUSING, TARPIT)
assert all(ipaddress.ip_address(a).is_loopback for a in ADDRESSES)

# Ground-truth classes, named by the product's outcome codes.
SUCCEEDED = "succeeded"
SUCCEEDED_HTTP = "succeeded_over_http"  # https failed (TLS), plain http worked
CLASSES = (
    SUCCEEDED,
    SUCCEEDED_HTTP,
    "dns_nxdomain",
    "dns_error",
    "timeout",
    "connect_error",
    "http_status",
)

TTFB_MEDIAN = 0.25
TTFB_SIGMA = math.log(5.0 / TTFB_MEDIAN) / 2.326  # p99 = 5 s
DNS_MEDIAN = 0.020
DNS_SIGMA = 0.8  # p99 ~130 ms


@dataclass(frozen=True)
class Timing:
    """The clients' bounds the simulation is drawn against, and a scale for every latency (a
    smoke test runs the same internet ten times faster with ten times shorter timeouts)."""

    total_timeout: float = 15.0
    scale: float = 1.0

    @property
    def slow_after(self) -> float:
        """A host whose server-side time exceeds this is made a sure timeout (no ambiguity
        near the clients' bound): served after ``4 x total_timeout``."""
        return self.total_timeout * 2 / 3


@dataclass(frozen=True)
class Host:
    name: str
    dns: str  # ok | nxdomain | timeout | servfail
    dns_seconds: float
    address: str
    tls_fail: bool
    redirect: str  # "" | "www" | "path"
    wall: int  # 0, 403 or 503
    ttfb: float  # seconds before each response's first byte
    trickle: float  # seconds over which the body is sent; 0: at once
    page: int  # which page (modulo the number of pages)
    slow: bool  # its server-side time exceeds the clients' timeout: a sure timeout

    @property
    def expected(self) -> str:
        """The outcome a correct client reports (with the product's codes)."""
        if self.dns != "ok":
            return "dns_nxdomain" if self.dns == "nxdomain" else "dns_error"
        if self.address == REFUSING:  # refused before any first byte, however slow its draw
            return "connect_error"
        if self.address == TARPIT or self.slow:
            return "timeout"
        if self.wall:
            return "http_status"
        return SUCCEEDED_HTTP if self.tls_fail else SUCCEEDED


def host_names(n: int) -> list[str]:
    return [f"site{i}.{ZONE}" for i in range(n)]


def apex(name: str) -> str:
    """The simulated host a name belongs to (``www.<host>`` is its host)."""
    name = name.lower().rstrip(".")
    return name[4:] if name.startswith("www.") else name


@lru_cache(maxsize=65536)
def host(name: str, timing: Timing = Timing()) -> Host:
    """The host behind ``name``, drawn from a generator seeded by the name: the same on every
    run, in every process. Every draw is made whatever the earlier ones gave, so one property
    never shifts another."""
    name = apex(name)
    rng = random.Random(hashlib.sha256(name.encode()).digest())
    u_dns, g_dns = rng.random(), rng.gauss(0, 1)
    u_kind, u_tls, u_redirect, u_www, u_wall, u_403 = (rng.random() for _ in range(6))
    u_trickle, trickle_span, g_ttfb = rng.random(), rng.uniform(1.0, 4.0), rng.gauss(0, 1)
    page = rng.randrange(1 << 30)
    dns = (
        "nxdomain"
        if u_dns < 0.08
        else "timeout"
        if u_dns < 0.10
        else "servfail"
        if u_dns < 0.11
        else "ok"
    )
    address = TARPIT if u_kind < 0.03 else REFUSING if u_kind < 0.05 else SERVING
    redirect = ("www" if u_www < 0.5 else "path") if u_redirect < 0.40 else ""
    wall = (403 if u_403 < 0.5 else 503) if u_wall < 0.05 else 0
    trickle = trickle_span * timing.scale if u_trickle < 0.10 and not wall else 0.0
    ttfb = TTFB_MEDIAN * math.exp(TTFB_SIGMA * g_ttfb) * timing.scale
    server_time = ttfb * (2 if redirect else 1) + trickle
    slow = server_time > timing.slow_after
    return Host(
        name=name,
        dns=dns,
        dns_seconds=min(2.0, DNS_MEDIAN * math.exp(DNS_SIGMA * g_dns)) * timing.scale,
        address=address,
        tls_fail=u_tls < 0.05,
        redirect=redirect,
        wall=wall,
        ttfb=timing.total_timeout * 4 if slow else ttfb,
        trickle=trickle,
        page=page,
        slow=slow,
    )


def in_zone(name: str) -> bool:
    """Whether a redirect target's host is a simulated one (resolving to loopback only)."""
    labels = apex(name).split(".")
    return len(labels) == 2 and labels[1] == ZONE and labels[0].startswith("site")


def ground_truth(names: list[str], timing: Timing = Timing()) -> dict[str, str]:
    return {name: host(name, timing).expected for name in names}
