"""The pure HTML extractor: ``extract(url, headers, body)`` -> a JSON-ready dict.

See ``extract.extractor`` for the result's shape; it never raises on any input.
"""

from __future__ import annotations

from domainbatch.extract.extractor import empty_result, extract

__all__ = ["empty_result", "extract"]
