"""`domainbatch run` with the default processor (homepage) against the local test web."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.acceptance.conftest import Cli
from tests.testweb import running_testweb


def test_run_fetches_and_extracts_with_the_default_processor(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "sites.txt"
    source.write_text(
        "wordpress.test\nshop.test\nnotfound.test\nhuge.test\nbinary.test\n"
        "nx-missing.example\nlocalhost\n"
    )
    with running_testweb() as web:
        done = cli(
            "run",
            str(source),
            "--json",
            "--output",
            str(tmp_path / "out.csv"),
            DOMAINBATCH_MAX_BODY_BYTES="1000000",
            **web.env(),
        )
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["processor"] == "homepage"
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["counts"]["succeeded"] == 2 and status["counts"]["invalid"] == 1
    assert status["errors"] == {"http_status": 1, "too_large": 1, "not_html": 1, "dns_nxdomain": 1}
    rows = {r["domain"]: r for r in csv.DictReader((tmp_path / "out.csv").open())}
    records = {
        r["domain"]: r for r in map(json.loads, cli("results", status["id"]).stdout.splitlines())
    }
    wordpress = records["wordpress.test"]["result"]
    assert rows["wordpress.test"]["status_code"] == "200"
    assert "WordPress" in {t["name"] for t in wordpress["extracted"]["technologies"]}
    assert "WordPress 6.4.2" in rows["wordpress.test"]["technologies"].split("; ")
    assert rows["wordpress.test"]["title"] == wordpress["extracted"]["title"] != ""
    shop = records["shop.test"]["result"]
    assert shop["final_url"] == rows["shop.test"]["final_url"]
    assert shop["final_url"].startswith("https://www.shop.test")
    assert shop["redirects"][0]["status"] == 301
    assert rows["notfound.test"]["error_code"] == "http_status"
    assert rows["huge.test"]["error_code"] == "too_large"


def test_the_printed_environment_keeps_the_guard_on_its_guard_hosts(
    cli: Cli, tmp_path: Path
) -> None:
    """What ``python -m tests.testweb`` prints is safe to use: its hosts that point at loopback,
    private or metadata addresses end ``blocked_address`` and nothing leaves loopback."""
    guard_hosts = [
        "to-loopback.test",
        "to-mapped.test",
        "to-metadata.test",
        "to-dns-loopback.test",
        "private.dnsweb.example",
        "metadata.dnsweb.example",
        "loopback.dnsweb.example",
        "ula.dnsweb.example",
    ]
    source = tmp_path / "guard.txt"
    source.write_text("\n".join([*guard_hosts, "wordpress.test"]) + "\n")
    log = tmp_path / "loopback.log"
    with running_testweb() as web:
        env = web.env()
        assert "DOMAINBATCH_ALLOW_PRIVATE_ADDRESSES" not in env
        done = cli("run", str(source), "--json", TEST_LOOPBACK_LOG=str(log), **env)
    status = json.loads(done.stdout)
    assert status["errors"] == {"blocked_address": len(guard_hosts)}, done.stderr
    assert status["counts"]["succeeded"] == 1  # its own names are trusted (RESOLVE_OVERRIDES)
    assert not log.exists() or log.read_text() == ""  # no attempt off loopback at all
