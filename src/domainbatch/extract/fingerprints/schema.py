"""The shape of one fingerprint: where to look and what to look for.

Every pattern is a case-insensitive regular expression. When it has a capturing group,
group 1 is the version. A pattern may end with ``\\;version:TEMPLATE`` (as in Wappalyzer) to
give a fixed version or rewrite one: ``TEMPLATE`` may use ``\\1``. An empty pattern means
"present" (for a header or meta name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Category = Literal[
    "Analytics",
    "CDN",
    "CMS",
    "Cookie consent",
    "CSS framework",
    "E-commerce",
    "Font",
    "Forms",
    "JavaScript framework",
    "JavaScript library",
    "Live chat",
    "Marketing automation",
    "PaaS",
    "Page builder",
    "Payments",
    "Programming language",
    "Reverse proxy",
    "Security",
    "SEO",
    "Static site generator",
    "Tag manager",
    "Web framework",
    "Web server",
    "Website builder",
]


@dataclass(frozen=True)
class Fingerprint:
    name: str
    category: Category
    headers: dict[str, str] = field(default_factory=dict)  # lowercased name -> value
    cookies: tuple[str, ...] = ()  # cookie names set by the response
    meta: dict[str, str] = field(default_factory=dict)  # lowercased meta name -> content
    scripts: tuple[str, ...] = ()  # <script src> URLs
    links: tuple[str, ...] = ()  # <link href> URLs (stylesheets, preloads, icons)
    html: tuple[str, ...] = ()  # the raw HTML (a bounded prefix)
    url: tuple[str, ...] = ()  # the page URL
    implies: tuple[str, ...] = ()
