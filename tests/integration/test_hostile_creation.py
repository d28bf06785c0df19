"""Batch creation when the input fails mid-stream: the entries already inserted (several chunks,
on Postgres several COPYs) are rolled back with the batch row, on every backend."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domainbatch.core.inputs import iter_entries
from domainbatch.errors import InputError
from domainbatch.runtime import Runtime
from domainbatch.storage.tables import batch_counts, batch_domains, batches
from tests.conftest import backend_settings


async def row_counts(rt: Runtime) -> tuple[int, ...]:
    async with rt.db.connect() as conn:
        return tuple(
            [
                int(await conn.scalar(select(func.count()).select_from(table)) or 0)
                for table in (batches, batch_domains, batch_counts)
            ]
        )


@pytest.mark.parametrize("cut", ["truncated", "corrupt"])
async def test_gzip_failing_mid_stream_stores_nothing(
    backend: str, tmp_path: Path, cut: str
) -> None:
    settings = backend_settings(backend, tmp_path, insert_chunk_size=500, extra_suffixes=["test"])
    rt = Runtime(settings)
    await rt.prepare()
    try:
        before = await row_counts(rt)
        whole = gzip.compress(b"".join(b"site%d.test\n" % i for i in range(20_000)))
        if cut == "truncated":
            data = whole[: len(whole) // 2]
        else:  # complete, but the CRC in the trailer does not match: found only at the end
            damaged = bytearray(whole)
            damaged[-6] ^= 0xFF
            data = bytes(damaged)
        read = 0

        def counted() -> Iterator[str]:
            nonlocal read
            for entry in iter_entries(io.BytesIO(data), filename="big.txt.gz"):
                read += 1
                yield entry

        with pytest.raises(InputError) as info:
            await rt.batches().create(counted())
        assert ("truncated" if cut == "truncated" else "not valid gzip") in info.value.message
        assert read > 5 * settings.insert_chunk_size  # several chunks were inserted first
        assert await row_counts(rt) == before
    finally:
        await rt.close()
