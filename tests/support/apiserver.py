"""A real ``domainbatch serve`` process on a free loopback port, and a small HTTP client for it.

The server runs the scripted test processor (``tests.support.processors``) by default, so
outcomes depend only on domain names, and short poll/event intervals so tests stay quick.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from domainbatch.settings import Settings
from domainbatch.storage.database import Database
from domainbatch.storage.tenants import create_key
from tests.conftest import backend_settings, child_pythonpath

SCRIPTED = "tests.support.processors:scripted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(backend: str, workdir: Path, **extra: str) -> dict[str, str]:
    settings = backend_settings(backend, workdir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINBATCH_")}
    env.update(
        PYTHONPATH=child_pythonpath(),
        DOMAINBATCH_DATABASE_URL=settings.database_url.get_secret_value(),
        DOMAINBATCH_POOLER_MODE=settings.pooler_mode,
        DOMAINBATCH_EXTRA_SUFFIXES="test",
        DOMAINBATCH_DEFAULT_PROCESSOR=SCRIPTED,
        DOMAINBATCH_POLL_MIN_SECONDS="0.01",
        DOMAINBATCH_POLL_MAX_SECONDS="0.2",
        DOMAINBATCH_ACK_INTERVAL_SECONDS="0.05",
        DOMAINBATCH_RETRY_BASE_SECONDS="0.05",
        DOMAINBATCH_RETRY_MAX_SECONDS="0.2",
        DOMAINBATCH_EVENTS_INTERVAL_SECONDS="0.2",
        DOMAINBATCH_WEBHOOK_RETRY_BASE_SECONDS="0.2",
        DOMAINBATCH_WEBHOOK_RETRY_MAX_SECONDS="0.5",
        DOMAINBATCH_MAX_ENTRIES="2000",
        DOMAINBATCH_MAX_REQUEST_BYTES="200000",
        DOMAINBATCH_SHUTDOWN_GRACE_SECONDS="2",
    )
    env.update(extra)
    return env


class ApiServer:
    """``with ApiServer(env, cwd, "--no-auth") as server: server.get("/healthz")``."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.env = env
        self.cwd = cwd
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.http = requests.Session()
        self.key: str | None = None
        self.log = cwd / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> ApiServer:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "domainbatch",
                    "serve",
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if requests.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not become ready:\n{self.output()}")

    def stop(self) -> int:
        self.http.close()
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

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
