"""The command line's surface: ids as `list` shows them and by unique prefix, validated
choices, where the default database lives, reading commands that create nothing, and
`db check` on an unmigrated database and through PgBouncer."""

from __future__ import annotations

import json
from pathlib import Path

from domainbatch.runtime import Runtime
from domainbatch.storage import migrate
from tests.acceptance.conftest import Cli, cli_env
from tests.conftest import PG_URL, PGBOUNCER_URL, run_database
from tests.integration.test_batch_ids import IDS, seed
from tests.support import databases
from tests.support.processes import child_env, run_domainbatch

SCRIPTED = "tests.support.processors:scripted"


def submit(cli: Cli, tmp_path: Path, name: str) -> str:
    source = tmp_path / f"{name}.txt"
    source.write_text("one.test\ntwo.test\n", encoding="utf-8")
    done = cli("submit", str(source), "-p", SCRIPTED)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_list_shows_whole_ids_that_every_command_takes_by_prefix(cli: Cli, tmp_path: Path) -> None:
    first, second = submit(cli, tmp_path, "a"), submit(cli, tmp_path, "b")
    listed = cli("list", COLUMNS="60")  # piped and narrow: the ids stay whole
    assert listed.returncode == 0, listed.stderr
    assert first in listed.stdout and second in listed.stdout
    assert "…" not in listed.stdout
    # One line per batch in a pipe (the created time does not fold): grep finds a batch.
    rows = [line for line in listed.stdout.splitlines() if first in line or second in line]
    assert len(rows) == 2 and all("UTC" in row for row in rows), listed.stdout
    status = cli("status", first[:8], "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["id"] == first
    exported = cli("results", first[:6].upper(), "--status", "pending")
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 2
    cancelled = cli("cancel", second[:5])
    assert cancelled.returncode == 0 and f"cancelled batch {second}" in cancelled.stdout
    worked = cli("worker", "--burst", "--batch", first[:7])
    assert worked.returncode == 0 and "2 claimed" in worked.stderr, worked.stderr
    retried = cli("retry", first[:4])
    assert retried.returncode == 0 and f"batch {first}" in retried.stdout, retried.stderr
    for ref, expected in (
        (first[:3], "no batch"),  # too short to be a prefix
        ("ffff-", "no batch"),
        ("%", "no batch"),  # LIKE's wildcards match themselves
    ):
        done = cli("status", ref)
        assert done.returncode == 1 and expected in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


async def test_an_ambiguous_prefix_lists_the_batches_it_starts(cli: Cli, runtime: Runtime) -> None:
    await seed(runtime)
    done = cli("status", "abcd")
    assert done.returncode == 2, done.stderr
    assert f"abcd starts several batch ids: {IDS[0]}, {IDS[1]}" in done.stderr
    assert "[ambiguous_id]" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert cli("cancel", "abce").returncode == 0


def test_enum_options_refuse_unknown_values(cli: Cli, tmp_path: Path) -> None:
    batch = submit(cli, tmp_path, "a")
    for args in (
        ("list", "--status", "bogus"),
        ("results", batch, "--status", "done"),
        ("results", batch, "--format", "xml"),
        ("submit", str(tmp_path / "a.txt"), "--format", "yaml"),
    ):
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert "Invalid value" in done.stderr, done.stderr
    assert "pending" in cli("list", "--status", "bogus").stderr


def test_reading_commands_create_no_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = child_env(clean=True, XDG_DATA_HOME=str(data), COLUMNS="200")
    for args in (("list",), ("status", "abcd"), ("results", "abcd"), ("cancel", "abcd")):
        done = run_domainbatch(*args, env=env, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert "no database at" in done.stderr and "DOMAINBATCH_DATABASE_URL" in done.stderr
        assert str(data / "domainbatch" / "domainbatch.db") in done.stderr
    checked = run_domainbatch("db", "check", "--json", env=env, cwd=tmp_path)
    assert checked.returncode == 1
    report = json.loads(checked.stdout)
    assert report["ok"] is False and report["problem"].startswith("no database at")
    assert list(tmp_path.iterdir()) == []  # no database, no folder, no lock file
    source = tmp_path / "in.txt"
    source.write_text("one.test\n", encoding="utf-8")
    created = run_domainbatch("submit", str(source), "-p", SCRIPTED, env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "in.txt"]
    folder = data / "domainbatch"
    assert {p.name for p in folder.iterdir()} <= {
        "domainbatch.db",
        "domainbatch.db-wal",
        "domainbatch.db-shm",
    }
    listed = run_domainbatch("list", "--json", env=env, cwd=tmp_path)
    assert [b["id"] for b in json.loads(listed.stdout)] == [created.stdout.strip()]
    checked = run_domainbatch("db", "check", env=env, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert str(folder / "domainbatch.db") in checked.stdout


def test_unmigrated_postgres_says_to_upgrade(tmp_path: Path, postgres_schema: None) -> None:
    name = run_database("domainbatch_bare")
    direct = databases.on_server(databases.server_of(PG_URL), name)
    bounced = databases.on_server(databases.server_of(PGBOUNCER_URL), name)
    databases.reset_database(direct)
    try:
        for url, pooler in ((direct, None), (bounced, "PgBouncer")):
            env = cli_env("postgres", tmp_path, DOMAINBATCH_DATABASE_URL=url)
            env.pop("DOMAINBATCH_POOLER_MODE")
            listed = run_domainbatch("list", env=env, cwd=tmp_path)
            assert listed.returncode == 1
            assert "run `domainbatch db upgrade` [schema_outdated]" in listed.stderr
            assert len(listed.stderr.strip().splitlines()) == 1, listed.stderr
            checked = run_domainbatch("db", "check", "--json", env=env, cwd=tmp_path)
            assert checked.returncode == 1
            report = json.loads(checked.stdout)
            assert report["ok"] is False and "domainbatch db upgrade" in report["problem"]
            assert report["schema_head"] == migrate.head_revision()
            assert report["location"].endswith(f"/{name}")
            if pooler is None:
                assert report["pooler"] is None and report["pooler_mode"] == "direct"
            else:
                assert report["pooler"].startswith("PgBouncer 1.")
                assert report["pooler_mode"] == "transaction"
    finally:
        databases.drop_database(direct)


def test_keys_revoke_takes_an_id_prefix_or_the_listed_key_prefix(cli: Cli) -> None:
    first = json.loads(cli("keys", "create", "--tenant", "acme", "--json").stdout)
    second = json.loads(cli("keys", "create", "--tenant", "acme", "--json").stdout)
    too_short = cli("keys", "revoke", first["id"][:3])
    assert too_short.returncode == 1 and "at least 4 characters" in too_short.stderr
    revoked = cli("keys", "revoke", first["id"][:6])
    assert revoked.returncode == 0 and f"revoked API key {first['id']}" in revoked.stdout
    by_key_prefix = cli("keys", "revoke", second["key"][:12])
    assert by_key_prefix.returncode == 0, by_key_prefix.stderr
    assert f"revoked API key {second['id']}" in by_key_prefix.stdout
    again = cli("keys", "revoke", first["id"])
    assert again.returncode == 1 and "already revoked" in again.stderr
