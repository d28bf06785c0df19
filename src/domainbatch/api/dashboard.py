"""The web dashboard (placeholder until the templates land)."""

from __future__ import annotations

from fastapi import APIRouter

from domainbatch.settings import Settings


def build_router(settings: Settings, require_auth: bool) -> APIRouter:
    return APIRouter(include_in_schema=False)
