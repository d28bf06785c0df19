"""One exception tree. Every error carries a stable ``code`` that the CLI and API show as is.

Library errors are translated once, at the edge that calls the library (``raise ... from exc``).
"""

from __future__ import annotations

from typing import ClassVar


class DomainbatchError(Exception):
    """Root of every error domainbatch raises on purpose."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(DomainbatchError):
    code = "configuration"


class InputError(DomainbatchError):
    """The user's input cannot make a batch (unreadable, empty, over a limit)."""

    code = "invalid_input"


class EmptyBatchError(InputError):
    code = "empty_batch"


class LimitExceededError(InputError):
    code = "limit_exceeded"


class UnsupportedMediaError(InputError):
    code = "unsupported_media_type"


class InvalidOptionsError(InputError):
    """A batch's options do not fit its processor's declared schema (unknown key, wrong type)."""

    code = "invalid_options"


class AmbiguousIdError(InputError):
    """An id prefix that starts several ids (the message lists them)."""

    code = "ambiguous_id"


class InvalidCursorError(InputError):
    """A pagination cursor that this service did not issue (forged, truncated or out of range)."""

    code = "validation_error"


class InvalidFieldsError(InputError):
    """An export asked for a column it does not have (``--fields``, ``?fields=``)."""

    code = "invalid_fields"


class NotFoundError(DomainbatchError):
    code = "not_found"


class AuthenticationError(DomainbatchError):
    """No API key, or one that is unknown or revoked."""

    code = "unauthorized"


class ForbiddenError(DomainbatchError):
    """The request may not be made from where it comes (e.g. another site, a foreign Host)."""

    code = "forbidden"


class ConflictError(DomainbatchError):
    """The request does not fit the batch's current state (e.g. cancelling a finished batch)."""

    code = "conflict"


class StorageError(DomainbatchError):
    code = "storage"


class StorageConflictError(StorageError):
    """Two transactions met on the same rows and the database aborted one (a deadlock, a
    serialization failure): the database is fine, and the statement can simply run again."""

    code = "storage_conflict"


class NoDatabaseError(StorageError):
    """A command that only reads found no database where it looked (it creates none)."""

    code = "no_database"


class SchemaError(StorageError):
    """The database lacks domainbatch's tables, or has an older schema."""

    code = "schema_outdated"


class ProcessorNotFoundError(DomainbatchError):
    """No such processor, or one the caller may not name (tenants name registered ones only)."""

    code = "unknown_processor"


# Per-domain outcome codes (README, "Statuses and progress"); transient ones are retried.
TRANSIENT_CODES = frozenset({"dns_error", "connect_error", "timeout"})
# The transient failures where the site did not answer in time: each attempt costs a whole
# timeout, and a host that hung once mostly hangs again, so they get fewer attempts
# (``timeout_max_attempts``). A DNS lookup that timed out is ``dns_error``, a code it shares
# with quick failures (SERVFAIL, refusals), and costs at most ``dns_timeout``: not counted.
TIMEOUT_CODES = frozenset({"timeout"})
DOMAIN_ERROR_CODES = frozenset(
    {
        "invalid_domain",
        "dns_nxdomain",
        "dns_error",
        "blocked_address",
        "connect_error",
        "tls_error",
        "timeout",
        "too_many_redirects",
        "http_status",
        "too_large",
        "not_html",
        "cancelled",
        "deadline_exceeded",
        "invalid_options",
        "processor_unavailable",
        "internal",
    }
)


class DomainProcessingError(DomainbatchError):
    """One domain failed. Processors raise it; the worker records ``code`` and ``message``.

    ``transient`` decides whether the attempt is retried (``http_status`` is transient only
    for 429 and 5xx, so the raiser says so explicitly).
    """

    code = "internal"

    def __init__(self, code: str, message: str, *, transient: bool | None = None) -> None:
        if code not in DOMAIN_ERROR_CODES:
            raise ValueError(f"unknown domain error code {code!r}")
        super().__init__(message)
        self.code = code  # type: ignore[misc]  # instance code narrows the class default
        self.transient = code in TRANSIENT_CODES if transient is None else transient
