"""Wappalyzer-format fingerprint databases, brought by the user (setting ``FINGERPRINTS``).

:func:`load_table` reads one (``loading``), translates it (``translation``) and returns
the table ``extract.technologies`` matches: the user's alone (``replace``) or ours extended
by it (``extend``: ours wins for a technology both know). Loaded once per process.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Literal

from domainbatch.errors import ConfigurationError
from domainbatch.extract.fingerprint_table import FingerprintTable, builtin_table, merge_tables
from domainbatch.extract.wappalyzer.loading import read_database
from domainbatch.extract.wappalyzer.translation import Translator, modernize

log = logging.getLogger("domainbatch.extract")

FingerprintsMode = Literal["extend", "replace"]
MODES: tuple[FingerprintsMode, ...] = ("extend", "replace")


def translate_database(path: Path) -> FingerprintTable:
    """The user's database alone, compiled; logs what was skipped."""
    raw = read_database(path)
    translator = Translator(raw.categories)
    technologies, legacy = modernize(raw.technologies)
    if legacy:
        log.info("fingerprints %s: older format, its script patterns read as script URLs", path)
    fingerprints = [translator.fingerprint(n, d) for n, d in technologies.items()]
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(translator.skipped.items()))
    log.info(
        "fingerprints %s: %d technologies, %d patterns skipped%s",
        path,
        len(fingerprints),
        sum(translator.skipped.values()),
        f" ({skipped})" if skipped else "",
    )
    return FingerprintTable(fingerprints)


@cache
def load_table(path: str, mode: FingerprintsMode = "extend") -> FingerprintTable:
    """The table to match with the database at ``path`` in ``mode``; cached per process.
    ``ConfigurationError`` when the database cannot be read or the mode is unknown."""
    if mode not in MODES:
        raise ConfigurationError(f"fingerprints mode {mode!r} is not one of {', '.join(MODES)}")
    theirs = translate_database(Path(path))
    return theirs if mode == "replace" else merge_tables(builtin_table(), theirs)


__all__ = ["MODES", "FingerprintsMode", "load_table", "translate_database"]
