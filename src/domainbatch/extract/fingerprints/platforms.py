"""CMS, e-commerce platforms, website builders, page builders and static site generators."""

from __future__ import annotations

from domainbatch.extract.fingerprints.schema import Fingerprint, OwnSite

# A CMS's directories prove it on the page's own site only (OwnSite): pages link to others.
_WP_DIRS = OwnSite(r"/wp-(?:content|includes)/")


def _wp_plugin(name: str) -> tuple[OwnSite, OwnSite]:
    """A WordPress plugin's directory: with its ``?ver=`` version, then without."""
    return (
        OwnSite(rf"/wp-content/plugins/{name}/[^?\s]*\?ver=([\d.]+)"),
        OwnSite(rf"/plugins/{name}/"),
    )


FINGERPRINTS: tuple[Fingerprint, ...] = (
    Fingerprint(
        "WordPress",
        "CMS",
        meta={"generator": r"^WordPress(?: ([\d.]+))?"},
        headers={"link": r"api\.w\.org", "x-pingback": r"/xmlrpc\.php"},
        scripts=(
            OwnSite(r"/wp-includes/js/(?:wp-emoji|wp-embed|comment-reply)[^?\s]*\?ver=([\d.]+)"),
            _WP_DIRS,
        ),
        links=(
            OwnSite(r"/wp-includes/css/dist/block-library/style(?:\.min)?\.css\?ver=([\d.]+)"),
            _WP_DIRS,
            OwnSite(r"/wp-json/"),
        ),
        html=(_WP_DIRS,),
        cookies=(r"^wordpress_", r"^wp-settings-"),
        implies=("PHP",),
    ),
    Fingerprint(
        "WooCommerce",
        "E-commerce",
        meta={"generator": r"^WooCommerce ([\d.]+)"},
        scripts=_wp_plugin("woocommerce"),
        links=_wp_plugin("woocommerce"),
        cookies=(r"^woocommerce_", r"^wp_woocommerce_session_"),
        implies=("WordPress",),
    ),
    Fingerprint(
        "Elementor",
        "Page builder",
        meta={"generator": r"^Elementor ([\d.]+)"},
        scripts=_wp_plugin("elementor"),
        links=_wp_plugin("elementor"),
        html=(r"class=[\"'][^\"']*elementor-kit-\d",),
        implies=("WordPress",),
    ),
    Fingerprint(
        "Yoast SEO",
        "SEO",
        comments=(r"<!-- This site is optimized with the Yoast SEO (?:Premium )?plugin v([\d.]+)",),
        html=(r"class=[\"']yoast-schema-graph",),
        implies=("WordPress",),
    ),
    Fingerprint(
        "Contact Form 7",
        "Forms",
        scripts=_wp_plugin("contact-form-7"),
        links=_wp_plugin("contact-form-7")[:1],
        implies=("WordPress",),
    ),
    Fingerprint(
        "Shopify",
        "E-commerce",
        headers={
            "x-shopify-stage": "",
            "x-shopid": "",
            "x-sorting-hat-shopid": "",
            "powered-by": r"^Shopify",
        },
        cookies=(r"^_shopify_",),
        scripts=(r"cdn\.shopify\.com/", r"/cdn/shop/"),
        links=(r"cdn\.shopify\.com/",),
        html=(r"\bShopify\.theme\s*=", r"window\.Shopify\b"),
        url=(r"^https?://[^/]+\.myshopify\.com",),
    ),
    Fingerprint(
        "BigCommerce",
        "E-commerce",
        scripts=(r"bigcommerce\.com/",),
        links=(r"cdn\d*\.bigcommerce\.com/",),
        html=(r"cdn\d*\.bigcommerce\.com/",),
    ),
    Fingerprint(
        "Magento",
        "E-commerce",
        cookies=(r"^X-Magento-Vary$", r"^mage-"),
        scripts=(
            OwnSite(r"/static/(?:version\d+/)?frontend/"),
            OwnSite(r"/mage/"),
            r"requirejs-config\.js",
        ),
        html=(r"text/x-magento-init", r"\bMagento_[A-Z]\w+/"),
        implies=("PHP",),
    ),
    Fingerprint(
        "PrestaShop",
        "E-commerce",
        meta={"generator": r"^PrestaShop"},
        cookies=(r"^PrestaShop-",),
        html=(r"\bvar prestashop\s*=",),
        implies=("PHP",),
    ),
    Fingerprint(
        "Wix",
        "Website builder",
        meta={"generator": r"^Wix\.com Website Builder"},
        headers={"x-wix-request-id": ""},
        scripts=(r"static\.parastorage\.com/",),
        html=(r"static\.(?:wixstatic|parastorage)\.com/",),
    ),
    Fingerprint(
        "Squarespace",
        "Website builder",
        headers={"server": r"^Squarespace"},
        scripts=(r"\.squarespace(?:-cdn)?\.com/",),
        links=(r"\.squarespace(?:-cdn)?\.com/",),
        comments=(r"<!-- This is Squarespace\. -->",),
        html=(r"Static\.SQUARESPACE_CONTEXT",),
    ),
    Fingerprint(
        "Webflow",
        "Website builder",
        meta={"generator": r"^Webflow"},
        html=(r"\sdata-wf-(?:page|site)=",),
        scripts=(r"website-files\.com/",),
    ),
    Fingerprint(
        "Drupal",
        "CMS",
        meta={"generator": r"^Drupal(?: (\d+))?"},
        headers={
            "x-generator": r"^Drupal(?: (\d+))?",
            "x-drupal-cache": "",
            "x-drupal-dynamic-cache": "",
        },
        scripts=(OwnSite(r"/(?:core/)?misc/drupal\.js"),),
        html=(
            r"data-drupal-selector=",
            r"drupal-settings-json",
            OwnSite(r"/sites/(?:default|all)/files/"),
        ),
        implies=("PHP",),
    ),
    Fingerprint(
        "Joomla",
        "CMS",
        meta={"generator": r"^Joomla!?(?: (\d[\d.]*))?"},
        scripts=(OwnSite(r"/media/(?:jui|system)/js/"),),
        html=(OwnSite(r"/media/system/js/"), OwnSite(r"/components/com_\w+/")),
        implies=("PHP",),
    ),
    Fingerprint(
        "Ghost",
        "CMS",
        meta={"generator": r"^Ghost(?: ([\d.]+))?"},
        headers={"x-ghost-cache-status": ""},
        implies=("Node.js",),
    ),
    Fingerprint(
        "TYPO3",
        "CMS",
        meta={"generator": r"^TYPO3(?: CMS)?(?: ([\d.]+))?"},
        html=(OwnSite(r"/typo3(?:conf|temp)/"),),
        implies=("PHP",),
    ),
    Fingerprint(
        "Craft CMS",
        "CMS",
        headers={"x-powered-by": r"\bCraft CMS\b"},
        cookies=(r"^CraftSessionId$",),
        implies=("PHP",),
    ),
    Fingerprint("Hugo", "Static site generator", meta={"generator": r"^Hugo ([\d.]+)"}),
    Fingerprint("Jekyll", "Static site generator", meta={"generator": r"^Jekyll v([\d.]+)"}),
    Fingerprint(
        "Gatsby",
        "Static site generator",
        meta={"generator": r"^Gatsby ([\d.]+)"},
        html=(r"id=[\"']___gatsby[\"']",),
        implies=("React",),
    ),
    Fingerprint(
        "Astro",
        "Static site generator",
        meta={"generator": r"^Astro v([\d.]+)"},
        html=(r"<astro-island\b", r"\sdata-astro-cid-"),
    ),
    Fingerprint(
        "Docusaurus",
        "Static site generator",
        meta={"generator": r"^Docusaurus(?: v([\d.]+))?"},
        implies=("React",),
    ),
    Fingerprint("Framer", "Website builder", meta={"generator": r"^Framer\b"}),
)
