"""aiohttp / ssl / OS errors -> ``DomainProcessingError`` with an error code and a message.

This is the one edge where transport exceptions are translated; nothing else in the fetcher
inspects aiohttp's exception types.
"""

from __future__ import annotations

import errno
import ssl

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.connect import BLOCKED_MARKER, BlockedAddressError, UnresolvedHostError

_ERRNO_TEXT = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by peer",
    errno.ECONNABORTED: "connection aborted",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EPIPE: "connection closed while sending (broken pipe)",
    errno.ETIMEDOUT: "connection timed out",
}


def is_connect_failure(exc: BaseException) -> bool:
    """True when no HTTP exchange happened at all: the https -> http fallback applies.

    DNS failures and SSRF refusals are excluded: plain http would meet the same host and address.
    """
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return False
    if isinstance(exc, aiohttp.ClientConnectorError):
        return not _is_blocked(exc)
    return isinstance(exc, aiohttp.ConnectionTimeoutError)


def translate(exc: BaseException, url: str) -> DomainProcessingError:
    """The documented error for ``exc`` raised while fetching ``url``."""
    if isinstance(exc, DomainProcessingError):
        return exc
    if isinstance(exc, aiohttp.ClientConnectorDNSError) and isinstance(
        exc.os_error, UnresolvedHostError
    ):
        return exc.os_error.error  # DNS failure or SSRF refusal, already in our terms
    if _is_blocked(exc):
        return DomainProcessingError("blocked_address", _blocked_text(exc))
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return DomainProcessingError("timeout", f"connecting to {url} timed out")
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return DomainProcessingError("timeout", f"{url} stopped sending data (read timed out)")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        detail = _ssl_text(exc.certificate_error)
        return DomainProcessingError("tls_error", f"TLS certificate rejected for {url}: {detail}")
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError | ssl.SSLError):
        cause = getattr(exc, "os_error", exc)
        return DomainProcessingError(
            "tls_error", f"TLS handshake with {url} failed: {_ssl_text(cause)}"
        )
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return DomainProcessingError("dns_error", f"cannot resolve {url}: {_os_text(exc.os_error)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return DomainProcessingError(
            "connect_error", f"cannot connect to {url}: {_os_text(exc.os_error)}"
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return DomainProcessingError(
            "connect_error", f"{url} closed the connection without a complete response"
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return _payload_error(exc, url)
    if isinstance(exc, aiohttp.ClientResponseError | HttpProcessingError):
        return _protocol_error(exc, url)
    if isinstance(exc, aiohttp.InvalidURL):
        return DomainProcessingError(
            "http_status", f"invalid URL {exc.url!s} while fetching {url}", transient=False
        )
    if isinstance(exc, TimeoutError):  # before OSError: it is one
        return DomainProcessingError("timeout", f"fetching {url} timed out")
    if isinstance(exc, aiohttp.ClientOSError | OSError):
        return DomainProcessingError(
            "connect_error", f"connection to {url} failed: {_os_text(exc)}"
        )
    if isinstance(exc, aiohttp.ClientError):
        return DomainProcessingError("connect_error", f"fetching {url} failed: {_text(exc)}")
    return DomainProcessingError("internal", f"unexpected error fetching {url}: {exc!r}")


def _payload_error(exc: aiohttp.ClientPayloadError, url: str) -> DomainProcessingError:
    text = _short(_text(exc))
    cause = exc.__cause__
    if "encoding" in text.lower() or "decode" in text.lower():
        # A body that does not decompress is the server's fault and will not improve on retry.
        return DomainProcessingError(
            "connect_error", f"{url} sent a corrupt compressed body: {text}", transient=False
        )
    detail = f": {cause}" if cause else ""
    return DomainProcessingError(
        "connect_error", f"{url} closed the connection mid-body ({text}{detail})"
    )


def _protocol_error(exc: BaseException, url: str) -> DomainProcessingError:
    text = _short(str(getattr(exc, "message", "") or _text(exc)))
    # The parser quotes the offending bytes; the size is what matters.
    text = text.split(" when reading", 1)[0]
    if "Got more than" in text or "too long" in text.lower() or "Too many headers" in text:
        return DomainProcessingError(
            "too_large", f"response headers from {url} exceed the size limit ({text})"
        )
    return DomainProcessingError(
        "connect_error", f"{url} sent an invalid HTTP response: {text}", transient=False
    )


def _text(exc: BaseException) -> str:
    """``str(exc)`` that cannot fail (some aiohttp errors format fields that may be unset)."""
    try:
        return str(exc) or type(exc).__name__
    except Exception:
        return type(exc).__name__


def _short(text: str, limit: int = 200) -> str:
    """One line, bounded: parser errors quote the offending bytes, which can be 64 KiB."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_blocked(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BlockedAddressError) or BLOCKED_MARKER in _text(current):
            return True
        inner = getattr(current, "os_error", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return False


def _blocked_text(exc: BaseException) -> str:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BlockedAddressError):
            return current.message
        text = _text(current)
        start = text.find(BLOCKED_MARKER)
        if start >= 0:
            # A merged "Multiple exceptions: a, b" message: keep only our own clause.
            rest = text[start + len(BLOCKED_MARKER) :].strip()
            end = rest.find(f", {BLOCKED_MARKER}")
            return rest[:end] if end >= 0 else rest
        inner = getattr(current, "os_error", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return "refused to connect to a blocked address (SSRF guard)"


def _ssl_text(exc: BaseException) -> str:
    # OpenSSL fills these in; an SSLError raised elsewhere may lack them.
    verify_message = getattr(exc, "verify_message", None)
    if verify_message:
        return str(verify_message)
    reason = getattr(exc, "reason", None)
    if isinstance(exc, ssl.SSLError) and reason:
        return str(reason).replace("_", " ").lower()
    return _text(exc)


def _os_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno in _ERRNO_TEXT:
        return _ERRNO_TEXT[exc.errno]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return _text(exc)


class ConnectFailure(Exception):
    """The first hop never got an HTTP exchange going: the caller may try plain http."""

    def __init__(self, error: DomainProcessingError) -> None:
        super().__init__(error.message)
        self.error = error


# http fallback failures that say "no usable server on port 80" rather than "the site answered".
CONNECTION_CODES = frozenset({"connect_error", "timeout"})


def fallback_failed(
    https_error: DomainProcessingError, http_error: DomainProcessingError
) -> DomainProcessingError:
    """The error of a domain whose https attempt and plain http fallback both failed."""
    message = f"{https_error.message}; plain http fallback: {http_error.message}"
    if https_error.code == "tls_error":
        # A broken certificate says more about the site than "nothing useful on port 80".
        return DomainProcessingError("tls_error", message)
    return DomainProcessingError(http_error.code, message, transient=http_error.transient)
