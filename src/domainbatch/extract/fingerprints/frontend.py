"""JavaScript frameworks and libraries, CSS frameworks and font services."""

from __future__ import annotations

from domainbatch.extract.fingerprints.schema import Fingerprint

_HASH = r"[0-9a-f]{8,64}"  # a content hash in a built file's name

FINGERPRINTS: tuple[Fingerprint, ...] = (
    Fingerprint(
        "Next.js",
        "JavaScript framework",
        headers={
            "x-powered-by": r"^Next\.js(?: ([\d.]+))?",
            "x-nextjs-cache": "",
            "x-nextjs-prerender": "",
        },
        scripts=(r"/_next/static/",),
        html=(r"<script id=[\"']__NEXT_DATA__[\"']", r"self\.__next_f\b"),
        implies=("React",),
    ),
    Fingerprint(
        "Nuxt",
        "JavaScript framework",
        scripts=(r"/_nuxt/",),
        html=(r"id=[\"']__nuxt[\"']", r"window\.__NUXT__", r"id=[\"']__NUXT_DATA__[\"']"),
        implies=("Vue.js",),
    ),
    Fingerprint(
        "React",
        "JavaScript library",
        scripts=(
            r"/react@([\d.]+)/",
            r"/react/([\d.]+)/",
            r"react(?:-dom)?(?:\.production)?(?:\.min)?\.js",
        ),
        html=(r"\sdata-reactroot", r"\sdata-reactid="),
    ),
    Fingerprint(
        "Vue.js",
        "JavaScript framework",
        scripts=(
            r"/vue@([\d.]+)/",
            r"/vue/([\d.]+)/",
            r"/vue(?:\.global)?(?:\.prod)?(?:\.min)?\.js",
        ),
        html=(r"\sdata-v-[0-9a-f]{8}\b", r"\sdata-server-rendered=[\"']true"),
    ),
    Fingerprint(
        "Angular",
        "JavaScript framework",
        html=(r"\sng-version=[\"']([\d.]+)",),
    ),
    Fingerprint(
        "AngularJS",
        "JavaScript framework",
        scripts=(r"angular(?:js)?/([\d.]+)/angular(?:\.min)?\.js", r"/angular(?:\.min)?\.js"),
        html=(r"\sng-app(?:=|\s|>)",),
    ),
    Fingerprint(
        "Svelte",
        "JavaScript framework",
        html=(r"class=[\"'][^\"']*\bsvelte-[a-z0-9]{5,}",),
    ),
    Fingerprint(
        "SvelteKit",
        "JavaScript framework",
        scripts=(r"/_app/immutable/",),
        links=(r"/_app/immutable/",),
        html=(r"\b__sveltekit_\w+",),
        implies=("Svelte",),
    ),
    Fingerprint(
        "Alpine.js",
        "JavaScript framework",
        scripts=(r"alpinejs@([\d.]+)", r"alpine(?:js)?(?:\.min)?\.js", r"/alpinejs"),
    ),
    Fingerprint(
        "htmx",
        "JavaScript library",
        scripts=(r"htmx\.org@([\d.]+)", r"/htmx(?:\.min)?\.js"),
    ),
    Fingerprint(
        "jQuery",
        "JavaScript library",
        scripts=(
            r"(?:^|/)jquery[.-](\d+(?:\.\d+)+)[\w.-]*\.js",
            r"/jquery/([\d.]+)/jquery(?:\.slim)?(?:\.min)?\.js",
            r"/jquery@([\d.]+)/",
            r"/jquery(?:\.slim)?(?:\.min)?\.js\?ver=([\d.]+)",
            # Hashed by a build (Django's ManifestStaticFilesStorage, webpack): name.HASH.js
            r"(?:^|/)jquery(?:\.slim)?(?:\.min)?(?:[.-]" + _HASH + r")?(?:\.min)?\.js",
            r"/bundles/jquery\b",  # ASP.NET bundling: /bundles/jquery?v=...
        ),
    ),
    Fingerprint(
        "jQuery UI",
        "JavaScript library",
        scripts=(
            r"/jqueryui/([\d.]+)/",
            r"/jquery-ui[.-]([\d.]+)",
            r"/jquery-ui(?:\.min)?\.js",
            r"/jquery/ui/",
        ),
        implies=("jQuery",),
    ),
    Fingerprint(
        "GSAP",
        "JavaScript library",
        scripts=(r"/gsap@([\d.]+)/", r"/gsap/([\d.]+)/", r"/gsap(?:\.min)?\.js"),
    ),
    Fingerprint(
        "Swiper",
        "JavaScript library",
        scripts=(r"/swiper@([\d.]+)/", r"/swiper(?:-bundle)?(?:\.min)?\.js"),
        links=(r"/swiper@([\d.]+)/", r"/swiper(?:-bundle)?(?:\.min)?\.css"),
    ),
    Fingerprint(
        "Bootstrap",
        "CSS framework",
        scripts=(
            r"/bootstrap@([\d.]+)/",
            r"/bootstrap/([\d.]+)/",
            r"(?:^|/)bootstrap[.-](\d+(?:\.\d+)+)(?:\.bundle)?(?:\.min)?\.js",
            r"(?:^|/)bootstrap(?:\.bundle)?(?:\.min)?(?:[.-]" + _HASH + r")?(?:\.min)?\.js",
            r"/bundles/bootstrap\b",
        ),
        links=(
            r"/bootstrap@([\d.]+)/",
            r"/bootstrap/([\d.]+)/",
            r"(?:^|/)bootstrap[.-](\d+(?:\.\d+)+)(?:\.min)?\.css",
            r"(?:^|/)bootstrap(?:\.min)?(?:[.-]" + _HASH + r")?(?:\.min)?\.css",
        ),
    ),
    Fingerprint(
        "Tailwind CSS",
        "CSS framework",
        scripts=(r"cdn\.tailwindcss\.com(?:/([\d.]+))?",),
        links=(r"/tailwindcss@([\d.]+)/", r"/tailwind(?:css)?(?:\.min)?\.css"),
        html=(r"/\*!? tailwindcss v([\d.]+)",),
    ),
    Fingerprint(
        "Font Awesome",
        "Font",
        links=(
            r"use\.fontawesome\.com/releases/v([\d.]+)/",
            r"/font-?awesome(?:@|/)([\d.]+)/",
            r"/font-?awesome/[^?\s]*\?ver=([\d.]+)",
            r"font-?awesome",
        ),
        scripts=(r"kit\.fontawesome\.com/", r"use\.fontawesome\.com/releases/v([\d.]+)/"),
    ),
    Fingerprint(
        "Google Fonts",
        "Font",
        links=(r"fonts\.(?:googleapis|gstatic)\.com\b",),
        html=(r"@import url\([\"']?https://fonts\.googleapis\.com/",),
    ),
    Fingerprint(
        "cdnjs",
        "CDN",
        scripts=(r"cdnjs\.cloudflare\.com/",),
        links=(r"cdnjs\.cloudflare\.com/",),
    ),
    Fingerprint(
        "jsDelivr",
        "CDN",
        scripts=(r"cdn\.jsdelivr\.net/",),
        links=(r"cdn\.jsdelivr\.net/",),
    ),
    Fingerprint(
        "unpkg",
        "CDN",
        scripts=(r"unpkg\.com/",),
        links=(r"unpkg\.com/",),
    ),
)
