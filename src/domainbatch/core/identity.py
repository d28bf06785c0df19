"""Who is fetching: the User-Agent sent to every site and webhook receiver.

``domainbatch/<version> (+<homepage>; <contact>)``: the version and the Homepage URL come from
the installed package's metadata (``[project.urls]`` in pyproject.toml, the one place to change
it), read once; the contact is the operator's (setting ``CONTACT``), so a site owner who sees
the crawler knows whom to ask. A checkout that is not installed has no metadata: the package's
own version and no URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

__all__ = ["PACKAGE", "default_user_agent", "format_user_agent", "homepage_of", "project"]

PACKAGE = "domainbatch"


@cache
def project() -> tuple[str, str | None]:
    """(version, homepage URL or None) of the installed package."""
    from importlib import metadata  # lazy: it pulls in email, zipfile and csv (~10 ms)

    try:
        meta = metadata.metadata(PACKAGE)
    except metadata.PackageNotFoundError:
        from domainbatch import __version__

        return __version__, None
    return meta["Version"], homepage_of(meta.get_all("Project-URL") or [])


def homepage_of(project_urls: Iterable[str]) -> str | None:
    """The ``Homepage`` of core metadata ``Project-URL`` fields (``"Homepage, https://..."``)."""
    for field in project_urls:
        label, _, url = field.partition(",")
        if label.strip().lower() == "homepage" and url.strip():
            return url.strip()
    return None


def format_user_agent(version: str, homepage: str | None, contact: str | None) -> str:
    details = "; ".join(part for part in (homepage and f"+{homepage}", contact) if part)
    return f"{PACKAGE}/{version} ({details})" if details else f"{PACKAGE}/{version}"


def default_user_agent(contact: str | None = None) -> str:
    """The User-Agent when the operator sets none of their own."""
    version, homepage = project()
    return format_user_agent(version, homepage, contact)
