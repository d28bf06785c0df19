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
