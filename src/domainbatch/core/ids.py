"""Ids as people type them: a full id, or a unique prefix of one (like git and docker)."""

from __future__ import annotations

from collections.abc import Sequence

from domainbatch.errors import AmbiguousIdError, NotFoundError

# Shorter prefixes are taken as full ids only: 4 hex characters already tell apart thousands
# of random ids, and a shorter one would usually be ambiguous.
MIN_PREFIX = 4
# Candidates an ambiguity error lists (a store is asked for one more, to know there are more).
SHOWN_CANDIDATES = 5


def pick(ref: str, candidates: Sequence[str], what: str) -> str:
    """The one id that ``ref`` names among ``candidates`` (the ids starting with ``ref``):
    an exact match wins; a unique prefix of at least ``MIN_PREFIX`` characters resolves;
    several are ``AmbiguousIdError`` listing them; none is ``NotFoundError``."""
    if ref in candidates:
        return ref
    if not candidates:
        raise NotFoundError(f"no {what} {ref}")
    if len(ref) < MIN_PREFIX:
        raise NotFoundError(
            f"no {what} {ref} (an id prefix needs at least {MIN_PREFIX} characters)"
        )
    if len(candidates) == 1:
        return candidates[0]
    shown = ", ".join(sorted(candidates)[:SHOWN_CANDIDATES])
    more = " and more" if len(candidates) > SHOWN_CANDIDATES else ""
    raise AmbiguousIdError(f"{ref} starts several {what} ids: {shown}{more}; give more characters")
