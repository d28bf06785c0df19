"""JSON text as every entry point reads it (CLI files, API bodies, ``options`` values): UTF-8,
UTF-16 or UTF-32, and nested at most ``MAX_JSON_DEPTH`` levels before any parser sees it."""

from __future__ import annotations

import itertools
import json
import re
from array import array

from domainbatch.errors import InputError

__all__ = ["MAX_JSON_DEPTH", "check_json_depth", "json_text"]

MAX_JSON_DEPTH = 64  # arrays/objects; a batch needs 2 (see check_json_depth)

# Outside strings, only brackets matter for depth: a string (its closing quote may be missing
# in broken input) or a run of anything else is dropped in one C-speed pass.
_NOT_NESTING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|[^"\[\]{}]++', re.DOTALL)
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1, +1, -1, -1 as signed bytes


def json_text(data: bytes, *, subject: str) -> str:
    """JSON bytes as text, refused with :class:`InputError` unless they are UTF-8 (with or
    without a byte-order mark) or UTF-16/UTF-32 (detected as ``json.loads`` does) and nested at
    most ``MAX_JSON_DEPTH`` levels (see :func:`check_json_depth`)."""
    try:
        text = data.decode(json.detect_encoding(data))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{subject} is not valid JSON text: not UTF-8, UTF-16 or UTF-32 ({exc.reason} at"
            f" byte {exc.start:,})"
        ) from None
    check_json_depth(text, subject=subject)
    return text


def check_json_depth(text: str, *, subject: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` arrays/objects before any parser sees it.

    The stdlib parser recurses once per level and ends in ``RecursionError`` near 1,000 levels;
    orjson and pydantic stop at fixed depths (1,024 and 200) with messages that name no limit.
    A batch needs two levels (``{"domains": [...]}``), so a small explicit bound costs nothing
    legitimate and gives one clear error on every path. Memory and time are linear in the text.
    """
    if text.count("[") + text.count("{") <= limit:  # the usual case (milliseconds for 1M)
        return
    nesting = _NOT_NESTING.sub("", text)  # about 1 µs per string: only for bracket-rich text
    steps = array("b", nesting.encode("ascii").translate(_DEPTH_STEP))
    if max(itertools.accumulate(steps), default=0) > limit:
        raise InputError(
            f"{subject} is JSON nested deeper than {limit} levels; at most {limit} levels of"
            " arrays and objects are accepted"
        )
