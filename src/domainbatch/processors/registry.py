"""The processor registry.

A processor is an async callable ``(domain, options) -> result dict``. It is built by a factory
``(settings) -> async context manager`` so it can own per-worker resources (an HTTP session, a
resolver) and release them on shutdown. Factories are found by name through the
``domainbatch.processors`` entry-point group, or by dotted path ``package.module:factory``.

Who may name what: the operator (CLI flags, settings such as ``DEFAULT_PROCESSOR``) may name any
factory, dotted paths included; a tenant (API, dashboard) only a registered name or the
operator's default, because resolving a dotted path imports a module inside the server.

A factory declares the options a batch may give it with ``@declare_options(Model)`` (a pydantic
model); one that declares none accepts none. Options are checked when a batch is submitted.

A processor signals a per-domain failure by raising ``DomainProcessingError``; anything else it
raises is recorded as ``internal`` and never aborts the batch.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from importlib.metadata import entry_points
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from domainbatch.errors import InvalidOptionsError, ProcessorNotFoundError
from domainbatch.settings import Settings

GROUP = "domainbatch.processors"


class Processor(Protocol):
    def __call__(self, domain: str, options: Mapping[str, Any]) -> Awaitable[dict[str, Any]]: ...


ProcessorFactory = Callable[[Settings], AbstractAsyncContextManager[Processor]]
F = TypeVar("F", bound=Callable[..., Any])


class NoOptions(BaseModel):
    """The schema of a processor that takes no options: any key is refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


_OPTIONS_ATTRIBUTE = "domainbatch_options"


def declare_options(model: type[BaseModel]) -> Callable[[F], F]:
    """Attach the options schema to a factory: ``@declare_options(MyOptions)`` above ``build``.
    Validation gets ``context={"settings": settings}`` (e.g. to cap a value by a setting)."""

    def attach(factory: F) -> F:
        setattr(factory, _OPTIONS_ATTRIBUTE, model)
        return factory

    return attach


def options_model(factory: ProcessorFactory) -> type[BaseModel]:
    model: type[BaseModel] = getattr(factory, _OPTIONS_ATTRIBUTE, NoOptions)
    return model


def check_options(
    name: str, factory: ProcessorFactory, options: Mapping[str, Any], settings: Settings
) -> BaseModel:
    """The options as the factory's schema reads them; ``InvalidOptionsError`` otherwise."""
    model = options_model(factory)
    try:
        return model.model_validate(dict(options), context={"settings": settings})
    except ValidationError as exc:
        raise InvalidOptionsError(_describe(name, model, exc)) from None


def _describe(name: str, model: type[BaseModel], exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "options"
        problems.append(
            f"unknown option {where!r}"
            if error["type"] == "extra_forbidden"
            else f"option {where!r}: {error['msg']}"
        )
    known = ", ".join(sorted(model.model_fields)) or "none"
    return f"processor {name!r} refuses its options: {'; '.join(problems)} (known: {known})"


# Built-ins resolve without package metadata, so a source checkout works without installing.
_BUILTIN = {
    "noop": "domainbatch.processors.noop:build",
    "dns": "domainbatch.processors.dns:build",
    "homepage": "domainbatch.processors.homepage:build",
}


def registered() -> dict[str, str]:
    """Registered name -> ``module:attr`` (the built-ins and the entry-point group)."""
    names = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    return {**names, **_BUILTIN}


def _import(target: str, name: str) -> ProcessorFactory:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        factory: ProcessorFactory = getattr(module, attr or "build")
    except (Exception, SystemExit) as exc:  # a module failing (or exiting) on import is missing
        raise ProcessorNotFoundError(
            f"processor {name!r} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
    if not callable(factory):
        raise ProcessorNotFoundError(f"processor {name!r} is not a factory (not callable)")
    return factory


def load_processor(name: str, *, allow_paths: bool = True) -> ProcessorFactory:
    """Find a processor factory by registered name or, when ``allow_paths`` (the operator's
    choice, never a tenant's), by ``module:attr`` path."""
    known = registered()
    if name in known:
        return _import(known[name], name)
    if allow_paths and ":" in name:
        return _import(name, name)
    raise ProcessorNotFoundError(f"unknown processor {name!r}; known: {', '.join(sorted(known))}")
