"""The processor registry.

A processor is an async callable ``(domain, options) -> result dict``. It is built by a factory
``(settings) -> async context manager`` so it can own per-worker resources (an HTTP session, a
resolver) and release them on shutdown. Factories are found by name through the
``domainbatch.processors`` entry-point group, or by dotted path ``package.module:factory``.

A processor signals a per-domain failure by raising ``DomainProcessingError``; anything else it
raises is recorded as ``internal`` and never aborts the batch.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from importlib.metadata import entry_points
from typing import Any, Protocol

from domainbatch.errors import ProcessorNotFoundError
from domainbatch.settings import Settings


class Processor(Protocol):
    def __call__(self, domain: str, options: Mapping[str, Any]) -> Awaitable[dict[str, Any]]: ...


ProcessorFactory = Callable[[Settings], AbstractAsyncContextManager[Processor]]

# Built-ins resolve without package metadata, so a source checkout works without installing.
_BUILTIN = {
    "noop": "domainbatch.processors.noop:build",
    "dns": "domainbatch.processors.dns:build",
    "homepage": "domainbatch.processors.homepage:build",
}


def _import(target: str, name: str) -> ProcessorFactory:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        factory: ProcessorFactory = getattr(module, attr or "build")
    except (ImportError, AttributeError) as exc:
        raise ProcessorNotFoundError(f"processor {name!r} cannot be loaded: {exc}") from exc
    return factory


def load_processor(name: str) -> ProcessorFactory:
    """Find a processor factory by registered name or ``module:attr`` path."""
    if name in _BUILTIN:
        return _import(_BUILTIN[name], name)
    for ep in entry_points(group="domainbatch.processors"):
        if ep.name == name:
            return _import(ep.value, name)
    if ":" in name:
        return _import(name, name)
    known = sorted({*_BUILTIN, *(ep.name for ep in entry_points(group="domainbatch.processors"))})
    raise ProcessorNotFoundError(f"unknown processor {name!r}; known: {', '.join(known)}")
