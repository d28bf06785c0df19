"""A progress display while a big input file is read (``submit``, ``run``): a Rich bar on
stderr when it is a terminal; nothing at all when it is piped or the file is small."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

# Creating a batch takes about 1.6 s per MiB of domains on SQLite (400,000 domains, 10 MB:
# 18 s, measured); below 1 MiB it is over before a bar means anything.
MIN_BYTES = 1024 * 1024
POLL_SECONDS = 0.1


class ReadProgress:
    """``async with ReadProgress(console, path) as reading:`` then pass ``reading.attach``
    as the service's ``on_open``; the bar follows the file's position until the block ends."""

    def __init__(self, console: Console, path: Path) -> None:
        try:
            self.size = path.stat().st_size
        except OSError:
            self.size = 0  # the service will say why it cannot be read
        self.enabled = console.is_terminal and self.size >= MIN_BYTES
        self._progress = Progress(
            TextColumn("reading"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._poller: asyncio.Task[None] | None = None

    def attach(self, handle: IO[bytes]) -> None:
        if self.enabled:
            self._poller = asyncio.get_running_loop().create_task(self._follow(handle))

    async def _follow(self, handle: IO[bytes]) -> None:
        bar = self._progress.add_task("read", total=self.size)
        # The reader runs on this event loop; between its awaits (each chunk it stores) the
        # file's position is how far it got.
        while not handle.closed:
            self._progress.update(bar, completed=handle.tell())
            await asyncio.sleep(POLL_SECONDS)

    async def __aenter__(self) -> ReadProgress:
        if self.enabled:
            self._progress.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self.enabled:
            self._progress.stop()
