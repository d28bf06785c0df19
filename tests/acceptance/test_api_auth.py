"""API keys and tenants: 401 without a valid key, tenant isolation (another tenant's batch is a
404 everywhere), the ``keys`` commands, and ``serve --no-auth`` (loopback only, said loudly)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from domainbatch.api.auth import KEY_CACHE_SECONDS
from tests.acceptance.conftest import server_env
from tests.support.apiserver import ApiServer
from tests.support.processes import run_domainbatch


def test_v1_requires_a_valid_key(api: ApiServer) -> None:
    attempts = [
        api.get("/v1/batches", key=""),
        api.get("/v1/batches", key="dbk_not-a-real-key"),
        api.get("/v1/batches", key="", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
        api.post("/v1/batches", key="", json={"domains": ["a.test"]}),
        api.get("/v1/batches/00000000-0000-4000-8000-000000000000", key="nonsense"),
    ]
    for response in attempts:
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    # Probes and the schema stay open.
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert api.get(path, key="").status_code == 200


def test_a_tenant_never_sees_another_tenants_batch(
    api: ApiServer, tenant_key: Callable[[str], str]
) -> None:
    other = tenant_key("bravo")
    mine = api.create(["iso1.test", "fail-iso2.test"])["id"]
    api.wait(mine)
    theirs = api.create(["iso3.test"], key=other)["id"]
    for path in ("", "/domains", "/results", "/events", "/domains/1"):
        response = api.get(f"/v1/batches/{mine}{path}", key=other)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "not_found"
    for action in ("cancel", "retry"):
        assert api.post(f"/v1/batches/{mine}/{action}", key=other).status_code == 404
    listed = [
        b["id"] for b in api.get("/v1/batches", key=other, params={"limit": 500}).json()["items"]
    ]
    assert theirs in listed and mine not in listed
    mine_listed = [b["id"] for b in api.get("/v1/batches", params={"limit": 500}).json()["items"]]
    assert mine in mine_listed and theirs not in mine_listed
    # The owner still has everything (the refused retry changed nothing).
    assert api.get(f"/v1/batches/{mine}").json()["counts"]["failed"] == 1


def test_keys_commands_and_revocation(api: ApiServer) -> None:
    def keys(*args: str) -> subprocess.CompletedProcess[str]:
        return run_domainbatch("keys", *args, env=api.env, cwd=api.cwd, timeout=60)

    made = keys("create", "--tenant", "charlie")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("dbk_") and "shown once" in made.stderr
    assert api.get("/v1/batches", key=key).status_code == 200
    listed = json.loads(keys("list", "--tenant", "charlie", "--json").stdout)
    assert len(listed) == 1 and listed[0]["revoked_at"] is None
    assert key not in json.dumps(listed) and key.startswith(listed[0]["prefix"])
    revoked = keys("revoke", listed[0]["id"])
    assert revoked.returncode == 0 and listed[0]["id"] in revoked.stdout
    # A server caches a good key for a few seconds; after that the revocation holds.
    deadline = time.monotonic() + KEY_CACHE_SECONDS + 5
    while (refused := api.get("/v1/batches", key=key)).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.25)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    again = keys("revoke", listed[0]["id"])
    assert again.returncode == 1 and "already revoked" in again.stderr
    assert keys("create", "--tenant", "  ").returncode == 1


def test_no_auth_is_loopback_only_and_loud(api_backend: str, api_workdir: Path) -> None:
    env = server_env(api_backend, api_workdir)
    refused = run_domainbatch(
        "serve", "--no-auth", "--host", "0.0.0.0", env=env, cwd=api_workdir, timeout=60
    )
    assert refused.returncode == 2 and "--no-auth is refused" in refused.stderr
    with ApiServer(env, api_workdir, "--no-auth", "--no-worker") as server:
        assert "WARNING: --no-auth" in server.output()
        # This server has no worker, but the module's authenticated server (same database)
        # has one: it may claim the domain, which then sleeps (slow-*), so the batch stays
        # active either way and the cancel below has something to cancel.
        created = server.create(["slow-open1.test"], key="")
        status = server.get(f"/v1/batches/{created['id']}", key="").json()
        assert status["status"] in ("pending", "processing")
        listed = server.get("/v1/batches", key="", params={"limit": 500}).json()["items"]
        assert created["id"] in [b["id"] for b in listed]
        metrics = server.get("/metrics", key="").text
        assert "domainbatch_embedded_workers 0" in metrics
        assert server.post(f"/v1/batches/{created['id']}/cancel", key="").status_code == 200
    # SIGTERM: a graceful shutdown (uvicorn then re-raises the signal, hence -15).
    assert server.proc is not None and server.proc.returncode in (0, -15)
    assert "Application shutdown complete" in server.output()
