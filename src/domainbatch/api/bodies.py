"""Reading a batch out of a request body: the body is streamed into a spooled temporary file
(memory up to 1 MiB, then disk) with the size limit enforced as it arrives, then parsed lazily
by ``iter_entries`` while the batch is inserted chunk by chunk."""

from __future__ import annotations

from tempfile import SpooledTemporaryFile
from typing import IO, Any

import orjson
from fastapi import Request
from pydantic import ValidationError

from domainbatch.api.schemas import CreateBatchRequest
from domainbatch.core.inputs import Format, check_json_depth, json_text
from domainbatch.errors import (
    EmptyBatchError,
    InputError,
    LimitExceededError,
    UnsupportedMediaError,
)

_IN_MEMORY = 1024 * 1024

# Media type -> input format; a missing or generic type is sniffed like a file without a name.
FORMATS: dict[str, Format] = {
    "text/plain": "text",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/octet-stream": "auto",
    "": "auto",
}
JSON_TYPES = ("application/json",)

REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "A JSON object, or a text file (one domain per line) or a CSV whose domain "
    "column is detected from its header (domain, website, URL, ...) or named by the `column` "
    "query parameter. Text and CSV are streamed: use them for big batches.",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/CreateBatchRequest"}},
        "text/plain": {"schema": {"type": "string"}},
        "text/csv": {"schema": {"type": "string"}},
    },
}


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def too_large(limit: int) -> LimitExceededError:
    message = f"the request body is larger than {limit:,} bytes (max_request_bytes)"
    return LimitExceededError(message)


async def spool_body(request: Request, limit: int) -> IO[bytes]:
    """The whole body in a temporary file, or ``LimitExceededError`` as soon as it is too big."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)  # refused before a byte is read
    spool: IO[bytes] = SpooledTemporaryFile(max_size=_IN_MEMORY)  # noqa: SIM115 - returned
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def parse_json(spool: IO[bytes]) -> CreateBatchRequest:
    # Decoded here rather than by pydantic, which refuses a byte-order mark and names no depth
    # limit: the same text rules and depth bound as a JSON file given to the CLI.
    text = json_text(spool.read(), subject="the request body")
    if not text.strip():
        raise InputError('the request body is empty: send {"domains": [...]}')
    try:
        return CreateBatchRequest.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "too_short" and tuple(first["loc"]) == ("domains",):
            raise EmptyBatchError("the batch has no entries: nothing to process") from None
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InputError(f"invalid JSON body at {where}: {first['msg']}") from None


def parse_options(raw: str | None) -> dict[str, Any]:
    """Processor options given as text (a query parameter, a form field): a JSON object."""
    if not raw or not raw.strip():
        return {}
    # orjson reads 1,024 levels but cannot store more than 254 (Batches.create then refuses
    # them without naming a limit): bound them like every other JSON input, and say so.
    check_json_depth(raw, subject="the options value")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InputError("options must be a JSON object") from None
    if not isinstance(value, dict):
        raise InputError("options must be a JSON object")
    return value


def text_format(kind: str) -> Format:
    if kind in FORMATS:
        return FORMATS[kind]
    raise UnsupportedMediaError(
        f"unsupported Content-Type {kind!r}: send application/json, text/plain or text/csv"
    )


__all__ = ["REQUEST_BODY", "parse_json", "parse_options", "spool_body", "text_format"]
