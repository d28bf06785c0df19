"""The trust boundary, through the real entry points: a tenant names only registered processors;
every processor's options are checked before anything is stored (API 422, CLI exit 2); a
processor that exits, interrupts or raises never takes its worker or server with it; no log line
holds a secret; a ``--no-auth`` server answers only its own user (no DNS rebinding, no CSRF)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from tests.acceptance.conftest import Cli, server_env, stored_batch_ids
from tests.conftest import PG_URL, backend_settings, wipe_postgres
from tests.support.apiserver import ApiServer, issue_key
from tests.support.processes import run_domainbatch

HOSTILE = "tests.support.processors:hostile"


def _refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def _batches(api: ApiServer, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/v1/batches", key=key).json()["items"]
    return items


def _worker(api: ApiServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run_domainbatch("worker", "--burst", *args, env=api.env, cwd=api.cwd)


def test_tenants_name_registered_processors_only(
    api: ApiServer, tenant_key: Callable[[str], str]
) -> None:
    key = tenant_key("hostile-processor")
    text = {"Content-Type": "text/plain"}
    for name in ("sys:exit", "os:getcwd", "tests.support.processors:hostile", "nope"):
        body = {"domains": ["a.test"], "processor": name}
        _refused(api.post("/v1/batches", key=key, json=body), 422, "unknown_processor")
        response = api.post(
            "/v1/batches", key=key, data=b"a.test\n", headers=text, params={"processor": name}
        )
        _refused(response, 422, "unknown_processor")
    assert _batches(api, key) == []
    # The server (with its embedded worker) is still there a while later...
    time.sleep(1.5)
    assert api.proc is not None and api.proc.poll() is None
    assert api.get("/healthz").status_code == 200
    # ...and a registered name works, processed by a worker started afterwards.
    created = api.create(["after1.test", "after2.test"], key=key, processor="noop")
    worker = _worker(api, "--batch", created["id"])
    assert worker.returncode == 0, worker.stderr
    assert api.wait(created["id"], key=key)["status"] == "completed"


def test_options_are_checked_before_anything_is_stored(
    api: ApiServer, tenant_key: Callable[[str], str]
) -> None:
    key = tenant_key("hostile-options")
    cases: list[dict[str, Any]] = [
        {"options": {"foo": 1}},  # the server's default processor (scripted) declares others
        {"processor": "homepage", "options": {"foo": 1}},
        {"processor": "homepage", "options": {"total_timeout": "5"}},
        {"processor": "homepage", "options": {"max_redirects": True}},
        {"processor": "noop", "options": {"x": 1}},
        {"processor": "dns", "options": {"x": 1}},
    ]
    for case in cases:
        response = api.post("/v1/batches", key=key, json={"domains": ["a.test"], **case})
        body = _refused(response, 422, "invalid_options")
        assert next(iter(case["options"])) in body["message"]
    streamed = api.post(
        "/v1/batches",
        key=key,
        data=b"a.test\n",
        headers={"Content-Type": "text/plain"},
        params={"processor": "noop", "options": '{"foo": 1}'},
    )
    _refused(streamed, 422, "invalid_options")
    assert _batches(api, key) == []
    # Declared options still work.
    created = api.create(["opt1.test"], key=key, options={"delay": 0.01})
    assert api.wait(created["id"], key=key)["status"] == "completed"


def test_cli_refuses_bad_options_and_processors_with_exit_2(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "domains.txt"
    source.write_text("one.test\ntwo.test\n")

    def ids() -> set[str]:
        return set(stored_batch_ids(cli))

    before = ids()
    attempts = [
        (("run", str(source), "-o", "foo=bar"), "invalid_options"),  # homepage, the default
        (("submit", str(source), "-p", "noop", "-o", "x=1"), "invalid_options"),
        (("submit", str(source), "-p", "dns", "-o", "x=1"), "invalid_options"),
        (("submit", str(source), "-o", "total_timeout=fast"), "invalid_options"),
        (("submit", str(source), "-p", "no-such-processor"), "unknown_processor"),
    ]
    for args, code in attempts:
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and f"[{code}]" in lines[0], (args, done.stderr)
    assert ids() == before


def test_a_processor_that_exits_or_raises_never_stops_the_worker(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "domains.txt"
    source.write_text("ok1.test\nok2.test\n")
    hostile = tmp_path / "hostile.txt"
    hostile.write_text("exit-a.test\ninterrupt-b.test\nleak-c.test\nfine.test\n")
    # A dotted path is the operator's choice (CLI), so these are stored...
    exits = cli("submit", str(source), "-p", "sys:exit", "--json")
    assert exits.returncode == 0, exits.stderr
    raises = cli("submit", str(hostile), "-p", HOSTILE, "--json")
    assert raises.returncode == 0, raises.stderr
    normal = cli("submit", str(source), "-p", "noop", "--json")
    # ...and a worker runs all three batches to their end, then exits normally.
    worker = cli("worker", "--burst")
    assert worker.returncode == 0, worker.stderr
    assert "Settings(" not in worker.stderr and "sqlite+aiosqlite" not in worker.stderr

    def status(created: subprocess.CompletedProcess[str]) -> dict[str, Any]:
        shown = cli("status", json.loads(created.stdout)["id"], "--json")
        result: dict[str, Any] = json.loads(shown.stdout)
        return result

    assert status(exits)["status"] == "failed"
    assert status(exits)["errors"] == {"processor_unavailable": 2}
    assert status(raises)["errors"] == {"internal": 3}
    assert status(raises)["counts"]["succeeded"] == 1
    assert status(normal)["status"] == "completed"
    results = cli("results", json.loads(raises.stdout)["id"], "--format", "jsonl")
    messages = [json.loads(line)["error_message"] for line in results.stdout.splitlines()]
    assert "SystemExit raised by the processor" in messages
    assert "KeyboardInterrupt raised by the processor" in messages
    assert not any("sqlite+aiosqlite" in (m or "") for m in messages)
    # One traceback for the first fault of a kind, one line for repeats, never a flood.
    assert worker.stderr.count("Traceback") <= 3


def test_no_log_line_holds_a_secret(postgres_schema: None, tmp_path: Path) -> None:
    password = "pw-Secret-9f2c1e"  # PostgreSQL here trusts loopback: any password connects
    url = PG_URL.replace("postgres@", f"postgres:{password}@", 1)
    hook_secret = "hook-Secret-77ab3d"
    env = server_env(
        "postgres",
        tmp_path,
        DOMAINBATCH_DATABASE_URL=url,
        DOMAINBATCH_ALLOW_PRIVATE_ADDRESSES="true",
        DOMAINBATCH_WEBHOOK_MAX_ATTEMPTS="2",
    )
    settings = backend_settings("postgres", tmp_path)
    try:
        with ApiServer(env, tmp_path) as server:
            key = issue_key(settings, "secrets")
            seen: list[str] = []
            # Refused requests, a batch whose webhook receiver is down, a hostile processor.
            for body in (
                {"processor": "sys:exit"},
                {"options": {"nope": key}},
                {"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "short"}},
            ):
                response = server.post("/v1/batches", key=key, json={"domains": ["a.test"], **body})
                assert response.status_code == 422
                seen.append(response.text)
            hooked = server.create(
                ["fail-h.test"],
                key=key,
                webhook={"url": "http://127.0.0.1:9/hook", "secret": hook_secret},
            )
            server.wait(hooked["id"], key=key)
            cli_env = {**env, "DOMAINBATCH_DATABASE_URL": url}
            source = tmp_path / "hostile.txt"
            source.write_text("exit-a.test\nleak-b.test\ninterrupt-c.test\n")
            for processor in (HOSTILE, "sys:exit", "no.such.module:build"):
                submitted = run_domainbatch(
                    "submit", str(source), "-p", processor, env=cli_env, cwd=tmp_path, timeout=60
                )
                seen += [submitted.stdout, submitted.stderr]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the embedded worker ends what it can
                active = [
                    b
                    for b in server.get("/v1/batches", key=key).json()["items"]
                    if b["status"] in ("pending", "processing")
                ]
                if not active:
                    break
                time.sleep(0.2)
            time.sleep(1.5)  # a failed webhook delivery is retried (and logged) once more
        seen.append(server.output())
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            stored = conn.execute("select error_message from batch_domains").fetchall()
        seen += [str(row[0]) for row in stored]
        text = "\n".join(seen)
        assert "processor_unavailable" in text or "SystemExit" in text  # the run did fail
        for secret in (password, key, hook_secret):
            assert secret not in text
        assert "Settings(" not in text
    finally:
        wipe_postgres()


def test_no_auth_server_answers_only_its_own_user(api_backend: str, api_workdir: Path) -> None:
    env = server_env(api_backend, api_workdir)
    with ApiServer(env, api_workdir, "--no-auth", "--no-worker") as server:
        own = server.base
        port = server.port
        text = {"Content-Type": "text/plain"}

        def post(headers: dict[str, str], path: str = "/v1/batches") -> Any:
            return server.post(path, key="", data=b"csrf.test\n", headers={**text, **headers})

        before = len(server.get("/v1/batches", key="", params={"limit": 500}).json()["items"])
        # DNS rebinding: a page on another name that resolves to 127.0.0.1.
        for host in ("rebind.attacker.example", f"rebind.attacker.example:{port}", "10.0.0.1"):
            for path in ("/v1/batches", "/", "/v1/batches/00000000-0000-4000-8000-000000000000"):
                response = server.get(path, key="", headers={"Host": host})
                _refused(response, 403, "forbidden")
            _refused(post({"Host": host}), 403, "forbidden")
        # Cross-site writes, whatever the content type.
        for headers in (
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Origin": f"http://127.0.0.1:{port + 1}"},
            {"Referer": "http://evil.example/page.html"},
        ):
            _refused(post(headers), 403, "forbidden")
            _refused(post(headers, "/ui/batches"), 403, "forbidden")
            _refused(
                server.post("/v1/batches", key="", json={"domains": ["x.test"]}, headers=headers),
                403,
                "forbidden",
            )
        after = server.get("/v1/batches", key="", params={"limit": 500}).json()["items"]
        assert len(after) == before
        # Its own pages, loopback names, and clients that are not browsers pass.
        assert post({"Origin": own}).status_code == 201
        assert post({"Referer": own + "/"}).status_code == 201
        local = {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}
        assert post(local).status_code == 201
        assert post({}).status_code == 201
        assert server.get("/v1/batches", key="", headers={"Host": f"[::1]:{port}"}).ok
