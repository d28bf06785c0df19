"""Our technology database, in the Wappalyzer format: data only, no code.

``categories.json`` (id -> ``{"name"}``) and ``technologies/*.json`` (name -> definition,
a name defined once across all files), read on first use by ``fingerprint_table.builtin_table``
with the loader and translator that read users' databases (``extract.wappalyzer``). Each
definition has exactly one category (``cats``) and a ``website``.

Every pattern is a case-insensitive regular expression. A version comes only from the tag
``\\;version:TEMPLATE`` (``\\1`` is group 1; a fixed text like ``GA4`` also works). An empty
pattern means "present" (for a header or meta name). Fields read: ``headers``, ``meta``,
``scriptSrc`` (``<script src>`` URLs), ``html`` (a bounded prefix of the raw HTML, comments
blanked: commented-out code proves nothing), ``url`` (the page URL), ``implies``, and what
Wappalyzer reads besides (``scripts``, ``cookies``, ``dom``...; see ``wappalyzer.translation``).

What the Wappalyzer format cannot say is written as extensions, which Wappalyzer's tools
ignore (they skip unknown fields and tags):

- ``links``: ``<link href>`` URLs (stylesheets, preloads, icons);
- ``anchors``: ``<a href>`` and ``<form action>`` URLs;
- ``comments``: the HTML comments, ``<!--`` to ``-->``, one per line (banners);
- ``cookieNames``: regexes on the names of the cookies the response sets (Wappalyzer's
  ``cookies`` maps one exact name to a value pattern);
- the tag ``\\;site:own``: for what only a site's own URLs prove (a CMS's directories,
  ``.php`` pages), a match counts only inside a URL that is relative or on the page's
  registrable domain, never in a link to another site (``extract.provenance``).
"""
