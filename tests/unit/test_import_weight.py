"""Nothing heavy at import time: the CLI's module tree does not load the extractor (and its
HTML and phone libraries) that only a worker's processing needs. A command given a
fingerprint database loads it when the command runs."""

from __future__ import annotations

import subprocess
import sys

PROBE = (
    "import sys, domainbatch.cli.main; "
    "print(sorted({m.split('.')[0] for m in sys.modules} & {'selectolax', 'phonenumbers'}), "
    "any(m.startswith('domainbatch.extract') for m in sys.modules))"
)


def test_the_cli_does_not_import_the_extractor() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[] False", done.stdout


# Not pydantic: typer 0.29 itself coerces a subcommand's parameters through it.
HEAVY = ("sqlalchemy", "alembic", "aiohttp", "psycopg", "fastapi", "pydantic_settings", "uvicorn")
HELP_PROBE = """
import runpy, sys
sys.argv = ["domainbatch", *sys.argv[1:]]
try:
    runpy.run_module("domainbatch", run_name="__main__")
except SystemExit:
    pass
sys.stderr.write("LOADED " + " ".join(sorted({m.split(".")[0] for m in sys.modules})) + "\\n")
"""


def test_help_loads_no_database_http_or_settings_library() -> None:
    # Imports, not a timing: `--help` within about twice `import typer, rich` needs exactly
    # this, and a timing assertion would flake on a busy machine.
    for args in ([], ["list"], ["db", "check"], ["keys", "revoke"]):
        done = subprocess.run(
            [sys.executable, "-c", HELP_PROBE, *args, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Usage" in done.stdout, done.stderr
        loaded = set(done.stderr.strip().splitlines()[-1].split()[1:])
        assert "typer" in loaded
        assert not loaded & set(HEAVY), (args, sorted(loaded & set(HEAVY)))
