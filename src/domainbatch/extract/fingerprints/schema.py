"""The shape of one fingerprint: where to look and what to look for.

Every pattern is a case-insensitive regular expression. When it has a capturing group,
group 1 is the version. A pattern may end with ``\\;version:TEMPLATE`` (as in Wappalyzer) to
give a fixed version or rewrite one: ``TEMPLATE`` may use ``\\1``. An empty pattern means
"present" (for a header or meta name).

A pattern made with :class:`OwnSite` is for what only a site's own URLs prove (a CMS's
directories, ``.php`` pages): a match counts only inside a URL that is relative or on the
page's registrable domain, never in a link to another site. The HTML is read with its
comments blanked (commented-out code proves nothing); ``comments`` reads them (banners).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Category = Literal[
    "A/B testing",
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


class OwnSite(str):
    """A pattern that counts only inside a URL of the page's own site (see above)."""

    __slots__ = ()


@dataclass(frozen=True)
class Fingerprint:
    name: str
    category: Category
    headers: dict[str, str] = field(default_factory=dict)  # lowercased name -> value
    cookies: tuple[str, ...] = ()  # cookie names set by the response
    meta: dict[str, str] = field(default_factory=dict)  # lowercased meta name -> content
    scripts: tuple[str, ...] = ()  # <script src> URLs
    links: tuple[str, ...] = ()  # <link href> URLs (stylesheets, preloads, icons)
    anchors: tuple[str, ...] = ()  # <a href> and <form action> URLs
    html: tuple[str, ...] = ()  # the raw HTML (a bounded prefix), comments blanked
    comments: tuple[str, ...] = ()  # the HTML comments, "<!--" to "-->", one per line
    url: tuple[str, ...] = ()  # the page URL
    implies: tuple[str, ...] = ()
