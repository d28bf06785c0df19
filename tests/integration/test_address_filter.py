"""The homepage fetch and webhook delivery resolve through one guarded resolver: a name whose DNS
answer is loopback is refused by both, with the same refusal from ``AddressGuard.screen``."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from domainbatch.engine.delivery import WebhookSender
from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.connect import UnresolvedHostError
from domainbatch.fetching.guard import AddressesRefused
from domainbatch.fetching.http import Fetcher
from domainbatch.storage.database import Database
from domainbatch.storage.memory import MemoryQueue
from tests.testweb import TestWeb
from tests.testweb.fixtures import loopback_only, testweb

pytestmark = pytest.mark.usefixtures("loopback_only")
__all__ = ["loopback_only", "testweb"]  # fixtures, imported for pytest

HOST = "loopback.dnsweb.example"  # 127.0.0.1 by DNS, not by an override


async def visit(web: TestWeb, allow_private: bool) -> int:
    """The homepage fetch's status for ``HOST``."""
    settings = web.settings(allow_private_addresses=allow_private)
    async with Fetcher(settings, ssl_context=web.ssl_context()) as fetcher:
        return (await fetcher.visit(HOST)).page.status


async def deliver(web: TestWeb, tmp_path: Path, allow_private: bool) -> int:
    """The status a webhook receiver at ``HOST`` answers, through the sender's own session."""
    settings = web.settings(
        allow_private_addresses=allow_private,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
    )
    db = Database(settings)
    sender = WebhookSender(db, settings, "w-test", store=MemoryQueue())
    try:
        # The session deliveries use; the outbox is not needed to connect.
        async with sender._client().post(web.url("http", HOST, "/hook"), data=b"{}") as response:
            return response.status
    finally:
        await sender.close()
        await db.dispose()


async def test_both_paths_refuse_a_private_answer_with_one_refusal(
    testweb: TestWeb, tmp_path: Path
) -> None:
    before = testweb.hits[HOST]
    with pytest.raises(DomainProcessingError) as fetched:
        await visit(testweb, allow_private=False)
    with pytest.raises(aiohttp.ClientConnectorDNSError) as delivered:
        await deliver(testweb, tmp_path, allow_private=False)
    assert testweb.hits[HOST] == before  # neither request reached the server

    refusal = delivered.value.os_error
    assert isinstance(refusal, UnresolvedHostError)
    assert isinstance(fetched.value, AddressesRefused)
    assert isinstance(refusal.error, AddressesRefused)
    assert refusal.error.code == fetched.value.code == "blocked_address"
    assert refusal.error.refused == fetched.value.refused == [("127.0.0.1", "loopback")]
    assert refusal.error.message == fetched.value.message
    # What a failed delivery records (README, webhooks): every refused address and its reason.
    assert str(refusal) == f"{HOST} resolves only to refused addresses (127.0.0.1: loopback)"

    # Control: with allow_private_addresses both reach the server, so the refusals above are
    # the guard's doing, not an unreachable host.
    assert await visit(testweb, allow_private=True) == 200
    assert await deliver(testweb, tmp_path, allow_private=True) > 0
    assert testweb.hits[HOST] == before + 2
