"""The harness's loopback-only guard (``tests/loopback``) holds in this process, in the
processes tests start, and fails a run that tried to leave loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import loopback_guard
import pytest

from tests.conftest import REPO

OFF_LOOPBACK = [("10.1.2.3", 80), ("169.254.169.254", 80), ("2001:db8::1", 443)]


def test_this_process_may_connect_only_to_loopback() -> None:
    assert loopback_guard.installed()
    with loopback_guard.expecting():
        for host, port in OFF_LOOPBACK:
            with pytest.raises(ConnectionRefusedError, match="loopback-only test harness"):
                socket.create_connection((host, port), timeout=1)

        async def probe() -> None:  # the path aiohttp and asyncpg-style clients take
            await asyncio.open_connection("169.254.169.254", 80)

        with pytest.raises(ConnectionRefusedError, match="loopback-only test harness"):
            asyncio.run(probe())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:  # DNS queries
            with pytest.raises(ConnectionRefusedError):
                udp.sendto(b"\0" * 12, ("10.1.2.3", 53))
            assert udp.connect_ex(("169.254.169.254", 53)) != 0
    with socket.socket() as server:  # loopback itself is untouched
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=1).close()


def test_processes_the_tests_start_are_guarded_and_recorded(tmp_path: Path) -> None:
    log = tmp_path / "loopback.log"
    env = {**os.environ, loopback_guard.LOG_VARIABLE: str(log)}
    code = "import socket; socket.create_connection(('169.254.169.254', 80), timeout=1)"
    child = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert child.returncode != 0 and "loopback-only test harness" in child.stderr
    assert loopback_guard.violations(str(log)) == [
        f"VIOLATION pid={_pid(log)} to=('169.254.169.254', 80)"
    ]


def test_a_run_that_left_loopback_fails(tmp_path: Path) -> None:
    """A test that swallows the refusal still fails its run (nothing goes unnoticed)."""
    probe = tmp_path / "test_sneaky.py"
    probe.write_text(
        "import socket\n"
        "def test_swallows_the_error():\n"
        "    try:\n"
        "        socket.create_connection(('10.1.2.3', 80), timeout=1)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    env = {**os.environ, loopback_guard.LOG_VARIABLE: str(tmp_path / "loopback.log")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", str(probe)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "connections off loopback were attempted" in run.stderr
    assert "('10.1.2.3', 80)" in run.stderr


def _pid(log: Path) -> str:
    return log.read_text().split("pid=", 1)[1].split()[0]
