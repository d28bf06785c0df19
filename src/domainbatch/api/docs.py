"""``/docs`` (Swagger UI) and ``/redoc``, offline: their scripts and style sheet are files of the
fastapi-offline package, served here under ``ASSETS``, never FastAPI's default CDN, so the docs
work with no internet access and leak no visit to a third party.

Why fastapi-offline: of the PyPI bundles it is the one that ships both UIs (swagger-ui-py and
swagger-ui-bundle ship Swagger UI alone, and swagger-ui-bundle's files date from 2023), it keeps
them current (1.7.7, June 2026), is MIT and depends on FastAPI alone. Its pages would be
FastAPI's own; ours add a Content-Security-Policy that confines them to this origin: ReDoc's
bundle still draws a logo from its vendor's CDN, which the policy refuses before any request.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

ASSETS = "/docs-assets"  # fastapi-offline's static files: the two UIs' scripts, CSS and icon
POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self' 'unsafe-inline'",  # Swagger UI starts from an inline script
        "style-src 'self' 'unsafe-inline'",  # ReDoc injects its styles
        "img-src 'self' data:",  # Swagger UI's icons are data: URLs
        "font-src 'self' data:",
        "connect-src 'self'",  # /openapi.json
        "worker-src 'self' blob:",  # ReDoc's search index
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)


def _confined(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    return page


def install(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Add the two pages (the assets are mounted by ``fastapi_offline.FastAPIOffline``)."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _confined(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS}/favicon.png",
                # No validator badge: it would send the document's URL to validator.swagger.io.
                swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
            )
        )

    @app.get(redoc_url, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _confined(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )
