"""domainbatch: a batch processor for domains."""

__version__ = "0.1.0"
