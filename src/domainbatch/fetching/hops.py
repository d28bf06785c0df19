"""One hop of a fetch: where a redirect leads, cookies within a fetch, the bounded body."""

from __future__ import annotations

import aiohttp
from yarl import URL

from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.translate import translate

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
CHUNK_BYTES = 64 * 1024
MAX_COOKIES_PER_HOST = 50


def origin_url(scheme: str, domain: str, port: int) -> URL:
    """``scheme://domain[:port]/``; yarl leaves the port out when it is the scheme's default."""
    try:
        return URL.build(scheme=scheme, host=domain, port=port, path="/")
    except ValueError as exc:
        raise DomainProcessingError("invalid_domain", f"{domain!r} is not a valid host") from exc


def redirect_target(url: URL, response: aiohttp.ClientResponse) -> URL | None:
    if response.status not in REDIRECT_STATUSES:
        return None
    location = response.headers.get("Location", "").strip()
    if not location:
        return None
    try:
        target = url.join(URL(location))
    except ValueError as exc:
        raise DomainProcessingError(
            "http_status", f"{url} redirects to an invalid URL {location!r}", transient=False
        ) from exc
    if target.scheme not in ("http", "https") or not target.raw_host:
        raise DomainProcessingError(
            "http_status", f"{url} redirects to unsupported URL {location!r}", transient=False
        )
    return target.with_fragment(None)


def check_redirects(count: int, limit: int, url: URL, target: URL) -> None:
    """Refuse the redirect from ``url`` to ``target``, the ``count``-th, beyond ``limit``."""
    if count > limit:
        raise DomainProcessingError(
            "too_many_redirects", f"more than {limit} redirects (last: {url} -> {target})"
        )


def remember_cookies(
    jar: dict[str, dict[str, str]], url: URL, response: aiohttp.ClientResponse
) -> None:
    # Some sites set a cookie and redirect to themselves until it comes back; carry cookies
    # within one fetch, to the host that set them only.
    if not response.cookies:
        return
    host_cookies = jar.setdefault(url.raw_host or "", {})
    for name, morsel in response.cookies.items():
        if len(host_cookies) < MAX_COOKIES_PER_HOST or name in host_cookies:
            host_cookies[name] = morsel.value[:4096]


async def read_body(response: aiohttp.ClientResponse, url: URL, limit: int) -> bytes:
    """The decompressed body, streamed in chunks and abandoned past ``limit`` bytes."""
    length = response.content_length
    if length is not None and length > limit and "Content-Encoding" not in response.headers:
        response.close()
        raise DomainProcessingError(
            "too_large", f"{url} announces {length} bytes (limit {limit})", transient=False
        )
    body = bytearray()
    try:
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            body += chunk
            if len(body) > limit:
                response.close()
                raise DomainProcessingError(
                    "too_large",
                    f"{url} body exceeds {limit} bytes (decompressed)",
                    transient=False,
                )
    except DomainProcessingError:
        raise
    except Exception as exc:
        response.close()
        raise translate(exc, str(url)) from exc
    return bytes(body)


def looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or any(
        tag in head for tag in (b"<html", b"<head", b"<body", b"<title")
    )


def check_final_response(
    response: aiohttp.ClientResponse, url: URL, max_header_bytes: int
) -> str | None:
    """Refuse a last hop that is not a 2xx HTML answer with bounded headers (error codes);
    returns its Content-Type."""
    status = response.status
    if status >= 400:
        raise DomainProcessingError(
            "http_status",
            f"HTTP {status} {response.reason or ''}".rstrip() + f" from {url}",
            transient=status == 429 or status >= 500,
        )
    if not 200 <= status < 300:
        detail = "without a usable Location" if status in REDIRECT_STATUSES else "unexpected"
        raise DomainProcessingError(
            "http_status", f"HTTP {status} {detail} from {url}", transient=False
        )
    header_bytes = sum(len(k) + len(v) + 4 for k, v in response.raw_headers)
    if header_bytes > max_header_bytes:
        raise DomainProcessingError(
            "too_large",
            f"response headers from {url} total {header_bytes} bytes (limit {max_header_bytes})",
        )
    content_type = response.headers.get("Content-Type")
    mime = _mime(content_type)
    if mime and mime not in HTML_TYPES:
        raise DomainProcessingError("not_html", f"{url} serves {mime}, not HTML", transient=False)
    return content_type


def check_body(content_type: str | None, body: bytes, url: URL) -> None:
    """Without a Content-Type, the body itself must look like HTML."""
    if not _mime(content_type) and not looks_like_html(body):
        raise DomainProcessingError(
            "not_html", f"{url} sent no Content-Type and the body is not HTML"
        )


def _mime(content_type: str | None) -> str:
    return content_type.split(";", 1)[0].strip().lower() if content_type else ""
