"""Social profile links: profiles kept and canonicalized, share/intent/content URLs dropped."""

from __future__ import annotations

import pytest

from domainbatch.extract import extract
from domainbatch.extract.socials import MAX_PROFILES, PLATFORM_KEYS, classify_profile


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.facebook.com/acme/", ("facebook", "https://www.facebook.com/acme")),
        ("http://m.facebook.com/acme?ref=bookmarks", ("facebook", "https://www.facebook.com/acme")),
        ("https://fb.com/acme", ("facebook", "https://www.facebook.com/acme")),
        ("https://www.facebook.com/acme/about", ("facebook", "https://www.facebook.com/acme")),
        (
            "https://www.facebook.com/profile.php?id=100064",
            ("facebook", "https://www.facebook.com/profile.php?id=100064"),
        ),
        ("https://www.facebook.com/sharer/sharer.php?u=x", None),
        ("https://www.facebook.com/sharer.php?u=x", None),
        ("https://www.facebook.com/dialog/feed?app_id=1", None),
        ("https://www.facebook.com/tr?id=1&ev=PageView", None),
        ("https://www.facebook.com/plugins/page.php?href=x", None),
        ("https://www.facebook.com/acme/posts/123", None),
        ("https://developers.facebook.com/docs", None),
        ("https://twitter.com/Acme", ("x", "https://x.com/Acme")),
        ("https://mobile.twitter.com/acme/", ("x", "https://x.com/acme")),
        ("https://x.com/acme", ("x", "https://x.com/acme")),
        ("https://twitter.com/intent/tweet?text=x", None),
        ("https://twitter.com/share?url=x", None),
        ("https://twitter.com/acme/status/1", None),
        ("https://twitter.com/i/web/status/1", None),
        ("https://twitter.com/this_handle_is_too_long", None),
        (
            "https://www.linkedin.com/company/acme-inc/about/",
            ("linkedin", "https://www.linkedin.com/company/acme-inc"),
        ),
        (
            "https://uk.linkedin.com/in/jane-doe",
            ("linkedin", "https://www.linkedin.com/in/jane-doe"),
        ),
        ("https://www.linkedin.com/shareArticle?mini=true&url=x", None),
        ("https://www.linkedin.com/sharing/share-offsite/?url=x", None),
        ("https://www.linkedin.com/feed/", None),
        ("https://www.instagram.com/acme.co/", ("instagram", "https://www.instagram.com/acme.co")),
        ("https://www.instagram.com/p/Cabc/", None),
        ("https://www.instagram.com/explore/tags/x/", None),
        ("https://www.youtube.com/@acme", ("youtube", "https://www.youtube.com/@acme")),
        (
            "https://youtube.com/channel/UCx/videos",
            ("youtube", "https://www.youtube.com/channel/UCx"),
        ),
        ("https://www.youtube.com/watch?v=abc", None),
        ("https://www.youtube.com/embed/abc", None),
        ("https://youtu.be/abc", None),
        ("https://www.tiktok.com/@acme", ("tiktok", "https://www.tiktok.com/@acme")),
        ("https://www.tiktok.com/@acme/video/1", None),
        ("https://github.com/acme", ("github", "https://github.com/acme")),
        ("https://github.com/acme/repo", None),
        ("https://github.com/features", None),
        ("https://github.com/blog", None),
        ("https://github.com/github", ("github", "https://github.com/github")),
        ("https://twitter.com/followers", None),
        ("https://x.com/home", None),
        ("https://x.com/following", None),
        ("https://x.com/tos", None),
        ("https://www.facebook.com/sharer", None),
        ("https://www.facebook.com/pages", None),
        ("https://www.facebook.com/groups/", None),
        ("https://www.facebook.com/people", None),
        (
            "https://www.facebook.com/groups/acmefans",
            ("facebook", "https://www.facebook.com/groups/acmefans"),
        ),
        (
            "https://www.facebook.com/pages/Acme/123",
            ("facebook", "https://www.facebook.com/pages/Acme/123"),
        ),
        ("https://www.facebook.com/pagesacme", ("facebook", "https://www.facebook.com/pagesacme")),
        ("https://www.facebook.com/careers", None),
        ("https://www.linkedin.com/shareArticle", None),
        ("https://www.instagram.com/accounts/", None),
        ("https://www.instagram.com/web/", None),
        ("https://www.pinterest.com/settings/", None),
        ("https://gist.github.com/acme", None),
        ("https://www.pinterest.co.uk/acme/", ("pinterest", "https://www.pinterest.com/acme")),
        ("https://www.pinterest.com/pin/create/button/?url=x", None),
        ("https://www.pinterest.com/pin/123/", None),
        ("https://notfacebook.com/acme", None),
        ("https://facebook.com.evil.test/acme", None),
        ("mailto:acme@facebook.com", None),
    ],
)
def test_classify_profile(url: str, expected: tuple[str, str] | None) -> None:
    assert classify_profile(url) == expected


def test_sources_dedupe_and_stable_keys() -> None:
    html = (
        '<link rel="me" href="https://github.com/acme">'
        '<a href="https://twitter.com/acme">t</a><a href="https://x.com/ACME/">x</a>'
        '<a href="//www.instagram.com/acme">protocol-relative</a>'
        '<script type="application/ld+json">{"@type":"Organization","name":"Acme",'
        '"sameAs":["https://www.linkedin.com/company/acme"]}</script>'
    )
    result = extract("https://acme.test/", [], html.encode())
    assert list(result["socials"]) == list(PLATFORM_KEYS)
    assert result["socials"]["x"] == ["https://x.com/acme"]
    assert result["socials"]["github"] == ["https://github.com/acme"]
    assert result["socials"]["instagram"] == ["https://www.instagram.com/acme"]
    assert result["socials"]["linkedin"] == ["https://www.linkedin.com/company/acme"]


def test_many_profiles_of_one_network_are_kept_up_to_the_total_cap() -> None:
    facebook = "".join(f'<a href="https://www.facebook.com/acme{i}">f</a>' for i in range(12))
    result = extract("https://acme.test/", [], facebook.encode())
    assert len(result["socials"]["facebook"]) == 12
    many = "".join(
        f'<a href="https://www.instagram.com/acme{i}">i</a><a href="https://x.com/acme{i}">x</a>'
        for i in range(MAX_PROFILES)
    )
    socials = extract("https://acme.test/", [], many.encode())["socials"]
    assert sum(len(urls) for urls in socials.values()) == MAX_PROFILES
    # First seen first: the cap keeps the page's order across networks.
    assert socials["instagram"][:2] == [
        "https://www.instagram.com/acme0",
        "https://www.instagram.com/acme1",
    ]
    assert socials["x"][0] == "https://x.com/acme0"
