"""Social profile links: page and profile URLs only, canonicalized, per platform.

Sources: ``<a href>``, ``<link href>`` (e.g. ``rel="me"``) and JSON-LD ``sameAs``. Share,
intent, sharer, dialog, plugin and tracking URLs, posts/videos/statuses, and the
platforms' own pages (login, help, legal, ``x.com/home``, ``twitter.com/followers``,
``github.com/blog``: each platform's reserved first path segments) are not profiles and are
dropped. Output URLs are ``https://`` on the platform's main host, without query, fragment
or trailing slash (twitter.com links are reported as x.com); at most ``MAX_PROFILES`` in
all, first seen first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domainbatch.extract.document import Document, absolutize

# One cap over all platforms, not per platform: large sites link a profile per country,
# brand or team (dozens on one network), and a cap of 10 per platform lost most of those.
# 50 keeps such sites whole while bounding the record, first seen first, on link farms.
MAX_PROFILES = 50


@dataclass(frozen=True)
class Platform:
    key: str
    hosts: tuple[str, ...]  # registrable hosts
    canonical_host: str
    profile: re.Pattern[str]  # matched against the path; group 1 is the profile path kept
    reserved: frozenset[str]  # lowercased first path segments that are never profiles
    subdomains: re.Pattern[str] = re.compile(r"^(?:www|m|mobile|web|[a-z]{2}(?:-[a-z]{2})?)?$")


def _reserved(words: str) -> frozenset[str]:
    return frozenset(words.lower().split())


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        key="facebook",
        hosts=("facebook.com", "fb.com"),
        canonical_host="www.facebook.com",
        profile=re.compile(
            r"^/((?:pages|people)/[^/]{1,100}/\d{1,20}|groups/[A-Za-z0-9._-]{1,100}"
            r"|(?!(?:pages|people|groups)/?$)[A-Za-z0-9][A-Za-z0-9.-]{0,99})"
            r"(?:/(?:about|reviews|community|services|timeline|events)?)?/?$"
        ),
        reserved=_reserved(
            "sharer sharer.php share share.php dialog plugins tr tr.php login login.php help "
            "policies privacy legal terms events hashtag watch photo photo.php photos story.php "
            "permalink.php l.php ads business marketplace gaming settings home.php search "
            "notes video.php reel reels stories messages recover signup r.php reg logout.php "
            "careers fundraisers donate places games live friends bookmarks saved notifications "
            "media videos apps directory find-friends lite mobile menu checkpoint cookies "
            "policy.php privacy_sandbox about index.php"
        ),
    ),
    Platform(
        key="x",
        hosts=("twitter.com", "x.com"),
        canonical_host="x.com",
        profile=re.compile(r"^/([A-Za-z0-9_]{1,15})/?$"),
        reserved=_reserved(
            "intent share home search hashtag i privacy tos login signup settings explore "
            "notifications messages compose widgets oauth account about download followers "
            "following lists bookmarks communities topics rules terms logout signin "
            "who_to_follow trends tweetbutton favorites mentions retweets"
        ),
    ),
    Platform(
        key="linkedin",
        hosts=("linkedin.com",),
        canonical_host="www.linkedin.com",
        profile=re.compile(r"^/((?:company|in|school|showcase)/[^/]{1,100})(?:/|$)"),
        reserved=_reserved("shareArticle sharing cws feed posts pulse jobs login signup"),
    ),
    Platform(
        key="instagram",
        hosts=("instagram.com",),
        canonical_host="www.instagram.com",
        profile=re.compile(r"^/([A-Za-z0-9._]{1,30})/?$"),
        reserved=_reserved(
            "p reel reels explore accounts stories tv about legal developer direct web "
            "challenge emails session oauth directory create lite download graphql api static "
            "your_activity"
        ),
    ),
    Platform(
        key="youtube",
        hosts=("youtube.com",),
        canonical_host="www.youtube.com",
        profile=re.compile(r"^/((?:channel|c|user)/[^/]{1,100}|@[^/]{1,100})(?:/|$)"),
        reserved=_reserved("watch embed playlist results shorts feed redirect"),
    ),
    Platform(
        key="tiktok",
        hosts=("tiktok.com",),
        canonical_host="www.tiktok.com",
        profile=re.compile(r"^/(@[A-Za-z0-9._]{1,40})/?$"),
        reserved=_reserved("embed share tag music discover"),
    ),
    Platform(
        key="github",
        hosts=("github.com",),
        canonical_host="github.com",
        profile=re.compile(r"^/([A-Za-z0-9][A-Za-z0-9-]{0,38})/?$"),
        reserved=_reserved(
            "about features pricing login join marketplace sponsors topics orgs settings site "
            "security enterprise explore collections trending apps contact customer-stories "
            "readme team home issues pulls notifications new organizations codespaces "
            "education events blog copilot solutions resources partners dashboard search "
            "signup logout sessions password_reset stars watching sitemap mobile git-guides "
            "premium-support nonprofit why-github"
        ),
        subdomains=re.compile(r"^(?:www)?$"),
    ),
    Platform(
        key="pinterest",
        hosts=("pinterest.com", "pinterest.co.uk", "pinterest.ca", "pinterest.fr", "pinterest.de"),
        canonical_host="www.pinterest.com",
        profile=re.compile(r"^/([A-Za-z0-9_]{3,30})/?$"),
        reserved=_reserved(
            "pin search ideas explore _ categories business today login signup logout settings "
            "about discover topics homefeed shopping videos password oauth resource"
        ),
    ),
)
PLATFORM_KEYS = tuple(platform.key for platform in PLATFORMS)
# Cheap prefilter: a link that names none of the platforms' hosts is not resolved at all.
_HOSTS = tuple(host for platform in PLATFORMS for host in platform.hosts)


def _platform_for(host: str) -> Platform | None:
    host = host.lower().rstrip(".")
    for platform in PLATFORMS:
        for registrable in platform.hosts:
            if host == registrable:
                return platform
            if host.endswith("." + registrable):
                sub = host[: -len(registrable) - 1]
                return platform if platform.subdomains.match(sub) else None
    return None


def classify_profile(url: str) -> tuple[str, str] | None:
    """(platform key, canonical profile URL) for a profile link, else None."""
    try:
        parts = urlsplit(url)
        platform = _platform_for(parts.hostname or "")
    except ValueError:
        return None
    if platform is None:
        return None
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    first = path.strip("/").split("/", 1)[0].lower()
    if platform.key == "facebook" and first == "profile.php":
        ids = parse_qs(parts.query).get("id", [])
        if ids and ids[0].isdigit():
            return platform.key, f"https://{platform.canonical_host}/profile.php?id={ids[0]}"
        return None
    if first in platform.reserved:
        return None
    match = platform.profile.match(path)
    if match is None:
        return None
    return platform.key, f"https://{platform.canonical_host}/{match.group(1)}"


def _candidate_links(links: list[str]) -> list[str]:
    """The links that mention a platform host, in order (``str.find`` over all of them)."""
    joined = "\n".join(links)
    lowered = joined.lower()
    starts: set[int] = set()
    for host in _HOSTS:
        position = lowered.find(host)
        while position >= 0:
            starts.add(lowered.rfind("\n", 0, position) + 1)
            line_end = lowered.find("\n", position)
            position = -1 if line_end < 0 else lowered.find(host, line_end)
    found: list[str] = []
    for start in sorted(starts):
        end = joined.find("\n", start)
        found.append(joined[start : end if end >= 0 else len(joined)])
    return found


def find_socials(doc: Document, extra: Iterable[Any] = ()) -> dict[str, list[str]]:
    socials: dict[str, list[str]] = {key: [] for key in PLATFORM_KEYS}
    seen: set[str] = set()
    links = [*doc.anchor_hrefs, *(link.href for link in doc.link_tags)]
    links += [value for value in extra if isinstance(value, str)]
    for href in _candidate_links([link.replace("\n", " ") for link in links]):
        url = absolutize(doc.base_url, href)
        found = classify_profile(url) if url else None
        if found is None:
            continue
        key, profile = found
        if profile.lower() not in seen:
            seen.add(profile.lower())
            socials[key].append(profile)
            if len(seen) >= MAX_PROFILES:
                break
    return socials
