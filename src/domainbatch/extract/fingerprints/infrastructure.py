"""Servers, CDNs, hosting platforms, languages and server-side frameworks (mostly headers)."""

from __future__ import annotations

from domainbatch.extract.fingerprints.schema import Fingerprint, OwnSite

# A page of the site in PHP or ASP.NET: its URL, or a script, link, anchor or form URL of
# the same site (a link to facebook.com/sharer.php says nothing). Followed by what ends a
# URL's path, or the end of the URL.
_PHP_PAGE = (OwnSite(r"\.php[345]?(?=[?#/]|$)"),)
_ASPX_PAGE = (OwnSite(r"\.aspx(?=[?#/]|$)"), OwnSite(r"/(?:WebResource|ScriptResource)\.axd\?"))

FINGERPRINTS: tuple[Fingerprint, ...] = (
    Fingerprint(
        "Cloudflare",
        "CDN",
        headers={"server": r"^cloudflare$", "cf-ray": "", "cf-cache-status": ""},
        cookies=(r"^__cf_bm$", r"^__cflb$", r"^cf_clearance$"),
        scripts=(r"/cdn-cgi/",),
        html=(r"[\"']/cdn-cgi/(?:l/email-protection|challenge-platform/|scripts/)",),
    ),
    Fingerprint(
        "Fastly",
        "CDN",
        headers={"x-fastly-request-id": "", "fastly-debug-digest": "", "x-served-by": r"^cache-"},
    ),
    Fingerprint(
        "Akamai",
        "CDN",
        headers={
            "server": r"^Akamai(?:GHost|NetStorage)",
            "x-akamai-transformed": "",
            "akamai-grn": "",
            "x-akamai-request-id": "",
            "akamai-cache-status": "",
        },
    ),
    Fingerprint(
        "Amazon CloudFront",
        "CDN",
        headers={
            "x-amz-cf-id": "",
            "x-amz-cf-pop": "",
            "via": r"\(CloudFront\)",
            "server": r"^CloudFront$",
        },
    ),
    Fingerprint("Amazon S3", "CDN", headers={"server": r"^AmazonS3$"}),
    Fingerprint("Varnish", "Reverse proxy", headers={"via": r"\bvarnish\b", "x-varnish": ""}),
    Fingerprint(
        "Vercel",
        "PaaS",
        headers={"server": r"^Vercel$", "x-vercel-id": "", "x-vercel-cache": ""},
    ),
    Fingerprint("Netlify", "PaaS", headers={"server": r"^Netlify", "x-nf-request-id": ""}),
    Fingerprint(
        "GitHub Pages",
        "PaaS",
        headers={"server": r"^GitHub\.com$", "x-github-request-id": ""},
    ),
    Fingerprint("Heroku", "PaaS", headers={"via": r"\bvegur\b"}),
    Fingerprint("nginx", "Web server", headers={"server": r"^nginx(?:/([\d.]+))?"}),
    Fingerprint(
        "OpenResty",
        "Web server",
        headers={"server": r"^openresty(?:/([\d.]+))?"},
        implies=("nginx",),
    ),
    Fingerprint("Apache", "Web server", headers={"server": r"^Apache(?:/([\d.]+))?(?![\w-])"}),
    Fingerprint("Apache Tomcat", "Web server", headers={"server": r"^Apache-Coyote"}),
    Fingerprint("IIS", "Web server", headers={"server": r"^Microsoft-IIS(?:/([\d.]+))?"}),
    Fingerprint(
        "LiteSpeed",
        "Web server",
        headers={"server": r"^LiteSpeed", "x-litespeed-cache": ""},
    ),
    Fingerprint("Caddy", "Web server", headers={"server": r"^Caddy"}),
    Fingerprint(
        "PHP",
        "Programming language",
        headers={"x-powered-by": r"\bPHP(?:/([\d.]+))?"},
        cookies=(r"^PHPSESSID$",),
        scripts=_PHP_PAGE,
        links=_PHP_PAGE,
        anchors=_PHP_PAGE,
        url=_PHP_PAGE,
    ),
    Fingerprint(
        "ASP.NET",
        "Web framework",
        headers={
            "x-powered-by": r"^ASP\.NET",
            "x-aspnet-version": r"^([\d.]+)",
            "x-aspnetmvc-version": "",
        },
        cookies=(r"^ASP\.NET_SessionId$", r"^\.AspNetCore\."),
        html=(r"name=[\"']__VIEWSTATE[\"']",),
        scripts=_ASPX_PAGE,
        links=_ASPX_PAGE,
        anchors=_ASPX_PAGE,
        url=_ASPX_PAGE,
    ),
    Fingerprint(
        "Express",
        "Web framework",
        headers={"x-powered-by": r"^Express$"},
        implies=("Node.js",),
    ),
    Fingerprint(
        "Laravel",
        "Web framework",
        cookies=(r"^laravel_session$",),
        implies=("PHP",),
    ),
    Fingerprint(
        "Django",
        "Web framework",
        html=(r"name=[\"']csrfmiddlewaretoken[\"']",),
        implies=("Python",),
    ),
    Fingerprint(
        "Ruby on Rails",
        "Web framework",
        meta={"csrf-param": r"^authenticity_token$"},
        implies=("Ruby",),
    ),
    Fingerprint("Node.js", "Programming language"),
    Fingerprint("Python", "Programming language"),
    Fingerprint("Ruby", "Programming language"),
)
