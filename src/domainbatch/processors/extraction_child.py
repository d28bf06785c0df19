"""An extraction process: ``python -m domainbatch.processors.extraction_child [OPTIONS] [F]``.

``F`` (``module:function``, tests only) replaces the extractor.
Options: ``--fingerprints PATH`` and ``--fingerprints-mode extend|replace`` (the settings of
the same names): the database is loaded once, before ``ready``.

It reads pages from stdin and writes results to stdout, one at a time, until stdin closes
(its worker closed it, or died). A frame is a 4-byte big-endian length, then the payload:
a page is a pickle of ``(url, headers, body, region, infer_region)`` (from the worker that
started this process: trusted); a result is the JSON of ``[result, seconds]``, so that a process
subverted by a hostile page can hand its worker nothing but data. The first frame out,
``ready``, says the imports and the warm-up are done.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pickle
import signal
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, BinaryIO

import orjson

from domainbatch.extract import extract
from domainbatch.extract.fingerprint_table import FingerprintTable
from domainbatch.extract.wappalyzer import MODES, FingerprintsMode, load_table

READY = b"ready"
Page = tuple[str, list[tuple[str, str]], bytes, str, bool]
Extract = Callable[[str, list[tuple[str, str]], bytes, str, bool], tuple[dict[str, Any], float]]


def timed_extract(
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    region: str,
    infer_region: bool,
    fingerprints: FingerprintTable | None = None,
) -> tuple[dict[str, Any], float]:
    # Timed where it runs, so the figure excludes the wait for a free process.
    started = time.perf_counter()
    result = extract(
        url,
        headers,
        body,
        default_region=region,
        infer_region=infer_region,
        fingerprints=fingerprints,
    )
    return result, time.perf_counter() - started


def extractor(fingerprints: str | None, mode: FingerprintsMode = "extend") -> Extract:
    """``timed_extract`` with the user's fingerprint database (loaded here, once), if any."""
    if not fingerprints:
        return timed_extract
    return partial(timed_extract, fingerprints=load_table(fingerprints, mode))


def child_arguments(fingerprints: str | None, mode: FingerprintsMode) -> list[str]:
    """The command-line options that give a child the database (see ``main``)."""
    return ["--fingerprints", fingerprints, "--fingerprints-mode", mode] if fingerprints else []


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next frame's payload, or None at the end of the stream."""
    header = stream.read(4)
    if len(header) < 4:
        return None
    size = int.from_bytes(header, "big")
    payload = stream.read(size)
    return payload if len(payload) == size else None


def load_function(spec: str) -> Extract:
    module, _, name = spec.partition(":")
    function: Extract = getattr(importlib.import_module(module), name)
    return function


def serve(function: Extract, source: BinaryIO, sink: BinaryIO) -> None:
    # Compiles the extractors' patterns and loads phone metadata before the first page.
    function(
        "https://warm.up/", [("content-type", "text/html")], b"<p>+1 202 555 0100</p>", "US", True
    )
    sink.write(frame(READY))
    sink.flush()
    while (payload := read_frame(source)) is not None:
        page: Page = pickle.loads(payload)
        result, seconds = function(*page)
        sink.write(frame(orjson.dumps([result, seconds])))
        sink.flush()


def main() -> None:
    # The worker decides when to stop: Ctrl-C or a service manager's SIGTERM reaches the
    # whole process group, and dying of it would fail the page in hand. The worker finishes
    # its tasks, then closes stdin; a worker killed outright closes it too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Results go to the stdout we were given; anything else printing to stdout lands on
    # stderr instead of in the middle of a frame.
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(_function(sys.argv[1:]), sys.stdin.buffer, results)


def _function(argv: Sequence[str]) -> Extract:
    parser = argparse.ArgumentParser(prog="extraction_child")
    parser.add_argument("--fingerprints")
    parser.add_argument("--fingerprints-mode", choices=MODES, default="extend")
    parser.add_argument("function", nargs="?")
    args = parser.parse_args(argv)
    if args.function:
        return load_function(args.function)
    return extractor(args.fingerprints, args.fingerprints_mode)


if __name__ == "__main__":
    main()
