"""Our technology fingerprint table: declarative data, compiled by ``extract.technologies``."""

from __future__ import annotations

from domainbatch.extract.fingerprints import frontend, infrastructure, platforms, services
from domainbatch.extract.fingerprints.schema import Category, Fingerprint, OwnSite

FINGERPRINTS: tuple[Fingerprint, ...] = (
    *platforms.FINGERPRINTS,
    *frontend.FINGERPRINTS,
    *services.FINGERPRINTS,
    *infrastructure.FINGERPRINTS,
)

__all__ = ["FINGERPRINTS", "Category", "Fingerprint", "OwnSite"]
