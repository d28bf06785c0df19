"""Schemathesis over ``/openapi.json`` against a real server: every operation, generated valid
and invalid requests, stateful sequences following the OpenAPI links; no 5xx, and every
response (status, content type, headers, body) conforms to the schema. Bounded in examples and
time.

``positive_data_acceptance`` is left out: some schema-valid inputs are refused on purpose by
meaning, not shape (a text body holding only comments is an empty batch, an opaque cursor that
we did not issue), with a documented 422.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.acceptance.conftest import server_env
from tests.conftest import REPO, backend_settings
from tests.support.apiserver import ApiServer, issue_key


def test_schemathesis_finds_no_violations(api_backend: str, api_workdir: Path) -> None:
    env = server_env(
        api_backend,
        api_workdir,
        DOMAINBATCH_DEFAULT_PROCESSOR="noop",
        DOMAINBATCH_RESOLVE_OVERRIDES="*=192.0.2.1",
    )
    with ApiServer(env, api_workdir) as server:
        key = issue_key(backend_settings(api_backend, api_workdir), "schemathesis")
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.base}/openapi.json",
                "--header",
                f"Authorization: Bearer {key}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-examples",
                "25",
                "--max-time",
                "40",
                "--request-timeout",
                "15",
                "--workers",
                "1",
                "--seed",
                "20261125",
            ],
            env={**env, "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks"},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=240,
        )
        output = run.stdout + run.stderr
        (REPO / "test-artifacts").mkdir(exist_ok=True)
        (REPO / "test-artifacts" / f"schemathesis-{api_backend}.txt").write_text(output)
        assert run.returncode == 0, output[-6000:]
        assert "Tested: 12" in output, output[-3000:]
        assert "Traceback" not in server.output()
