"""Extraction functions for ``Extraction`` tests, importable by name in its child processes."""

from __future__ import annotations

import os
import time
from typing import Any

from domainbatch.processors.extraction import timed_extract

CRASH = b"<!-- crash this process -->"


def crash_on_marker(
    url: str, headers: list[tuple[str, str]], body: bytes, region: str
) -> tuple[dict[str, Any], float]:
    """``timed_extract``, except that a page holding ``CRASH`` kills the process running it
    (as a crash in the HTML parser would). Every page takes a while, so that when one
    crashes, its neighbours are still in flight or queued."""
    time.sleep(0.05)
    if CRASH in body:
        os._exit(70)
    result, seconds = timed_extract(url, headers, body, region)
    result["pid"] = os.getpid()
    return result, seconds
