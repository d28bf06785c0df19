"""Tenants and their API keys. A key is shown once, when created; only its SHA-256 digest is
stored. A key is a 256-bit random token, so an unsalted fast hash is enough: there is nothing
to brute-force, and lookup by digest stays one indexed equality."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select, update

from domainbatch.core import ids
from domainbatch.core.models import KeyRecord
from domainbatch.errors import AuthenticationError, ConflictError, InputError
from domainbatch.storage.database import Database
from domainbatch.storage.tables import api_keys, epoch_now, tenants

KEY_PREFIX = "dbk_"
_SHOWN = 12  # characters of a key kept in clear for `keys list`


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str


@dataclass(frozen=True)
class IssuedKey:
    id: str
    key: str = field(repr=False)  # shown once, on purpose; never in a repr or log line
    tenant: Tenant


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_key(db: Database, tenant_name: str) -> IssuedKey:
    """A new key for ``tenant_name``; the tenant is created on first use."""
    name = tenant_name.strip()
    if not name or len(name) > 200:
        raise InputError("a tenant name must be 1 to 200 characters")
    key = new_key()
    key_id = str(uuid.uuid4())
    async with db.transaction() as conn:
        row = (await conn.execute(select(tenants).where(tenants.c.name == name))).first()
        if row is None:
            tenant = Tenant(str(uuid.uuid4()), name)
            await conn.execute(
                tenants.insert().values(id=tenant.id, name=name, created_at=epoch_now())
            )
        else:
            tenant = Tenant(row.id, row.name)
        await conn.execute(
            api_keys.insert().values(
                id=key_id,
                tenant_id=tenant.id,
                prefix=key[:_SHOWN],
                key_hash=digest(key),
                created_at=epoch_now(),
            )
        )
    return IssuedKey(key_id, key, tenant)


async def list_keys(db: Database, tenant_name: str | None = None) -> list[KeyRecord]:
    query = (
        select(api_keys, tenants.c.name.label("tenant"))
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .order_by(api_keys.c.created_at, api_keys.c.id)
    )
    if tenant_name is not None:
        query = query.where(tenants.c.name == tenant_name)
    async with db.connect() as conn:
        rows = await conn.execute(query)
        return [KeyRecord(r.id, r.tenant, r.prefix, r.created_at, r.revoked_at) for r in rows]


async def revoke_key(db: Database, ref: str) -> str:
    """Revoke one key, named by its id, a unique prefix of the id, or the key prefix that
    `keys list` shows. Returns its id."""
    ref = ref.strip()
    async with db.transaction() as conn:
        rows = (
            await conn.execute(
                select(api_keys.c.id, api_keys.c.revoked_at)
                .where(
                    api_keys.c.id.startswith(ref.lower(), autoescape=True)
                    | (api_keys.c.prefix == ref)
                )
                .order_by(api_keys.c.id)
                .limit(ids.SHOWN_CANDIDATES + 1)
            )
        ).all()
        # A key prefix (12 characters) is never a prefix of an id: one rule serves both.
        key_id = ids.pick(ref, [str(r.id) for r in rows], "API key")
        revoked = next(r.revoked_at for r in rows if str(r.id) == key_id)
        if revoked is not None:
            raise ConflictError(f"API key {key_id} is already revoked")
        await conn.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=epoch_now())
        )
    return key_id


async def authenticate(db: Database, key: str) -> Tenant:
    """The tenant a live key belongs to; ``AuthenticationError`` otherwise."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        raise AuthenticationError("the API key is not valid")
    wanted = digest(key)
    async with db.connect() as conn:
        row = (
            await conn.execute(
                select(api_keys.c.key_hash, api_keys.c.revoked_at, tenants.c.id, tenants.c.name)
                .join(tenants, tenants.c.id == api_keys.c.tenant_id)
                .where(api_keys.c.key_hash == wanted)
            )
        ).first()
    # The digest lookup already matched; the constant-time compare keeps the check itself
    # free of timing differences should the lookup ever become a prefix or range scan.
    if row is None or not hmac.compare_digest(row.key_hash, wanted) or row.revoked_at is not None:
        raise AuthenticationError("the API key is not valid")
    return Tenant(row.id, row.name)
