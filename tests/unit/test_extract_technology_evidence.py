"""What counts as evidence of a technology (issue 13): the page's own URLs only for paths,
no commented-out code, hashed and bundled script names, and signals once ignored."""

from __future__ import annotations

from typing import Any

import pytest

from domainbatch.extract import extract


def techs(html: str, url: str = "https://www.acme.com/") -> dict[str, Any]:
    result = extract(url, [], html.encode())
    assert result["errors"] == []
    return {tech["name"]: tech["version"] for tech in result["technologies"]}


# Paths: a CMS's directories count on the page's own site only, and PHP follows only them.


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://otherblog.com/wp-content/uploads/2023/01/a.jpg">a post</a>',
        '<img src="https://cdn.other.org/wp-includes/images/w-logo-blue.png">',
        '<link rel="stylesheet" href="https://other.com/wp-content/themes/x/style.css">',
        '<script src="//widgets.other.net/wp-content/plugins/woocommerce/a.js?ver=8.0.1"></script>',
        '<a href="https://www.drupal.org/sites/default/files/logo.png">Drupal</a>',
        '<a href="https://other.de/media/system/js/core.js">x</a>',
        '<a href="https://other.de/components/com_content/x">x</a>',
        '<img src="https://other.de/typo3temp/assets/x.png">',
        '<script src="https://shop.other.com/static/version1/frontend/a.js"></script>',
        "<div style=\"background:url('https://other.com/wp-content/uploads/b.png')\"></div>",
        '<a href="https://other.com/?next=x&amp;u=https://x.org/wp-content/a.png">x</a>',
    ],
)
def test_paths_on_other_sites_are_not_evidence(html: str) -> None:
    assert techs(html) == {}


def test_a_shared_public_suffix_is_not_the_same_site() -> None:
    html = '<a href="https://other.co.uk/wp-content/uploads/a.jpg">x</a>'
    assert techs(html, "https://www.acme.co.uk/") == {}


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<img src="/wp-content/uploads/a.jpg">', {"WordPress": None, "PHP": None}),
        (
            '<link rel="stylesheet" href="https://cdn.acme.com/wp-content/themes/x/s.css">',
            {"WordPress": None, "PHP": None},
        ),
        (
            '<img src="//acme.com/sites/default/files/logo.png">',
            {"Drupal": None, "PHP": None},
        ),
        (
            '<a href="https://other.com/wp-content/a.jpg">x</a><img src="/wp-content/b.jpg">',
            {"WordPress": None, "PHP": None},
        ),
        (
            '<script src="https://www.acme.com/wp-content/plugins/woocommerce/a.js?ver=8.0.1">'
            "</script>",
            {"WooCommerce": "8.0.1", "WordPress": None, "PHP": None},
        ),
    ],
)
def test_paths_on_the_own_site_are_evidence(html: str, expected: dict[str, Any]) -> None:
    assert techs(html) == expected


# Hashed and bundled script names.


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("/static/js/jquery.min.41de23c0710f.js", {"jQuery": None}),
        ("/static/js/jquery.41de23c0710f.js", {"jQuery": None}),
        ("https://code.jquery.com/jquery-3.6.0.min.js", {"jQuery": "3.6.0", "jQuery CDN": None}),
        ("jquery-3.6.0.min.js", {"jQuery": "3.6.0"}),
        ("/bundles/jquery?v=AbC123xYz", {"jQuery": None}),
        ("/static/js/bootstrap.min.c5b5b2fa19bd.js", {"Bootstrap": None}),
        ("/js/bootstrap.bundle.min.js", {"Bootstrap": None}),
        ("/js/bootstrap-4.6.2.bundle.min.js", {"Bootstrap": "4.6.2"}),
        ("bootstrap.min.js", {"Bootstrap": None}),
        ("/bundles/bootstrap?v=AbC123xYz", {"Bootstrap": None}),
        # A plugin named after the library is the plugin, never the library's version.
        ("/js/jquery.validate.min.js", {"jQuery Validation": None, "jQuery": None}),
        ("/js/bootstrap-datepicker.min.js", {}),
        ("/bundles/jqueryval?v=AbC123xYz", {}),
        # Look-alike file names of other software.
        ("https://nexus.ensighten.com/acme/prod/Bootstrap.js", {"Ensighten": None}),
        ("/js/preact.min.js", {"Preact": None}),
        ("/js/react.production.min.js", {"React": None}),
        # A copy of a CDN's file on the site itself is not the CDN.
        ("/vendor/cdn.jsdelivr.net/npm/lodash@4.17.5/lodash.min.js", {"Lodash": "4.17.5"}),
        (
            "https://cdn.jsdelivr.net/npm/lodash@4.17.5/lodash.min.js",
            {"Lodash": "4.17.5", "jsDelivr": None},
        ),
        ("//unpkg.com/htmx.org@1.9.10", {"htmx": "1.9.10", "unpkg": None}),
    ],
)
def test_hashed_and_bundled_script_names(src: str, expected: dict[str, Any]) -> None:
    assert techs(f'<script src="{src}"></script>') == expected


def test_hashed_stylesheet_name() -> None:
    html = '<link rel="stylesheet" href="/static/css/bootstrap.min.c5b5b2fa19bd.css">'
    assert techs(html) == {"Bootstrap": None}


# Commented-out code is not evidence; Google Optimize's GTM- ids are not Tag Manager.


@pytest.mark.parametrize(
    "html",
    [
        "<!-- <script>(function(h,o,t,j,a,r){h._hjSettings={hjid:1234567,hjsv:6};"
        "})(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');</script> -->",
        '<!--<div class="g-recaptcha" data-sitekey="6Lc"></div>-->',
        '<!-- <script src="https://www.google.com/recaptcha/api.js"></script> -->',
        "<!-- Google Tag Manager\n<script>(function(w,d,s,l,i){j.src="
        "'https://www.googletagmanager.com/gtm.js?id='+i;})"
        "(window,document,'script','dataLayer','GTM-ABC1234');</script>\n-->",
        "<p>x</p><!-- unclosed: <script src='https://static.hotjar.com/c/h.js'></script>",
    ],
)
def test_commented_out_snippets_are_not_evidence(html: str) -> None:
    assert techs(html) == {}


def test_code_inside_a_script_is_not_a_comment() -> None:
    html = "<script><!--\n window._hjSettings={hjid:1234567};\n//--></script><!-- a comment -->"
    assert techs(html) == {"Hotjar": None}


def test_banner_comments_still_count() -> None:
    html = "<!-- This site is optimized with the Yoast SEO plugin v21.7 - https://yoast.com -->"
    assert techs(html) == {"Yoast SEO": "21.7", "WordPress": None, "PHP": None}


_GTM = (
    "<script>(function(w,d,s,l,i){j.src='https://www.googletagmanager.com/gtm.js?id='+i;})"
    "(window,document,'script','dataLayer','GTM-ABC1234');</script>"
)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<script src="https://www.googleoptimize.com/optimize.js?id=GTM-ABC1234"></script>',
            {"Google Optimize": None},
        ),
        (
            '<script src="https://www.googleoptimize.com/optimize.js?id=OPT-ABC1234"></script>',
            {"Google Optimize": None},
        ),
        (
            "<script>ga('create','UA-1-1','auto');ga('require','GTM-ABC1234');</script>",
            {"Google Optimize": None},
        ),
        (
            "<script>(function(a,s,y,n,c,h,i,d,e){s.className+=' '+y;})"
            "(window,document.documentElement,'async-hide','dataLayer',4000,"
            "{'GTM-ABC1234':true});</script>",
            {"Google Optimize": None},
        ),
        ("<script>gtag('config', 'GTM-ABC1234');</script>", {"Google Optimize": None}),
        (
            "<script>gtag('config', 'UA-1-1', { 'optimize_id': 'GTM-ABC1234'});</script>",
            {"Google Optimize": None, "Google Analytics": "UA"},
        ),
        (_GTM, {"Google Tag Manager": None}),
        (
            _GTM + "<script>ga('require','GTM-XYZ9876');</script>",
            {"Google Tag Manager": None, "Google Optimize": None},
        ),
        (
            "<script>(function(w,d,s,l,i){j.src='https://sgtm.acme.com/gtm.js?id='+i;})"
            "(window,document,'script','dataLayer','GTM-ABC1234');</script>",
            {"Google Tag Manager": None},
        ),
    ],
)
def test_google_optimize_is_not_tag_manager(html: str, expected: dict[str, Any]) -> None:
    assert techs(html) == expected


# Signals once ignored.


@pytest.mark.parametrize(
    ("url", "html", "expected"),
    [
        ("https://www.acme.com/index.php", "<p>x</p>", {"PHP": None}),
        ("https://www.acme.com/index.php?id=3", "<p>x</p>", {"PHP": None}),
        ("https://www.acme.com/Default.aspx", "<p>x</p>", {"ASP.NET": None}),
        ("https://www.acme.com/", '<a href="/contact.php">Contact</a>', {"PHP": None}),
        ("https://www.acme.com/", '<a href="news.php?id=3">News</a>', {"PHP": None}),
        (
            "https://www.acme.com/",
            '<form action="Search.aspx" method="post"></form>',
            {"ASP.NET": None},
        ),
        (
            "https://www.acme.com/",
            '<a href="https://shop.acme.com/cart.php">Cart</a>',
            {"PHP": None},
        ),
    ],
)
def test_php_and_aspx_urls_of_the_own_site(url: str, html: str, expected: dict[str, Any]) -> None:
    assert techs(html, url) == expected


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://www.facebook.com/sharer.php?u=x">Share</a>',
        '<a href="https://www.facebook.com/profile.php?id=100064">Facebook</a>',
        '<form action="https://www.paypal.com/cgi-bin/webscr.php"></form>',
        '<a href="https://maps.other.com/default.aspx">Map</a>',
        "<script>var u='//stats.acme.com/';_paq.push(['setTrackerUrl', u+'x.php']);</script>",
        "<p>Edit wp-config.php, then upload.php.</p>",
    ],
)
def test_php_and_aspx_urls_elsewhere_are_not_evidence(html: str) -> None:
    assert "PHP" not in techs(html) and "ASP.NET" not in techs(html)


def test_legacy_urchin() -> None:
    html = (
        '<script src="http://www.google-analytics.com/urchin.js" type="text/javascript">'
        '</script><script>_uacct = "UA-12345-1"; urchinTracker();</script>'
    )
    assert techs(html) == {"Google Analytics": "Urchin"}


@pytest.mark.parametrize(
    "src",
    [
        "https://cdn.cookielaw.org/scripttemplates/otSDKStub.js",
        "https://cdn-ukwest.onetrust.com/scripttemplates/otSDKStub.js",
        "https://cdn-apac.onetrust.com/scripttemplates/otSDKStub.js",
        "https://optanon.blob.core.windows.net/consent/x/otSDKStub.js",
        "/assets/onetrust/scripttemplates/otSDKStub.js",
    ],
)
def test_onetrust_from_any_host(src: str) -> None:
    html = f'<script src="{src}" data-domain-script="0a1b"></script>'
    assert techs(html) == {"OneTrust": None}


# Signals the hand-labelled real pages showed (tests/fixtures/real): their near misses.


@pytest.mark.parametrize(
    "html",
    [
        # A plain link to a shop, a payment site or a map is no integration.
        '<a href="https://www.amazon.com/dp/0692681310">Buy the book</a>',
        '<a href="https://www.amazon.com/s?k=batch+files&tag=not-an-affiliate">x</a>',
        '<a href="https://www.paypal.com/">We accept PayPal</a>',
        '<a href="https://www.google.com/maps?q=Venice+Blvd">Directions</a>',
        '<a href="https://www.google.com/search?q=cse">Search</a>',
        # Class names that only start like a library's.
        '<div class="flexslider-nav"></div><div class="flexslider_views_slideshow_main"></div>',
        '<div class="pure-gallery"></div><div class="my-layui-box"></div>',
        '<a class="github-button-like" href="https://github.com/acme">GitHub</a>',
        # Another library's hash-prefixed files.
        '<script src="/js/7b7d3868.bootstrap-image-gallery.js"></script>',
        '<script src="/js/e9dad1b6.jquery.singlePageNav.js"></script>',
        # A generator name that only starts like WML's.
        '<meta name="generator" content="WMLScript editor">',
        # Jetpack's directory in another site's URL.
        '<link rel="stylesheet" href="https://other.org/wp-content/plugins/jetpack/css/a.css">',
        # Dreamweaver's behaviours only mentioned, not defined or called.
        "<p>Old pages call MM_preloadImages from the body's onload.</p>",
    ],
)
def test_near_misses_of_real_page_signals(html: str) -> None:
    assert techs(html) == {}


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<link rel="stylesheet" href="/wp-content/plugins/jetpack/css/jetpack.css?ver=12.8">',
            {"Jetpack": None, "WordPress": None, "PHP": None},
        ),
        (
            '<script src="https://c0.wp.com/p/jetpack/12.8/_inc/build/photon/photon.min.js">'
            "</script>",
            {"Jetpack": "12.8", "WordPress": None, "PHP": None},
        ),
        (
            '<a href="https://www.amazon.de/dp/B01?tag=acme-21&amp;linkCode=ll1">Buch</a>',
            {"Amazon Associates": None},
        ),
        ('<form action="https://www.paypal.com/donate/?hosted_button_id=AB12">', {"PayPal": None}),
        (
            '<form action="https://acme.us4.list-manage.com/subscribe/post?u=1&amp;id=2"></form>',
            {"Mailchimp": None},
        ),
        ('<meta name="generator" content="WordPress 6.4">', {"WordPress": "6.4", "PHP": None}),
    ],
)
def test_real_page_signals(html: str, expected: dict[str, Any]) -> None:
    assert techs(html) == expected


# Seen on the real pages (tests/fixtures/real): a dotted jQuery UI file name, React Helmet's
# attribute on server-rendered React, concrete5's page wrapper.


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<script src="/web/script/jquery.ui-1.10.3.js"></script>',
            {"jQuery UI": "1.10.3", "jQuery": None},
        ),
        ('<title data-react-helmet="true">The Gathering</title>', {"React": None}),
        (
            "<div class='ccm-page page-type-home'><p>Hi</p></div>",
            {"Concrete CMS": None, "PHP": None},
        ),
        ("<p>Our ccm-page guide</p>", {}),
    ],
)
def test_real_page_evidence(html: str, expected: dict[str, Any]) -> None:
    assert techs(html) == expected
