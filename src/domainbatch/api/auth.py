"""Who is calling: a Bearer API key names a tenant, and every batch query is scoped to it.

The dashboard keeps the key in an HttpOnly, SameSite=Strict cookie; the API accepts that cookie
for reads only (GET/HEAD, e.g. the browser's EventSource, which cannot send headers), so a
cross-site form can never use it to change anything. Writes need the Authorization header (or
go through the dashboard's own same-origin form routes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domainbatch.engine.worker import Worker
from domainbatch.errors import AuthenticationError
from domainbatch.runtime import Runtime
from domainbatch.service import Batches, Caller, key_digest

COOKIE = "domainbatch_key"

bearer = HTTPBearer(auto_error=False, description="An API key from `domainbatch keys create`")


@dataclass(frozen=True)
class Principal:
    """The caller. ``tenant_id`` None means unscoped (a ``--no-auth`` server sees everything)."""

    tenant_id: str | None
    tenant_name: str | None = None

    def batches(self, svc: Service) -> Batches:
        """The batches as this caller may use them: never the operator's rights (a web caller
        names registered processors only)."""
        return svc.runtime.batches(Caller(tenant_id=self.tenant_id, operator=False))


KEY_CACHE_SECONDS = 5.0  # a revoked key stops working within this long
KEY_CACHE_SIZE = 1024


@dataclass
class Service:
    """What the routes share, built in the app's lifespan."""

    runtime: Runtime
    require_auth: bool
    worker: Worker | None = None
    # digest -> (principal, expiry): a client polling status ten times a second costs one
    # key lookup per few seconds instead of one per request.
    keys: dict[str, tuple[Principal, float]] = field(default_factory=dict)


def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


async def principal_for_key(svc: Service, key: str | None) -> Principal:
    if not svc.require_auth:
        return Principal(None)
    if not key:
        raise AuthenticationError("an API key is required: send 'Authorization: Bearer <key>'")
    hashed = key_digest(key)
    cached = svc.keys.get(hashed)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        return cached[0]
    tenant = await svc.runtime.system().authenticate(key)
    if len(svc.keys) >= KEY_CACHE_SIZE:
        svc.keys.clear()
    who = Principal(tenant.id, tenant.name)
    svc.keys[hashed] = (who, now + KEY_CACHE_SECONDS)
    return who


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    key = credentials.credentials if credentials is not None else None
    if key is None and request.method in ("GET", "HEAD"):
        key = request.cookies.get(COOKIE)
    if key is None and request.headers.get("authorization"):
        raise AuthenticationError("use 'Authorization: Bearer <key>'")
    return await principal_for_key(service(request), key)


async def caller_batches(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> Batches:
    return who.batches(service(request))
