"""Prometheus text exposition (format 0.0.4), written by hand: a few gauges, counters and one
histogram do not justify a dependency and its process-global registry."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Per-domain processing seconds: a DNS lookup is milliseconds, a slow homepage tens of seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * len(self.buckets)
        self.sum = 0.0
        self.count = 0
        self.max = 0.0

    def observe(self, value: float) -> None:
        self.sum += value
        self.count += 1
        self.max = max(self.max, value)
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
                break

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile, interpolated inside its bucket as Prometheus'
        ``histogram_quantile`` does, and never above the largest value seen; None before any
        observation."""
        if not self.count:
            return None
        rank = q * self.count
        running, lower = 0, 0.0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            if count and running + count >= rank:
                share = (rank - running) / count
                return min(lower + (bound - lower) * share, self.max)
            running, lower = running + count, bound
        return self.max

    def __str__(self) -> str:
        if not self.count:
            return "none"
        figures = (("p50", self.quantile(0.5)), ("p95", self.quantile(0.95)), ("max", self.max))
        return ", ".join(f"{name} {_duration(value or 0.0)}" for name, value in figures)


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.3g}ms" if seconds < 1 else f"{seconds:.3g}s"


@dataclass
class Family:
    name: str
    kind: str  # gauge, counter or histogram
    help: str
    samples: list[tuple[str, Mapping[str, str], float]] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> Family:
        self.samples.append((suffix, labels, value))
        return self


def histogram_family(name: str, help_text: str, histogram: Histogram) -> Family:
    family = Family(name, "histogram", help_text)
    running = 0
    for bound, count in zip(histogram.buckets, histogram.counts, strict=True):
        running += count
        family.add(running, "_bucket", le=_number(bound))
    family.add(histogram.count, "_bucket", le="+Inf")
    family.add(histogram.sum, "_sum")
    return family.add(histogram.count, "_count")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else f"{value:.1f}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for suffix, labels, value in family.samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            braces = f"{{{label_text}}}" if label_text else ""
            lines.append(f"{family.name}{suffix}{braces} {_number(value)}")
    return "\n".join(lines) + "\n"
