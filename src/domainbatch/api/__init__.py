"""The HTTP service: ``create_app(settings)`` builds the FastAPI application (nothing is built
or connected at import time)."""

from domainbatch.api.app import create_app

__all__ = ["create_app"]
