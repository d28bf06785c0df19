"""The service layer: what entry points (CLI, API, dashboard, validation scripts) may do,
bound to who is asking. Built by the composition root, ``domainbatch.runtime.Runtime``."""

from domainbatch.service.batches import OPERATOR, Batches, Caller, CreatedBatch
from domainbatch.service.system import (
    FleetGauges,
    IssuedKey,
    System,
    Tenant,
    describe_database,
    key_digest,
)

__all__ = [
    "OPERATOR",
    "Batches",
    "Caller",
    "CreatedBatch",
    "FleetGauges",
    "IssuedKey",
    "System",
    "Tenant",
    "describe_database",
    "key_digest",
]
