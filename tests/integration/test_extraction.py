"""Extraction off the event loop (``processors/extraction.py``): in real child processes by
default, in a thread with ``extract_processes=0``; a page that kills its process costs
nobody else."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from domainbatch.extract import extract
from domainbatch.processors.extraction import Extraction, default_processes
from domainbatch.settings import Settings
from tests.support.extractors import CRASH

CRASHING = "tests.support.extractors:crash_on_marker"

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"
HEADERS = [("content-type", "text/html; charset=utf-8")]


def fixture_pages() -> list[tuple[str, bytes]]:
    pages = sorted(PAGES.glob("*.html"))[:12]
    assert len(pages) >= 5
    return [(f"https://{page.stem}.example/", page.read_bytes()) for page in pages]


def live_children() -> set[int]:
    """The extraction processes among our children."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "extraction_child" in " ".join(child.cmdline()):
                found.add(child.pid)
    return found


@pytest.mark.parametrize("processes", [2, 0])
async def test_results_match_extract_in_this_process(processes: int) -> None:
    extraction = Extraction(processes, CRASHING)
    try:
        pages = fixture_pages()
        answers = await asyncio.gather(
            *(extraction.run(url, HEADERS, body, "US") for url, body in pages)
        )
    finally:
        await extraction.close()
    pids = {result.pop("pid") for result, _ in answers}
    for (url, body), (result, seconds) in zip(pages, answers, strict=True):
        assert result == extract(url, HEADERS, body, default_region="US")
        assert seconds > 0
    if processes:
        assert os.getpid() not in pids and 1 <= len(pids) <= processes
    else:
        assert pids == {os.getpid()}


async def test_a_page_that_kills_its_process_costs_only_itself() -> None:
    extraction = Extraction(2, CRASHING)
    try:
        good = fixture_pages()
        crash = extraction.run("https://crash.example/", HEADERS, b"<p>" + CRASH, "US")
        answers = await asyncio.gather(
            crash, *(extraction.run(url, HEADERS, body, "US") for url, body in good)
        )
        crashed, _ = answers[0]
        assert crashed["title"] is None and crashed["emails"] == []
        assert len(crashed["errors"]) == 1
        assert crashed["errors"][0].startswith("parse: the extraction process died")
        assert "exit code 70" in crashed["errors"][0]
        # Its neighbours, in flight in the other process, never noticed.
        for (url, body), (result, _) in zip(good, answers[1:], strict=True):
            assert not any("process died" in error for error in result["errors"]), url
            result.pop("pid")
            assert result == extract(url, HEADERS, body, default_region="US")
        # Still in processes afterwards (a crash is not a reason to give them up).
        after, _ = await extraction.run(
            "https://after.example/", HEADERS, b"<title>t</title>", "US"
        )
        assert after["title"] == "t" and after["pid"] != os.getpid()
        assert extraction.processes == 2
    finally:
        await extraction.close()


async def test_close_ends_the_processes() -> None:
    before = live_children()
    extraction = Extraction(2, CRASHING)
    await asyncio.gather(
        *(extraction.run(url, HEADERS, body, "US") for url, body in fixture_pages())
    )
    started = live_children() - before
    assert started
    await extraction.close()
    for pid in started:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=10)
    assert not (live_children() & started)


def test_default_is_one_process_per_usable_core() -> None:
    assert Settings().extract_processes is None
    assert default_processes() == min(4, len(os.sched_getaffinity(0)))
    assert Settings(extract_processes=0).extract_processes == 0
    with pytest.raises(ValueError):
        Settings(extract_processes=-1)


async def test_processes_start_only_as_the_load_needs_them() -> None:
    before = live_children()
    extraction = Extraction(4, CRASHING)
    try:
        # Pages one at a time, as slow sites finish: one process does them all.
        for url, body in fixture_pages():
            await extraction.run(url, HEADERS, body, "US")
        assert len(live_children() - before) == 1
        # Many pages at once: as many processes as allowed, no more.
        pages = fixture_pages() * 3
        await asyncio.gather(*(extraction.run(url, HEADERS, body, "US") for url, body in pages))
        assert len(live_children() - before) == 4
    finally:
        await extraction.close()


async def test_a_cancelled_page_ends_its_process_and_never_answers_another() -> None:
    extraction = Extraction(1, CRASHING)
    try:
        warm, _ = await extraction.run("https://warm.example/", HEADERS, b"<title>w", "US")
        first_pid = warm["pid"]
        slow = asyncio.ensure_future(
            extraction.run("https://slow.example/", HEADERS, b"<title>slow", "US")
        )
        await asyncio.sleep(0.01)  # in the child's hands (each page takes 50 ms)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        after, _ = await extraction.run("https://next.example/", HEADERS, b"<title>next", "US")
        assert after["title"] == "next"  # not the cancelled page's late answer
        assert after["pid"] != first_pid
        assert not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == "zombie"
    finally:
        await extraction.close()


async def test_where_processes_cannot_start_extraction_runs_in_a_thread(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    extraction = Extraction(2, CRASHING)
    try:
        url, body = fixture_pages()[0]
        result, _ = await extraction.run(url, HEADERS, body, "US")
    finally:
        await extraction.close()
    assert result.pop("pid") == os.getpid()
    assert result == extract(url, HEADERS, body, default_region="US")
    assert extraction.processes == 0
    assert "extraction processes cannot start" in caplog.text


async def test_a_page_whose_process_died_once_is_tried_again(tmp_path: Path) -> None:
    note = tmp_path / "crashed"
    body = b"<title>second time lucky</title><!-- crash once, noted in " + bytes(note) + b" -->"
    extraction = Extraction(1, CRASHING)
    try:
        result, _ = await extraction.run("https://once.example/", HEADERS, body, "US")
    finally:
        await extraction.close()
    assert note.read_text() == "crashed"
    assert result["title"] == "second time lucky" and result["errors"] == []


KILLED_WORKER = """
import asyncio, os, signal, psutil
from domainbatch.processors.extraction import Extraction

async def main():
    extraction = Extraction(2)
    pages = [extraction.run("https://a.example/", [], b"<title>a", "US") for _ in range(4)]
    await asyncio.gather(*pages)
    print(" ".join(str(child.pid) for child in psutil.Process().children()), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    """Running (an exited orphan may stay a zombie until its new parent reaps it)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_processes_of_a_killed_worker_exit() -> None:
    # No `if __name__ == "__main__":` guard either: children never import the main module.
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL
    pids = [int(pid) for pid in proc.stdout.split()]
    assert pids
    for pid in pids:
        # Not our children (their parent died): poll until they are gone.
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), f"extraction process {pid} outlived its worker"


async def test_pages_waiting_for_a_process_that_cannot_start_go_to_the_thread() -> None:
    extraction = Extraction(2, "tests.support.extractors:dies_in_a_child")
    try:
        pages = fixture_pages()
        async with asyncio.timeout(30):
            answers = await asyncio.gather(
                *(extraction.run(url, HEADERS, body, "US") for url, body in pages)
            )
    finally:
        await extraction.close()
    assert [result["pid"] for result, _ in answers] == [os.getpid()] * len(pages)
    assert extraction.processes == 0
