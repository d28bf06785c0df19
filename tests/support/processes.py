"""Child processes: the environment they get, ``domainbatch`` commands, starting and stopping
them (SIGTERM first, then SIGKILL, to the whole process group when the child leads one), and
their peak memory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def child_env(*, clean: bool = False, **extra: str) -> dict[str, str]:
    """This process's environment for a child, with the repository importable (``tests``,
    ``bench``: dotted-path test processors resolve). ``clean`` drops every ``DOMAINBATCH_*``
    first, so only what the caller sets aims the child (never a stray setting of the shell)."""
    env = {k: v for k, v in os.environ.items() if not (clean and k.startswith("DOMAINBATCH_"))}
    # Kept in order: under scripts/testenv.sh or pytest the loopback guard's folder comes first.
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*paths, str(REPO)]))
    env.update(extra)
    return env


def domainbatch_argv(*args: str) -> list[str]:
    """The ``domainbatch`` command as this interpreter runs it (no installed script needed)."""
    return [sys.executable, "-m", "domainbatch", *args]


def run_domainbatch(
    *args: str,
    env: dict[str, str],
    cwd: Path | str | None = None,
    timeout: float = 120,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``domainbatch ARGS`` to its end; its output captured as text."""
    return subprocess.run(
        domainbatch_argv(*args),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGTERM when its parent dies, even by SIGKILL (Linux), so
    a server started for a run never outlives it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _leads_group(proc: subprocess.Popen[Any]) -> bool:
    try:
        return os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        return False


def kill(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL the child, and its whole group when it leads one (``start_new_session``): the
    servers and workers it started go with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if _leads_group(proc):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    proc.wait()


def stop_all(procs: Sequence[subprocess.Popen[Any]], grace: float = 20) -> list[int]:
    """SIGTERM to every child at once (each shuts down gracefully and cleans up, side by side),
    then ``kill`` those still running ``grace`` seconds later. Returns their exit statuses."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill(proc)
    return [proc.returncode for proc in procs]


def stop(proc: subprocess.Popen[Any], grace: float = 20) -> int:
    """``stop_all`` for one child."""
    return stop_all([proc], grace)[0]


class Process:
    """A child whose output (stdout and stderr) goes to a log file; read it with ``output()``
    or ``tail()``. ``with Process(...) as child:`` stops it (``stop``) on the way out."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        log: Path,
        cwd: Path | str | None = None,
        new_group: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.env = env
        self.log = log
        self.cwd = cwd
        self.new_group = new_group
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        # The file, not a pipe: a pipe nobody reads while the caller waits fills up and blocks
        # the child.
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=self.new_group,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 20) -> int | None:
        return None if self.proc is None else stop(self.proc, grace)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def __enter__(self) -> Process:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def peak_rss_bytes(pid: int | str = "self") -> int:
    """The high-water mark of a live process's resident memory (Linux ``VmHWM``: its own pages,
    unlike ``ru_maxrss``, which also counts a parent's pages at fork); 0 where /proc lacks it."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
