"""Third-party services: analytics, tag managers, marketing, chat, payments, consent, bots."""

from __future__ import annotations

from domainbatch.extract.fingerprints.schema import Fingerprint

_GA4 = r"\;version:GA4"
_UA = r"\;version:UA"
_URCHIN = r"\;version:Urchin"  # the legacy urchin.js

FINGERPRINTS: tuple[Fingerprint, ...] = (
    Fingerprint(
        "Google Analytics",
        "Analytics",
        scripts=(
            r"googletagmanager\.com/gtag/js\?id=G-" + _GA4,
            r"googletagmanager\.com/gtag/js\?id=UA-" + _UA,
            r"google-analytics\.com/(?:analytics|ga)\.js" + _UA,
            r"google-analytics\.com/urchin\.js" + _URCHIN,
        ),
        html=(
            r"gtag\(\s*[\"']config[\"']\s*,\s*[\"']G-" + _GA4,
            r"gtag\(\s*[\"']config[\"']\s*,\s*[\"']UA-" + _UA,
            r"google-analytics\.com/(?:analytics|ga)\.js" + _UA,
            r"google-analytics\.com/urchin\.js" + _URCHIN,
            r"\burchinTracker\s*\(" + _URCHIN,
        ),
        cookies=(r"^_ga$", r"^_ga_"),
    ),
    Fingerprint(
        "Google Tag Manager",
        "Tag manager",
        scripts=(r"googletagmanager\.com/gtm\.js",),
        html=(
            r"googletagmanager\.com/(?:gtm\.js|ns\.html\?id=GTM-)",
            # The snippet's call, also with a first-party loader: (..., 'dataLayer', 'GTM-X').
            # A bare 'GTM-X' may be a Google Optimize container (below).
            r"[\"']\w*layer\w*[\"']\s*,\s*[\"']GTM-[A-Z0-9]{4,10}[\"']",
        ),
    ),
    Fingerprint(
        "Google Optimize",
        "A/B testing",
        scripts=(r"(?:googleoptimize\.com|optimize\.google\.com)/",),
        html=(
            r"googleoptimize\.com/optimize\.js",
            r"\boptimize_id[\"']?\s*:\s*[\"'](?:GTM-|OPT-)",
            r"\bga\(\s*[\"'](?:\w+\.)?require[\"']\s*,\s*[\"'](?:GTM-|OPT-)",
            r"gtag\(\s*[\"']config[\"']\s*,\s*[\"'](?:GTM-|OPT-)",
            # The anti-flicker snippet: {'GTM-X': true}
            r"[\"'](?:GTM-|OPT-)[A-Z0-9]{4,10}[\"']\s*:\s*(?:true|!0)\b",
        ),
    ),
    Fingerprint(
        "Facebook Pixel",
        "Analytics",
        scripts=(r"connect\.facebook\.net/[\w-]+/fbevents\.js",),
        html=(
            r"connect\.facebook\.net/[\w-]+/fbevents\.js",
            r"fbq\(\s*[\"']init[\"']",
            r"facebook\.com/tr\?id=",
        ),
    ),
    Fingerprint(
        "Hotjar",
        "Analytics",
        scripts=(r"static\.hotjar\.com/",),
        html=(r"static\.hotjar\.com/", r"\bhjid\s*:\s*\d+"),
    ),
    Fingerprint(
        "Microsoft Clarity",
        "Analytics",
        scripts=(r"clarity\.ms/tag/",),
        html=(r"clarity\.ms/tag/",),
    ),
    Fingerprint(
        "Segment",
        "Analytics",
        scripts=(r"cdn\.segment\.(?:com|io)/analytics\.js",),
        html=(r"cdn\.segment\.(?:com|io)/analytics\.js",),
    ),
    Fingerprint(
        "Matomo",
        "Analytics",
        scripts=(r"/(?:matomo|piwik)\.js",),
        html=(r"\b_paq\.push\(", r"/(?:matomo|piwik)\.(?:js|php)"),
        cookies=(r"^_pk_(?:id|ses)\b",),
    ),
    Fingerprint(
        "Plausible",
        "Analytics",
        scripts=(r"plausible\.io/js/",),
        html=(r"plausible\.io/js/",),
    ),
    Fingerprint(
        "HubSpot",
        "Marketing automation",
        scripts=(r"js\.(?:hs-scripts|hsforms|hs-analytics|hs-banner|hubspot)\.(?:com|net)/",),
        html=(r"js\.hs-scripts\.com/",),
        cookies=(r"^hubspotutk$", r"^__hs(?:tc|sc|srd)$"),
    ),
    Fingerprint(
        "Klaviyo",
        "Marketing automation",
        scripts=(r"static\.klaviyo\.com/",),
        html=(r"static\.klaviyo\.com/",),
    ),
    Fingerprint(
        "Mailchimp",
        "Marketing automation",
        scripts=(r"chimpstatic\.com/", r"list-manage\.com/"),
        html=(r"\.list-manage\.com/subscribe",),
    ),
    Fingerprint(
        "Intercom",
        "Live chat",
        scripts=(r"widget\.intercom\.io/", r"js\.intercomcdn\.com/"),
        html=(r"widget\.intercom\.io/", r"\bintercomSettings\b"),
    ),
    Fingerprint("Zendesk", "Live chat", scripts=(r"static\.zdassets\.com/",)),
    Fingerprint("Drift", "Live chat", scripts=(r"js\.driftt\.com/",), html=(r"js\.driftt\.com/",)),
    Fingerprint(
        "Crisp", "Live chat", scripts=(r"client\.crisp\.chat/",), html=(r"client\.crisp\.chat/",)
    ),
    Fingerprint(
        "Tawk.to", "Live chat", scripts=(r"embed\.tawk\.to/",), html=(r"embed\.tawk\.to/",)
    ),
    Fingerprint(
        "Stripe",
        "Payments",
        scripts=(r"js\.stripe\.com/",),
        html=(r"js\.stripe\.com/",),
    ),
    Fingerprint(
        "PayPal",
        "Payments",
        scripts=(r"paypal\.com/sdk/js", r"paypalobjects\.com/"),
    ),
    Fingerprint(
        "reCAPTCHA",
        "Security",
        scripts=(r"(?:google\.com|recaptcha\.net)/recaptcha/", r"gstatic\.com/recaptcha/"),
        html=(
            r"class=[\"'][^\"']*\bg-recaptcha\b",
            r"google\.com/recaptcha/(?:api|enterprise)\.js",
        ),
    ),
    Fingerprint(
        "hCaptcha",
        "Security",
        scripts=(r"hcaptcha\.com/1/api\.js",),
        html=(r"class=[\"'][^\"']*\bh-captcha\b",),
    ),
    Fingerprint(
        "Cloudflare Turnstile",
        "Security",
        scripts=(r"challenges\.cloudflare\.com/turnstile/",),
    ),
    Fingerprint("Cookiebot", "Cookie consent", scripts=(r"consent\.cookiebot\.com/",)),
    Fingerprint(
        "OneTrust",
        "Cookie consent",
        # Its CDN hosts (cdn.cookielaw.org, cdn-ukwest.onetrust.com...) or its loader anywhere.
        scripts=(r"cdn\.cookielaw\.org/", r"\bonetrust\.com/", r"optanon", r"otSDKStub\.js"),
    ),
)
