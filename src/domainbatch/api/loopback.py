"""What keeps a ``--no-auth`` server to its own user: with no key to ask for, any web page the
user visits could otherwise drive it from their browser.

- **DNS rebinding**: a page on ``attacker.example`` re-points its name at 127.0.0.1 and reads
  the API as a same-origin page. Its requests carry ``Host: attacker.example``, so every request
  whose ``Host`` is not a loopback name or address is refused.
- **Cross-site requests (CSRF)**: a page may post a ``text/plain`` form or ``fetch`` with
  ``mode: "no-cors"`` to 127.0.0.1 without a preflight. Browsers always say who sends such a
  request, so a state-changing request whose ``Origin`` (or, lacking it, ``Referer``) is not
  the server's own origin is refused, whatever its content type. Clients that send neither
  (curl, scripts) are not browsers and pass.

Both answer 403 with the usual JSON error. Keyed servers do not need this: a key is required
for every write, and the dashboard's cookie is SameSite=Strict and read-only for the API.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from domainbatch.api.errors import for_error
from domainbatch.errors import ForbiddenError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_loopback_host(host: str) -> bool:
    """``host`` (a Host header's name part) names this machine's loopback."""
    name = host.strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> str:
    """The name part of a ``Host`` value (``[::1]:8000`` -> ``[::1]``, ``a:80`` -> ``a``)."""
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def own_origin(scheme: str, host: str) -> str:
    return f"{scheme}://{host.lower()}"


def sender_origin(headers: Headers) -> str | None:
    """Who sent the request, as a browser says: ``Origin``, else the origin of ``Referer``."""
    origin = headers.get("origin")
    if origin is not None:
        return origin.strip().lower()
    referer = headers.get("referer")
    if referer is None:
        return None
    parts = urlsplit(referer.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme else "null"


def refusal(scope: Scope) -> ForbiddenError | None:
    headers = Headers(scope=scope)
    host = headers.get("host", "")
    if not is_loopback_host(split_host(host)):
        return ForbiddenError(
            f"Host {host[:100]!r} is not a loopback name: a --no-auth server answers only "
            "requests addressed to localhost, 127.0.0.1 or ::1"
        )
    if scope["method"] in SAFE_METHODS:
        return None
    sender = sender_origin(headers)
    if sender is not None and sender != own_origin(scope.get("scheme", "http"), host):
        return ForbiddenError(
            f"cross-site request from {sender[:100]!r} refused: a --no-auth server accepts "
            "changes only from its own pages or from clients that are not browsers"
        )
    return None


class LoopbackOnly:
    """ASGI middleware applying ``refusal`` to every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = refusal(scope)
            if refused is not None:
                await for_error(refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)
