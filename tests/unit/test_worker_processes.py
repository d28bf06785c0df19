"""How many worker processes, how many extraction processes each, and the settings children
read back from their environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from domainbatch.cli.worker_processes import settings_environment, split_settings
from domainbatch.settings import Settings, usable_cores


@pytest.fixture
def cores(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set how many cores this process may use."""

    def set_cores(n: int) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)))

    return set_cores


def test_one_worker_process_per_usable_core_by_default(cores: Callable[[int], None]) -> None:
    cores(3)
    assert usable_cores() == 3
    assert Settings().worker_process_count() == 3
    assert Settings(worker_processes=2).worker_process_count() == 2


def test_extraction_processes_split_between_worker_processes(cores: Callable[[int], None]) -> None:
    cores(8)
    split = split_settings(Settings())
    assert (split.worker_processes, split.extract_processes) == (8, 1)
    split = split_settings(Settings(worker_processes=4))
    assert (split.worker_processes, split.extract_processes) == (4, 2)
    # At most the four one worker's fetching keeps busy.
    cores(64)
    assert split_settings(Settings(worker_processes=2)).extract_processes == 4


def test_one_process_or_a_chosen_extraction_count_is_left_alone(
    cores: Callable[[int], None],
) -> None:
    cores(8)
    assert split_settings(Settings(worker_processes=1)).extract_processes is None
    assert split_settings(Settings(worker_processes=4, extract_processes=0)).extract_processes == 0


def test_children_read_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://app:secret@127.0.0.1/db",  # type: ignore[arg-type]
        concurrency=7,
        extra_suffixes=["test", "example"],
        nameservers=["127.0.0.1"],
        resolve_overrides={"*.test": "127.0.0.1"},
        allow_private_addresses=True,
        fingerprints=Path("/tmp/fp.json"),
        log_level="warning",
        worker_processes=1,
        extract_processes=0,
        task_timeout=2.5,
    )
    base = {
        "PATH": "/usr/bin",
        "DOMAINBATCH_TEST_PROCESSED_LOG": "/tmp/log",  # not a setting: kept
        "domainbatch_concurrency": "3",  # a setting in another case: replaced
        "DOMAINBATCH_USER_AGENT": "old",  # unset in ``settings``: removed
    }
    env = settings_environment(settings, base)
    assert env["PATH"] == "/usr/bin" and env["DOMAINBATCH_TEST_PROCESSED_LOG"] == "/tmp/log"
    assert "domainbatch_concurrency" not in env and "DOMAINBATCH_USER_AGENT" not in env
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings() == settings
