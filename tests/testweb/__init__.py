"""A reusable local test web (HTTP + HTTPS + DNS on 127.0.0.1) for fetch tests and benchmarks.

- pytest: ``from tests.testweb.fixtures import testweb`` (a session fixture running the servers
  in a background thread), then ``testweb.settings(...)`` and ``testweb.ssl_context()``.
- scripts: ``with running_testweb() as web: ...`` (background thread), or
  ``async with serving_testweb() as web: ...`` inside a running loop.
- another process: ``python -m tests.testweb`` prints the ports and CA file as one JSON line and
  serves until stdin closes or it is terminated (benchmarks put the server on its own core).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from tests.testweb.server import TestWeb

__all__ = ["TestWeb", "running_testweb", "serving_testweb"]


@asynccontextmanager
async def serving_testweb(**options: Any) -> AsyncIterator[TestWeb]:
    web = TestWeb(**options)
    await web.start()
    try:
        yield web
    finally:
        await web.stop()


@contextmanager
def running_testweb(**options: Any) -> Iterator[TestWeb]:
    """The test web on its own event loop in a daemon thread; independent of the caller's loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="testweb", daemon=True)
    thread.start()
    web = TestWeb(**options)
    try:
        asyncio.run_coroutine_threadsafe(web.start(), loop).result(30)
        yield web
    finally:
        asyncio.run_coroutine_threadsafe(web.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
