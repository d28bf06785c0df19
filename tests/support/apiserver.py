"""A real ``domainbatch serve`` process on a free loopback port, and a small HTTP client for it.

Its environment is the caller's: the tests' ``server_env`` (``tests/acceptance/conftest.py``)
makes the scripted test processor (``SCRIPTED``) its default, so outcomes depend only on domain
names.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from domainbatch.settings import Settings
from domainbatch.storage.database import Database
from domainbatch.storage.tenants import create_key
from tests.support.processes import Process, domainbatch_argv
from tests.support.servers import free_port, wait_for_url

SCRIPTED = "tests.support.processors:scripted"


class ApiServer:
    """``with ApiServer(env, cwd, "--no-auth") as server: server.get("/healthz")``."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.env = env
        self.cwd = cwd
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.key: str | None = None
        self.process = Process(
            domainbatch_argv("serve", "--port", str(self.port), *args),
            env=env,
            cwd=cwd,
            log=cwd / f"serve-{self.port}.log",
        )

    def start(self, timeout: float = 30) -> ApiServer:
        self.process.start()
        try:
            wait_for_url(self.base + "/readyz", timeout=timeout, process=self.process.proc)
        except (TimeoutError, RuntimeError) as exc:
            raise AssertionError(f"server did not become ready ({exc}):\n{self.output()}") from None
        return self

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.process.proc

    def stop(self) -> int:
        self.http.close()
        return self.process.stop() or 0

    def output(self) -> str:
        return self.process.output()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # HTTP --------------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, *, key: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        key = key if key is not None else self.key
        if key:
            headers.setdefault("Authorization", f"Bearer {key}")
        kwargs.setdefault("timeout", 30)
        return self.http.request(method, self.base + path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def create(self, domains: list[str], key: str | None = None, **body: Any) -> dict[str, Any]:
        response = self.post("/v1/batches", json={"domains": domains, **body}, key=key)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def wait(self, batch_id: str, *, key: str | None = None, timeout: float = 60) -> dict[str, Any]:
        """Poll until the batch leaves pending/processing; returns its final status."""
        deadline = time.monotonic() + timeout
        while True:
            status: dict[str, Any] = self.get(f"/v1/batches/{batch_id}", key=key).json()
            if status["status"] not in ("pending", "processing"):
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.05)

    def events(self, batch_id: str, *, key: str | None = None) -> Iterator[tuple[str, Any]]:
        """Server-Sent Events of one batch, parsed, until the server closes the stream."""
        with self.get(f"/v1/batches/{batch_id}/events", key=key, stream=True) as response:
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/event-stream")
            event, data = None, []
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif not line and event:
                    yield event, json.loads("\n".join(data))
                    event, data = None, []


def issue_key(settings: Settings, tenant: str) -> str:
    """A key made in-process through the same storage code the CLI uses (fast, for fixtures)."""

    async def make() -> str:
        db = Database(settings)
        try:
            return (await create_key(db, tenant)).key
        finally:
            await db.dispose()

    # A thread of its own: the caller may be inside an event loop (Playwright's sync API).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()
