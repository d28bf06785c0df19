"""One account of a worker's database outages, shared by all its loops (claims, acks, lease
extension, sweep, webhooks).

Every loop retries on its own schedule, so an outage used to log a traceback per loop per
retry: tens of thousands of lines for half a minute, the first useful one buried. Here the
first database error of an outage logs one warning (the error's one-line message), retries stay
silent, and the first success after it logs one line saying how long it lasted and how many
retries failed. Errors that are not database errors are bugs worth a traceback, but the same
one repeating in a loop is shown once a minute, with a count of the ones not shown.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType

import psycopg

from domainbatch.errors import StorageConflictError, StorageError

TRACEBACK_INTERVAL = 60.0  # seconds between two tracebacks of the same failure in the same loop

# SQLAlchemy's pools log an error with a traceback when they cannot reset (or close) a
# connection they get back. A connection lost in an outage always fails its reset; the pool
# then discards it, and the loop that used it reports the outage, so that record says nothing
# new.
_POOL_LOGGERS = ("AsyncAdaptedQueuePool", "QueuePool", "NullPool", "StaticPool")
_POOL_MESSAGES = (
    "Exception during reset or similar",
    "Exception closing connection",
    "Exception terminating connection",
)


class Outage:
    def __init__(self, name: str, log: logging.Logger) -> None:
        self.name = name
        self.log = log
        self.since: float | None = None  # monotonic time of the first failure, while down
        self.retries = 0  # failures after the first one, while down
        self._tracebacks: dict[tuple[str, str], tuple[float, int]] = {}

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, where: str, exc: BaseException) -> None:
        """A loop's round failed with ``exc``; it will retry."""
        if isinstance(exc, StorageConflictError):
            # Another transaction won the rows: the database is there, and the retry is all.
            self.log.info(
                "%s: its %s met another transaction (%s); retrying", self.name, where, exc.message
            )
            return
        if isinstance(exc, StorageError):
            if self.since is None:
                self.since = time.monotonic()
                self.retries = 0
                message = (exc.message.strip().splitlines() or [exc.code])[0]
                self.log.warning(
                    "%s lost the database in its %s: %s; retrying with backoff until it is back",
                    self.name,
                    where,
                    message,
                )
            else:
                self.retries += 1
            return
        self._traceback(where, exc)

    def recovered(self) -> None:
        """A database operation just succeeded. Cheap when nothing was down: loops call it
        after every successful round."""
        if self.since is None:
            return
        lasted = time.monotonic() - self.since
        self.since = None
        self.log.warning(
            "%s: the database is back after a %.1fs outage (%d failed retries)",
            self.name,
            lasted,
            self.retries,
        )

    def _traceback(self, where: str, exc: BaseException) -> None:
        key = (where, type(exc).__name__)
        now = time.monotonic()
        last, hidden = self._tracebacks.get(key, (None, 0))
        if last is not None and now - last < TRACEBACK_INTERVAL:
            self._tracebacks[key] = (last, hidden + 1)
            return
        self._tracebacks[key] = (now, 0)
        more = ""
        if last is not None and hidden:
            more = f" ({hidden} more like it in the last {now - last:.0f}s)"
        self.log.error("%s: %s failed%s; will retry", self.name, where, more, exc_info=exc)


class _LostConnectionResets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(_POOL_MESSAGES):
            return True
        if not record.exc_info:
            return True
        return not isinstance(record.exc_info[1], psycopg.OperationalError | OSError)


class QuietPoolResets:
    """``with QuietPoolResets():`` drops the pools' reset tracebacks for lost connections."""

    def __init__(self) -> None:
        self._filter = _LostConnectionResets()
        self._loggers = [logging.getLogger(f"sqlalchemy.pool.impl.{n}") for n in _POOL_LOGGERS]

    def __enter__(self) -> QuietPoolResets:
        for logger in self._loggers:
            logger.addFilter(self._filter)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for logger in self._loggers:
            logger.removeFilter(self._filter)
