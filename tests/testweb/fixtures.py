"""pytest fixtures for the test web. Import them into a test module (or list this module in a
conftest's ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testweb import TestWeb, running_testweb


@pytest.fixture(scope="session")
def testweb() -> Iterator[TestWeb]:
    """One test web for the whole session, in a thread: any test's event loop can use it."""
    with running_testweb(slow_seconds=3.0) as web:
        yield web
