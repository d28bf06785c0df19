"""Every core: ``worker`` and ``run`` with ``--processes N`` run one worker in their own process
and N-1 ``domainbatch worker --processes 1`` children beside it, each its own claimer on the
shared queue. One event loop saturates a core at about 500 domains in flight (claims, DNS, TLS,
HTTP, acks), so one process caps a machine at one core's throughput; processes, not threads,
because the loop's work holds the GIL.

The children get this process's resolved settings in their environment (flags included, the
database URL too: never on a command line, where ``ps`` shows it to every user), log to the same
stderr (each worker line names its worker id, pid included), and run in a process group of their
own: a terminal's Ctrl-C reaches the parent alone, which forwards it once, so a child sees one
signal per keypress as a single worker does. On Linux a child gets SIGTERM when the parent dies,
even by SIGKILL (``PR_SET_PDEATHSIG``), and stops gracefully.

A child that dies while the parent runs is logged as an error and not restarted: a crash that
repeats (a bad setting, the OOM killer) would loop, and restarting is a supervisor's job; the
domains it held return to the queue when their lease ends, and the other processes go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from domainbatch.settings import Settings

log = logging.getLogger("domainbatch.worker")

ENV_PREFIX = "DOMAINBATCH_"
# Beyond the grace period: a child's last ack flush, webhook hand-off and interpreter exit.
EXIT_MARGIN_SECONDS = 10.0
PR_SET_PDEATHSIG = 1
# How a child we signalled may end: its graceful exits (SIGTERM 0, SIGINT 130), killed by the
# signal before its handler was installed, or by our SIGKILL after the grace period.
SIGNALLED_EXITS = frozenset({0, 130, -signal.SIGTERM, -signal.SIGINT, -signal.SIGKILL})


def split_settings(settings: Settings) -> Settings:
    """``settings`` with ``worker_processes`` resolved and, for several processes with
    ``extract_processes`` unset, the extraction processes split between them (about one per
    core in all; at most the four one worker's fetching keeps busy)."""
    from domainbatch.processors.extraction import MAX_DEFAULT_PROCESSES
    from domainbatch.settings import usable_cores

    count = settings.worker_process_count()
    resolved = settings.with_overrides(worker_processes=count)
    if count == 1 or settings.extract_processes is not None:
        return resolved
    share = min(MAX_DEFAULT_PROCESSES, max(1, usable_cores() // count))
    return resolved.with_overrides(extract_processes=share)


def _encode(value: Any) -> str | None:
    """A setting's value as its environment variable reads back (lists as CSV, mappings as
    JSON, as ``Settings`` parses them); None: unset."""
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def settings_environment(settings: Settings, base: dict[str, str]) -> dict[str, str]:
    """``base`` (an environment) with every setting replaced by ``settings``' value: a child
    built from it reads the same settings, whatever flags made them."""
    names = {f"{ENV_PREFIX}{name}".upper(): name for name in type(settings).model_fields}
    env = {k: v for k, v in base.items() if k.upper() not in names}
    for variable, name in names.items():
        value = _encode(getattr(settings, name))
        if value is not None:
            env[variable] = value
    return env


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when this process dies; None where
    there is no ``prctl``. Resolved here, before the fork: the child only calls it."""
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl: no signal would come
            os._exit(1)

    return preexec


class Child:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.signalled = False

    def send(self, sig: int) -> None:
        self.signalled = True
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)


class WorkerProcesses:
    """The children of one command: ``start()``, ``forward(sig)`` the signals it receives,
    ``finish()`` when its own worker has ended; ``failed`` when a child ended unexpectedly."""

    def __init__(
        self,
        settings: Settings,
        children: int,
        *,
        burst: bool,
        batch_ids: Sequence[str],
        log_level: str,
    ) -> None:
        self.settings = settings
        self.children = children
        self.argv = [sys.executable, "-m", "domainbatch", "worker", "--processes", "1"]
        self.argv += ["--fleet-root", str(os.getpid())]
        self.argv += ["--burst"] if burst else []
        self.argv += [arg for batch_id in batch_ids for arg in ("--batch", batch_id)]
        child_settings = settings.with_overrides(worker_processes=1, log_level=log_level)
        self.env = settings_environment(child_settings, dict(os.environ))
        self.failed = False
        self._children: list[Child] = []
        self._watchers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        preexec = _die_with_parent()
        for _ in range(self.children):
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                process_group=0,
                preexec_fn=preexec,
            )
            child = Child(proc)
            self._children.append(child)
            self._watchers.append(asyncio.create_task(self._watch(child)))
        pids = ", ".join(str(child.proc.pid) for child in self._children)
        log.info("started %d more worker processes (pids %s)", self.children, pids)

    def forward(self, sig: int) -> None:
        for child in self._children:
            if child.proc.returncode is None:
                child.send(sig)

    async def finish(self) -> None:
        """Stop the children still running (SIGTERM, unless already signalled) and wait for
        them: the grace period and a margin, then SIGKILL."""
        for child in self._children:
            if child.proc.returncode is None and not child.signalled:
                child.send(signal.SIGTERM)
        if not self._watchers:
            return
        timeout = self.settings.shutdown_grace_seconds + EXIT_MARGIN_SECONDS
        _, late = await asyncio.wait(self._watchers, timeout=timeout)
        if late:
            log.warning("%d worker processes still running after %gs: killed", len(late), timeout)
            self.kill()
        await asyncio.gather(*self._watchers)

    def kill(self) -> None:
        for child in self._children:
            if child.proc.returncode is None:
                child.send(signal.SIGKILL)

    async def _watch(self, child: Child) -> None:
        code = await child.proc.wait()
        if code in (SIGNALLED_EXITS if child.signalled else {0}):
            return
        self.failed = True
        log.error(
            "worker process %d exited with code %d; not restarted (the domains it held return "
            "to the queue when their lease ends)",
            child.proc.pid,
            code,
        )


@asynccontextmanager
async def worker_processes(
    settings: Settings,
    count: int,
    *,
    burst: bool,
    batch_ids: Sequence[str],
    log_level: str,
) -> AsyncIterator[WorkerProcesses]:
    """``count - 1`` children started on entry, finished on exit, even an error's; killed if
    starting or finishing fails."""
    fleet = WorkerProcesses(
        settings, count - 1, burst=burst, batch_ids=batch_ids, log_level=log_level
    )
    try:
        if count > 1:
            await fleet.start()
        try:
            yield fleet
        finally:
            await fleet.finish()
    except BaseException:
        fleet.kill()
        raise
