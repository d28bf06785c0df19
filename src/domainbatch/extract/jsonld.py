"""JSON-LD: the site's Organization (or any subtype) and WebSite nodes.

Blocks may be one object, a list, or an ``@graph``; nodes may reference each other by
``@id``. Invalid JSON gets one repair attempt (HTML comment / CDATA wrappers, trailing
commas, raw control characters) before it is skipped.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

import orjson

from domainbatch.extract.document import Document, absolutize, collapse

MAX_BLOCKS = 20
MAX_BLOCK_CHARS = 1_000_000
MAX_NODES = 2_000
MAX_DEPTH = 12
MAX_LIST_ITEMS = 50


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ORGANIZATION_TYPES = _words(
    """Organization Corporation LocalBusiness OnlineBusiness OnlineStore NGO Airline Consortium
    NewsMediaOrganization EducationalOrganization GovernmentOrganization MedicalOrganization
    SportsOrganization SportsTeam PerformingGroup FundingScheme LibrarySystem Cooperative
    ResearchOrganization WorkersUnion PoliticalParty SearchRescueOrganization Project
    AnimalShelter ArchiveOrganization AutoDealer AutoRepair ChildCare Dentist DryCleaningOrLaundry
    EmergencyService EmploymentAgency FinancialService AccountingService BankOrCreditUnion
    InsuranceAgency FoodEstablishment Bakery BarOrPub Brewery CafeOrCoffeeShop Distillery
    FastFoodRestaurant IceCreamShop Restaurant Winery GovernmentOffice PostOffice BeautySalon
    DaySpa HairSalon HealthClub NailSalon TattooParlor Electrician GeneralContractor
    HVACBusiness HousePainter Locksmith MovingCompany Plumber RoofingContractor InternetCafe
    LegalService Attorney Notary Library Hotel Motel BedAndBreakfast Hostel Resort Campground
    MedicalClinic Optician Pharmacy Physician Hospital DiagnosticLab VeterinaryCare
    ProfessionalService RadioStation RealEstateAgent RecyclingCenter SelfStorage ShoppingCenter
    ExerciseGym GolfCourse StadiumOrArena Florist PawnShop TireShop TelevisionStation
    TouristInformationCenter TravelAgency CollegeOrUniversity School HighSchool MiddleSchool
    ElementarySchool Preschool"""
)
_ORGANIZATION_SUFFIXES = ("Organization", "Business", "Store", "Agency", "Shop")
_TYPE_PREFIX = re.compile(r"^(?:https?://schema\.org/|schema:)", re.I)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_WRAPPERS = re.compile(r"<!--|-->|/\*\s*<!\[CDATA\[\s*\*/|/\*\s*\]\]>\s*\*/|<!\[CDATA\[|\]\]>")


def extract_jsonld(doc: Document, result: dict[str, Any]) -> None:
    nodes = collect_nodes(load_blocks(doc))
    by_id = {
        node["@id"]: node for node in nodes if isinstance(node.get("@id"), str) and len(node) > 1
    }
    organization = next((n for n in nodes if is_organization(n)), None)
    website = next((n for n in nodes if "WebSite" in types_of(n)), None)
    if organization is None and website is not None:
        publisher = _resolve(website.get("publisher"), by_id)
        if isinstance(publisher, dict) and is_organization(publisher):
            organization = publisher
    result["jsonld"] = {
        "organization": _organization(organization, doc.base_url, by_id) if organization else None,
        "website": _website(website, doc.base_url) if website else None,
    }


def load_blocks(doc: Document) -> list[Any]:
    blocks: list[Any] = []
    for node in doc.select("script[type]"):
        kind = (node.attributes.get("type") or "").split(";")[0].strip().lower()
        if kind != "application/ld+json":
            continue
        data = parse_json(node.text() or "")
        if data is not None:
            blocks.append(data)
        if len(blocks) >= MAX_BLOCKS:
            break
    return blocks


def parse_json(text: str) -> Any:
    """The JSON value of ``text``, after one repair attempt; None when still invalid."""
    text = text.strip()[:MAX_BLOCK_CHARS]
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    repaired = _TRAILING_COMMA.sub(r"\1", _WRAPPERS.sub("", text)).strip()
    try:
        return json.loads(repaired, strict=False)
    except (ValueError, RecursionError):
        return None


def types_of(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {_TYPE_PREFIX.sub("", v.strip()) for v in values[:10] if isinstance(v, str)}


def is_organization(node: dict[str, Any]) -> bool:
    return any(
        t in _ORGANIZATION_TYPES or t.endswith(_ORGANIZATION_SUFFIXES) for t in types_of(node)
    )


def collect_nodes(blocks: list[Any]) -> list[dict[str, Any]]:
    """Every typed object, breadth-first (top-level and ``@graph`` nodes before nested ones)."""
    found: list[dict[str, Any]] = []
    queue: deque[tuple[Any, int]] = deque((block, 0) for block in blocks)
    visited = 0
    while queue and visited < MAX_NODES:
        value, depth = queue.popleft()
        visited += 1
        if depth > MAX_DEPTH:
            continue
        if isinstance(value, list):
            queue.extend((item, depth + 1) for item in value[:MAX_LIST_ITEMS])
        elif isinstance(value, dict):
            if "@type" in value:
                found.append(value)
            queue.extend(
                (item, depth + 1) for item in value.values() if isinstance(item, list | dict)
            )
    return found


def _resolve(value: Any, by_id: dict[str, dict[str, Any]]) -> Any:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict) and set(value) == {"@id"} and isinstance(value["@id"], str):
        return by_id.get(value["@id"], value)
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value")
    if isinstance(value, str):
        return collapse(value, 500)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _url(value: Any, base: str, by_id: dict[str, dict[str, Any]]) -> str | None:
    value = _resolve(value, by_id)
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str):
        return None  # numbers and booleans are never URLs
    return absolutize(base, value)


def _profile_url(value: Any, by_id: dict[str, dict[str, Any]]) -> str | None:
    """A ``sameAs`` entry as an absolute http(s) URL, else None.

    Unlike ``url`` or ``logo``, ``sameAs`` names other sites' pages: a relative value is
    a label ("Vergleich.de auf Facebook") or a scheme-less host, never a path on this
    site, so it is not resolved against the page URL (an empty base resolves nothing).
    """
    return _url(value, "", by_id)


def _email(value: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    return text.lower().removeprefix("mailto:").strip() or None


def _organization(
    node: dict[str, Any], base: str, by_id: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    same_as: list[str] = []
    raw_same_as = node.get("sameAs")
    for item in raw_same_as[:MAX_LIST_ITEMS] if isinstance(raw_same_as, list) else [raw_same_as]:
        url = _profile_url(item, by_id)
        if url and url not in same_as:
            same_as.append(url)
    points: list[dict[str, str | None]] = []
    raw_points = node.get("contactPoint")
    for item in raw_points[:MAX_LIST_ITEMS] if isinstance(raw_points, list) else [raw_points]:
        point = _resolve(item, by_id)
        if isinstance(point, dict):
            entry = {
                "telephone": _text(point.get("telephone")),
                "email": _email(point.get("email")),
                "contact_type": _text(point.get("contactType")),
            }
            if any(entry.values()):
                points.append(entry)
    return {
        "name": _text(node.get("name")) or _text(node.get("legalName")),
        "url": _url(node.get("url"), base, by_id),
        "logo": _url(node.get("logo") or node.get("image"), base, by_id),
        "same_as": same_as,
        "telephone": _text(node.get("telephone")),
        "email": _email(node.get("email")),
        "contact_points": points,
    }


def _website(node: dict[str, Any], base: str) -> dict[str, Any]:
    return {"name": _text(node.get("name")), "url": _url(node.get("url"), base, {})}
