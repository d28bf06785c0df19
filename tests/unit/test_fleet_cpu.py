"""The adaptive level's "own CPU" is the whole command's: the process tree under the first
worker process, grandchildren included, so each of `worker -P N`'s processes sees all N
processes' work as its own (measured per process, each saw about 1/N of it, under the
threshold of half the machine's busy time at N >= 3)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domainbatch.cli.worker_processes import WorkerProcesses
from domainbatch.engine.headroom import _process_ticks, _tree_ticks
from domainbatch.settings import Settings

# A child that starts a grandchild spinning on a core and waits for it.
SPAWNER = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while True: pass'])"


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux /proc only")
def test_a_tree_counts_the_cpu_of_grandchildren() -> None:
    child = subprocess.Popen([sys.executable, "-c", SPAWNER])
    root = str(os.getpid())  # the child is a child, the spinner a grandchild
    try:
        time.sleep(0.2)  # the grandchild started

        def direct() -> int:
            return _process_ticks(root) + _process_ticks(str(child.pid))

        began_tree, began_direct = _tree_ticks(root), direct()
        time.sleep(0.6)
        tree = _tree_ticks(root) - began_tree
        alone = direct() - began_direct
    finally:
        children = Path(f"/proc/{child.pid}/task/{child.pid}/children").read_text().split()
        for line in children:
            os.kill(int(line), 9)
        child.wait(5)
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    # The spinning grandchild had most of a core for 0.6 s; this process and the waiting
    # child almost none.
    assert alone < 0.1 * ticks_per_second
    assert tree - alone > 0.3 * ticks_per_second


def test_the_other_worker_processes_are_told_the_first_ones_pid() -> None:
    fleet = WorkerProcesses(Settings(), 2, burst=False, batch_ids=[], log_level="info")
    at = fleet.argv.index("--fleet-root")
    assert fleet.argv[at + 1] == str(os.getpid())
