"""How the keyed steps talk to domainbatch: its HTTP API as one caller (with a key, a wrong
one or none), and its CLI (``keys create``, ``keys revoke``) as the operator."""

from __future__ import annotations

import asyncio
import json
from asyncio.subprocess import PIPE
from typing import Any

import aiohttp
from common import check, check_equal
from tests.support.processes import domainbatch_argv


class Client:
    """The keyed server's HTTP API, as one caller (``key`` None: no Authorization header)."""

    def __init__(self, http: aiohttp.ClientSession, base: str, key: str | None) -> None:
        self.http, self.base = http, base
        self.auth = {} if key is None else {"Authorization": f"Bearer {key}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        async with self.http.request(method, self.base + path, headers=headers, **kwargs) as r:
            body = await r.read()
            is_json = r.headers.get("content-type", "").startswith("application/json") and body
            return r.status, json.loads(body) if is_json else body.decode()

    async def ok(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        code, data = await self.call(method, path, **kwargs)
        check_equal(code, expected, f"{method} {path}: status code ({str(data)[:300]})")
        return data


async def cli(env: dict[str, str], *args: str) -> str:
    """``domainbatch ARGS`` to its end (killed after 60 s); its stdout, never logged (keys)."""
    proc = await asyncio.create_subprocess_exec(
        *domainbatch_argv(*args), env=env, stdout=PIPE, stderr=PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    what = f"domainbatch {' '.join(args[:2])}"
    check(proc.returncode == 0, f"{what} exits 0", err.decode()[-500:])
    return out.decode()
