"""What the validation scripts share: arguments, logging, steps and checks, metrics, cleanup,
the database runtime, the local test web, and the progress rules every observation must obey.

Every script is ``main(NAME, __doc__, body)``: ``body(script)`` runs the checks; a failed
check raises ``CheckFailed``; whatever the outcome, ``script.cleanup`` then removes what the
script created (its batches, and the SQLite file if the script was the one that created it).
Exit status: 0 passed, 1 failed (a check, an error, or the cleanup), 130 interrupted.

Machine-readable lines (parsed by ``run_all.py`` into the report):
``METRIC name=value [unit]`` (a performance figure), ``FACT name=value`` (environment),
``RECOVERY name=seconds detail`` (how long a recovery from a crash or an outage took),
``COMPLIANCE name=count connections=N`` (session state found on the server connections
inspected: 0 is compliant with a transaction-mode pooler) and ``SOAK minute=M rss_mb=R``
(a long run's memory, one line a minute). Every WARNING and ERROR line is collected too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parents[2]
# The shared harness (tests.support), the local test web (tests.testweb) and the test
# processors live in the checkout's tests package; the scripts run from a checkout, so make it
# importable wherever they start from. Scripts import this module first, then tests.support.
if str(REPO) not in sys.path:
    sys.path.insert(1, str(REPO))

from pydantic import ValidationError  # noqa: E402
from sqlalchemy import text  # noqa: E402
from tests.support.processes import peak_rss_bytes  # noqa: E402

from domainbatch.core.models import BatchReport  # noqa: E402
from domainbatch.core.status import TERMINAL_DOMAIN, BatchStatus, DomainStatus  # noqa: E402
from domainbatch.errors import DomainbatchError, NotFoundError  # noqa: E402
from domainbatch.runtime import Runtime, open_runtime  # noqa: E402
from domainbatch.service import describe_database as database_facts  # noqa: E402
from domainbatch.settings import Settings  # noqa: E402

log = logging.getLogger("validate")

LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
LOG_DATE = "%Y-%m-%dT%H:%M:%S"


class CheckFailed(Exception):
    """A success criterion of the script does not hold."""


def check(condition: bool, what: str, detail: str = "") -> None:
    """``what`` must hold; the failure message says what was expected and, in ``detail``, got."""
    if not condition:
        raise CheckFailed(f"{what}: {detail}" if detail else what)
    log.debug("ok: %s", what)


def check_equal(actual: Any, expected: Any, what: str) -> None:
    check(actual == expected, what, f"expected {expected!r}, got {actual!r}")


# Steps, metrics and facts ---------------------------------------------------------------------
_current_step: list[str] = []


@contextlib.contextmanager
def step(title: str) -> Iterator[None]:
    """A named step: logged when it starts and when it passes; a failure names it."""
    log.info("STEP %s", title)
    _current_step.append(title)
    started = time.perf_counter()
    yield
    _current_step.pop()
    log.info("ok   %s (%.2f s)", title, time.perf_counter() - started)


def metric(name: str, value: float, unit: str = "") -> None:
    rounded = round(value, 3) if isinstance(value, float) else value
    log.info("METRIC %s=%s%s", name, rounded, f" {unit}" if unit else "")


def fact(name: str, value: object) -> None:
    log.info("FACT %s=%s", name, value)


def recovery(name: str, seconds: float, detail: str) -> None:
    """How long recovering from ``name`` (a crash, an outage) took, and what it involved."""
    log.info("RECOVERY %s=%.2f s %s", name, seconds, " ".join(detail.split()))


def compliance(name: str, count: int, connections: int) -> None:
    """``count`` of ``name`` (prepared statements, LISTEN channels...) found over
    ``connections`` server connections."""
    log.info("COMPLIANCE %s=%d connections=%d", name.replace(" ", "_"), count, connections)


def soak_sample(minute: float, rss_mb: float) -> None:
    log.info("SOAK minute=%.2f rss_mb=%.1f", minute, rss_mb)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_metrics(prefix: str, seconds: Sequence[float]) -> None:
    if not seconds:
        return
    metric(f"{prefix}_p50", percentile(seconds, 50) * 1000, "ms")
    metric(f"{prefix}_p95", percentile(seconds, 95) * 1000, "ms")
    metric(f"{prefix}_max", max(seconds) * 1000, "ms")


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident memory of this process, or of a live child; None where /proc lacks it."""
    peak = peak_rss_bytes(pid)
    return peak / 2**20 if peak else None


class ErrorLog(logging.Handler):
    """Collects ERROR records of the library (e.g. the worker's "processor failed") so a
    script can assert that background processing ran without errors."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")

    @contextlib.contextmanager
    def watching(self, logger: str = "domainbatch") -> Iterator[ErrorLog]:
        target = logging.getLogger(logger)
        target.addHandler(self)
        try:
            yield self
        finally:
            target.removeHandler(self)


# Settings and the database --------------------------------------------------------------------
def load_settings(**overrides: Any) -> Settings:
    """``DOMAINBATCH_*`` from the environment, like every domainbatch command."""
    try:
        return Settings().with_overrides(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise CheckFailed(f"invalid setting {where}: {first['msg']}") from None


def describe_database(settings: Settings) -> str:
    return str(database_facts(settings)["database_url"])


async def require_schema(rt: Runtime) -> str | None:
    current, head = await rt.system().schema()
    have = "no domainbatch schema" if current is None else f"revision {current}"
    check(
        current == head,
        "database schema",
        f"the database has {have}, this domainbatch needs revision {head}: "
        "run `domainbatch db upgrade`",
    )
    return current


@contextlib.asynccontextmanager
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The library's runtime on the configured database (SQLite migrates itself, as the CLI
    does; Postgres must already be at the newest revision)."""
    async with open_runtime(settings) as rt:
        await require_schema(rt)
        # What this process runs with, known once its engine has connected (POOLER_MODE=auto
        # decides then; the schema read above goes through Alembic's own engine): the
        # report's environment takes it from here when test_db_connection did not run.
        async with rt.db.connect() as conn:
            await conn.scalar(text("SELECT 1"))
        fact("pooler_mode", rt.db.pooler_mode)
        yield rt


async def domain_rows(rt: Runtime, batch_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by status and failures by code, counted from the domain rows themselves: the
    independent truth the status read (sharded counters) must agree with."""
    return await rt.system().recount(batch_id)


def nonzero(counts: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def report_of(data: Mapping[str, Any]) -> BatchReport:
    """A status read over HTTP (or the CLI's JSON) as the service's model: a field missing or
    added is a ``TypeError`` here, so the JSON and the model cannot drift apart."""
    return BatchReport(**{**data, "status": BatchStatus(data["status"])})


def check_progress(status: BatchReport, where: str) -> None:
    """The rules every status observation obeys, whatever the moment it was taken."""
    counts = status.counts
    total = status.total
    done = sum(counts.get(s, 0) for s in TERMINAL_DOMAIN)
    check_equal(sum(counts.values()), total, f"{where}: domains by status add up to the total")
    check_equal(status.done, done, f"{where}: done counts the terminal domains")
    expected = 100.0 if total == 0 else math.floor(done * 10_000 / total) / 100
    check_equal(status.progress, expected, f"{where}: progress is done/total rounded down")
    check_equal(
        sum(status.errors.values()),
        counts.get(DomainStatus.FAILED, 0),
        f"{where}: errors by code count the failed domains",
    )
    final = status.status not in (BatchStatus.PENDING, BatchStatus.PROCESSING)
    if final:
        open_now = counts.get(DomainStatus.PENDING, 0) + counts.get(DomainStatus.PROCESSING, 0)
        check_equal(open_now, 0, f"{where}: an ended batch has no open domain")
        check(status.finished_at is not None, f"{where}: an ended batch has finished_at")
    if status.status == BatchStatus.PENDING:
        check_equal(counts.get(DomainStatus.PROCESSING, 0), 0, f"{where}: nothing in flight")


# Cleanup ---------------------------------------------------------------------------------------
@dataclass
class Cleanup:
    """What a script created, removed at the end whether the script passed or not."""

    settings: Settings
    batch_ids: list[str] = field(default_factory=list)
    actions: list[tuple[str, Callable[[], Awaitable[None]]]] = field(default_factory=list)
    sqlite_files: list[Path] = field(default_factory=list)

    def batch(self, batch_id: str) -> str:
        """Track a batch for deletion; returns the id (track it as soon as it is known)."""
        self.batch_ids.append(batch_id)
        return batch_id

    def add(self, what: str, action: Callable[[], Awaitable[None]]) -> None:
        self.actions.append((what, action))

    def note_sqlite_file(self) -> None:
        """If the SQLite file does not exist yet, this script creates it: remove it at the end
        (and its WAL files, which only this script can be using then)."""
        sqlite_file = database_facts(self.settings)["sqlite_file"]
        if sqlite_file is None:
            return
        path = Path(sqlite_file).resolve()
        if not path.exists():
            suffixes = ("", "-wal", "-shm", "-journal")
            self.sqlite_files = [Path(f"{path}{s}") for s in suffixes]

    async def run(self) -> list[str]:
        """Undo everything; returns what could not be undone (each is logged)."""
        problems: list[str] = []
        for what, action in reversed(self.actions):
            try:
                await action()
                log.info("cleanup: %s", what)
            except Exception as exc:
                problems.append(f"{what}: {exc}")
        if self.batch_ids:
            problems += await self._delete_batches()
        if self.sqlite_files:
            for path in self.sqlite_files:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            log.info(
                "cleanup: removed the SQLite file this script created (%s)", self.sqlite_files[0]
            )
        for problem in problems:
            log.error("cleanup failed: %s", problem)
        return problems

    async def _delete_batches(self) -> list[str]:
        problems: list[str] = []
        rt = Runtime(self.settings)
        try:
            for batch_id in dict.fromkeys(self.batch_ids):
                try:
                    removed = await rt.batches().delete(batch_id)
                except NotFoundError:
                    removed = 0
                except DomainbatchError as exc:
                    problems.append(f"deleting batch {batch_id}: {exc.message}")
                    continue
                left = await rt.system().rows_left(batch_id)
                if left:
                    problems.append(f"batch {batch_id} still has {left} rows after deletion")
                else:
                    log.info("cleanup: deleted batch %s (%d domain rows)", batch_id, removed)
        except DomainbatchError as exc:
            problems.append(f"deleting batches: {exc.message}")
        finally:
            await rt.close()
        return problems


# Processing in this process ---------------------------------------------------------------------
@dataclass
class WorkerRun:
    stats: Any
    events: list[tuple[str, str]]
    errors: list[str]
    seconds: float


async def run_worker(
    rt: Runtime,
    batch_ids: Sequence[str],
    *,
    observe: Callable[[], Awaitable[None]] | None = None,
    interval: float = 0.05,
    limit_seconds: float = 120.0,
) -> WorkerRun:
    """Process these batches (and no other) with the library's worker until none has work
    left, calling ``observe`` every ``interval`` meanwhile. Errors the worker logs (a claim
    round or an acknowledgement that failed, a processor that raised) are collected."""
    events: list[tuple[str, str]] = []
    worker = rt.worker(
        only_batches=list(batch_ids), burst=True, on_event=lambda e, b: events.append((e, b))
    )
    started = time.perf_counter()
    with ErrorLog().watching() as errors:
        task = asyncio.create_task(worker.run())
        try:
            async with asyncio.timeout(limit_seconds):
                while not task.done():
                    if observe is not None:
                        await observe()
                    await asyncio.wait({task}, timeout=interval)
        except TimeoutError:
            raise CheckFailed(f"the worker did not finish within {limit_seconds:g} s") from None
        finally:
            if not task.done():
                worker.stop()
                await asyncio.gather(task, return_exceptions=True)
        stats = task.result()
    return WorkerRun(stats, events, errors.messages, time.perf_counter() - started)


# The local test web -------------------------------------------------------------------------
def web_overrides(web: Any, **extra: Any) -> dict[str, Any]:
    """Settings that aim the homepage processor at the local test web (``web.env()`` as
    settings: the SSRF guard on, the test web's names trusted through ``resolve_overrides``),
    with quick polling and retries so a script takes seconds."""
    values: dict[str, Any] = {
        "http_port": web.http_port,
        "https_port": web.https_port,
        "resolve_overrides": {"*.test": web.host},
        "nameservers": [f"{web.host}:{web.dns_port}"],
        "extra_suffixes": ["test", "example"],
        "dns_timeout": 2.0,
        "connect_timeout": 3.0,
        "poll_min_seconds": 0.02,
        "poll_max_seconds": 0.2,
        "ack_interval_seconds": 0.05,
        "retry_base_seconds": 0.1,
        "retry_max_seconds": 0.3,
    }
    values.update(extra)
    return values


@contextlib.contextmanager
def local_web(slow_seconds: float = 2.0) -> Iterator[Any]:
    """The repository's test web (HTTP, HTTPS, DNS on 127.0.0.1) in a background thread.

    ``SSL_CERT_FILE`` is set to its CA for the duration, so this process's homepage fetches
    verify its certificates exactly as they verify real ones."""
    from tests.testweb import running_testweb  # a test dependency (trustme): imported late

    previous = os.environ.get("SSL_CERT_FILE")
    with running_testweb(slow_seconds=slow_seconds) as web:
        os.environ["SSL_CERT_FILE"] = web.ca_file
        log.info(
            "local test web: http 127.0.0.1:%d, https 127.0.0.1:%d, dns 127.0.0.1:%d",
            web.http_port,
            web.https_port,
            web.dns_port,
        )
        try:
            yield web
        finally:
            if previous is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = previous


def new_id() -> str:
    return str(uuid.uuid4())


# The script runner ---------------------------------------------------------------------------
@dataclass
class Script:
    name: str
    args: argparse.Namespace
    settings: Settings
    cleanup: Cleanup


Body = Callable[[Script], Awaitable[None]]


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=LOG_FORMAT,
        datefmt=LOG_DATE,
        stream=sys.stderr,
    )
    # The library's own logs only when asked: warnings and errors always show.
    for noisy in ("domainbatch", "aiohttp", "asyncio", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)


def main(
    name: str,
    doc: str | None,
    body: Body,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> NoReturn:
    parser = argparse.ArgumentParser(
        prog=f"{name}.py", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="Debug logs, library logs.")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    configure_logging(args.verbose)
    sys.exit(asyncio.run(_run(name, args, body)))


async def _run(name: str, args: argparse.Namespace, body: Body) -> int:
    # SIGTERM (run_all's timeout, a CI runner) cancels the script like Ctrl-C does, so its
    # cleanup still runs.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    started = time.perf_counter()
    code = 0
    cleanup: Cleanup | None = None
    try:
        settings = load_settings()
        log.info("%s: database %s", name, describe_database(settings))
        cleanup = Cleanup(settings)
        cleanup.note_sqlite_file()
        await body(Script(name, args, settings, cleanup))
    except CheckFailed as exc:
        code = _failed(str(exc))
    except DomainbatchError as exc:
        code = _failed(f"{exc.message} [{exc.code}]")
    except asyncio.CancelledError:
        code = _failed("interrupted", 130)
    except Exception as exc:
        log.exception("unexpected error")
        code = _failed(f"unexpected {type(exc).__name__}: {exc}")
    if cleanup is not None:
        try:
            problems = await cleanup.run()
        except asyncio.CancelledError:
            problems = ["interrupted during cleanup"]
        if problems and code == 0:
            code = _failed(f"cleanup left things behind: {'; '.join(problems)}")
    elapsed = time.perf_counter() - started
    if code == 0:
        log.info("PASSED %s in %.1f s", name, elapsed)
    else:
        log.error("FAILED %s in %.1f s (exit %d)", name, elapsed, code)
    return code


def _failed(reason: str, code: int = 1) -> int:
    reason = " ".join(reason.split())  # one line: driver messages span several
    where = f" [step: {_current_step[-1]}]" if _current_step else ""
    log.error("FAILED%s: %s", where, reason)
    return code
