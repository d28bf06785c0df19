"""Processors: the per-domain work, registered by name."""

from domainbatch.processors.registry import Processor, ProcessorFactory, load_processor

__all__ = ["Processor", "ProcessorFactory", "load_processor"]
