"""Extraction functions for ``Extraction`` tests, loaded by name in its child processes
(``Extraction(n, "tests.support.extractors:crash_on_marker")``)."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from domainbatch.processors.extraction_child import timed_extract

CRASH = b"<!-- crash this process -->"
CRASH_ONCE = re.compile(rb"<!-- crash once, noted in (\S+) -->")


def crash_on_marker(
    url: str, headers: list[tuple[str, str]], body: bytes, region: str, infer_region: bool
) -> tuple[dict[str, Any], float]:
    """``timed_extract``, except that a page holding ``CRASH`` kills the process running it
    (as a crash in the HTML parser would). Every page takes a while, so that when one
    crashes, its neighbours are still in flight or queued."""
    time.sleep(0.05)
    if CRASH in body:
        os._exit(70)
    once = CRASH_ONCE.search(body)
    if once and not os.path.exists(once.group(1)):
        Path(os.fsdecode(once.group(1))).write_text("crashed")
        os._exit(71)
    result, seconds = timed_extract(url, headers, body, region, infer_region)
    result["pid"] = os.getpid()
    return result, seconds


def dies_in_a_child(
    url: str, headers: list[tuple[str, str]], body: bytes, region: str, infer_region: bool
) -> tuple[dict[str, Any], float]:
    """``crash_on_marker`` in the worker's own thread; in an extraction process it dies at
    once (before saying ready), as a process that cannot start would, after a moment."""
    if sys.argv[0].endswith("extraction_child.py"):
        time.sleep(0.2)
        os._exit(3)
    return crash_on_marker(url, headers, body, region, infer_region)
