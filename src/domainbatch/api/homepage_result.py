"""The OpenAPI schema of the ``homepage`` processor's result (``processors/homepage.py``, its
``extracted`` from ``extract/extractor.py``), and the ``result`` field of a domain: that schema
or any object, since other processors (``dns``, ``noop``, a plugin) write shapes of their own.

The schema documents; it does not rewrite. A domain's ``result`` passes through the API exactly
as stored (``StoredResult``), so the response bytes stay those of ``as_dict()``, the CLI and the
exports. ``tests/integration/test_homepage.py`` checks real results against it, and
``extra="forbid"`` makes that check fail when the processor writes a key this file does not
describe.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Redirect(Shape):
    url: str
    status: int = Field(description="3xx status of the hop")
    location: str = Field(description="Absolute URL it redirects to")


class HttpsError(Shape):
    code: str = Field(description="Error code of the https attempt (e.g. tls_error)")
    message: str


class Timings(Shape):
    dns_ms: float
    connect_ms: float
    first_byte_ms: float
    fetch_ms: float = Field(description="The whole fetch, every hop")
    extract_ms: float
    total_ms: float


class Tls(Shape):
    """The final hop's TLS connection; the certificate fields are absent without one."""

    version: str | None = Field(description="TLSv1.3, TLSv1.2, ...")
    cipher: str | None
    subject: str | None = Field(None, description="The certificate's common name")
    issuer: str | None = Field(None, description="Organization (issuing certificate)")
    not_before: str | None = Field(None, json_schema_extra={"format": "date-time"})
    not_after: str | None = Field(None, json_schema_extra={"format": "date-time"})
    days_remaining: int | None = None
    san_count: int | None = Field(None, description="Names in subjectAltName")


class ContactPoint(Shape):
    telephone: str | None
    email: str | None
    contact_type: str | None


class Organization(Shape):
    name: str | None
    url: str | None
    logo: str | None
    same_as: list[str] = Field(description="Absolute http(s) profile URLs")
    telephone: str | None
    email: str | None
    contact_points: list[ContactPoint]


class WebSite(Shape):
    name: str | None
    url: str | None


class JsonLd(Shape):
    organization: Organization | None = Field(description="Organization or any subtype")
    website: WebSite | None


class Socials(Shape):
    """Profile URLs by network, first seen first (at most 50 in all)."""

    facebook: list[str]
    x: list[str]
    linkedin: list[str]
    instagram: list[str]
    youtube: list[str]
    tiktok: list[str]
    github: list[str]
    pinterest: list[str]


class Technology(Shape):
    name: str
    category: str
    version: str | None


class Extracted(Shape):
    """What ``domainbatch.extract.extract`` found on the final page (README: Extracted
    fields). Every key is always present; a failed step leaves its fields empty."""

    title: str | None
    description: str | None
    language: str | None = Field(description="BCP 47 tag, normalized (en-US)")
    canonical_url: str | None
    favicon_url: str | None
    favicon_declared: bool = Field(description="False: favicon_url is the /favicon.ico default")
    charset: str | None = Field(description="The codec used to decode the page")
    charset_source: str | None = Field(description="bom, header, meta or detected")
    opengraph: dict[str, str] = Field(description="og:* fields without the prefix")
    twitter: dict[str, str] = Field(description="twitter:* fields without the prefix")
    jsonld: JsonLd
    emails: list[str] = Field(description="Lowercased, first seen first")
    phones: list[str] = Field(description="E.164")
    socials: Socials
    technologies: list[Technology]
    truncated: bool = Field(description="A size or nesting cap cut the input")
    errors: list[str] = Field(description="Per-step failures; empty on a clean run")


class HomepageResult(Shape):
    """The ``homepage`` processor's record of one successful visit."""

    url: str = Field(description="The first URL fetched")
    final_url: str = Field(description="The URL of the page extracted, after redirects")
    status_code: int
    redirects: list[Redirect]
    https_error: HttpsError | None = Field(description="Why https failed, when http was used")
    timings: Timings
    headers: dict[str, str] = Field(description="Response headers of interest, lowercased")
    content_type: str | None
    body_bytes: int = Field(description="After decompression")
    tls: Tls | None = Field(description="None over plain http")
    addresses: list[str] = Field(description="A and AAAA answers")
    remote_address: str | None = Field(description="The address that answered")
    mx: list[str]
    accepts_mail: bool = Field(description="False without MX or for a null MX")
    extracted: Extracted


def _as_stored(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise ValueError("a result is a JSON object")
    return value


# Documented as the homepage schema or any object; validated only as an object and serialized
# as it is (a union would rebuild a matching result as the model, dropping nothing but
# reordering and re-typing what the processor wrote).
StoredResult = Annotated[HomepageResult | dict[str, Any] | None, PlainValidator(_as_stored)]
