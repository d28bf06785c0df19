"""The web dashboard: server-rendered pages (Jinja2) over the same storage code as the API, with
a little JavaScript for live progress (Server-Sent Events). No build step.

Auth: without ``--no-auth`` the dashboard asks for an API key once and keeps it in an HttpOnly,
SameSite=Strict cookie. Its forms post to same-origin routes here, which also refuse a request
whose Origin is another site, so another page cannot drive them.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile

from domainbatch.api import cards
from domainbatch.api.auth import COOKIE, Principal, Service, principal_for_key, service
from domainbatch.api.bodies import parse_options, too_large
from domainbatch.api.cards import check_pasted, field_of
from domainbatch.api.errors import status_for
from domainbatch.api.events import progress_stream
from domainbatch.core.humanize import seconds, when
from domainbatch.core.inputs import iter_entries
from domainbatch.core.status import ACTIVE_BATCH, BatchStatus, DomainStatus
from domainbatch.errors import AuthenticationError, ConflictError, DomainbatchError, InputError
from domainbatch.settings import Settings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["when"] = when
templates.env.filters["seconds"] = seconds
templates.env.filters["percent"] = lambda value: f"{float(value):g}"  # 100, 42.5: as JSON shows
templates.env.filters.update(rate=cards.rate, pretty=cards.pretty, compact=cards.compact)
templates.env.globals.update(
    segments=cards.segments,
    web_link=cards.web_link,
    mailto=cards.mailto,
    tel=cards.tel,
    homepage_like=cards.homepage_like,
    socials=cards.socials,
    other_fields=cards.other_fields,
    is_scalar=cards.is_scalar,
)

Svc = Annotated[Service, Depends(service)]
REFILL_LIMIT = 1_000_000  # characters of a pasted list sent back with a form error


class LoginRequired(Exception):
    """Raised by pages when the visitor has no valid key: answered with a redirect."""


async def viewer(request: Request, svc: Svc) -> Principal:
    try:
        return await principal_for_key(svc, request.cookies.get(COOKIE))
    except AuthenticationError:
        raise LoginRequired() from None


Viewer = Annotated[Principal, Depends(viewer)]


def same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if origin is not None and origin != expected:
        raise InputError("cross-site form submissions are refused")


def page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context)


def build_router(settings: Settings, require_auth: bool) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    async def login_page(request: Request, error: str | None = None) -> Response:
        if not require_auth:
            return RedirectResponse("/", status_code=303)
        return page(request, "login.html", error=error)

    @router.post("/login")
    async def login(request: Request, svc: Svc) -> Response:
        same_origin(request)
        form = await request.form()
        key = str(form.get("key") or "").strip()
        try:
            await principal_for_key(svc, key)
        except AuthenticationError as exc:
            return page(request, "login.html", error=exc.message)
        response = RedirectResponse("/", status_code=303)
        secure = request.url.scheme == "https"
        response.set_cookie(COOKIE, key, httponly=True, samesite="strict", secure=secure)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        same_origin(request)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    async def home(
        request: Request,
        svc: Service,
        who: Principal,
        *,
        status: BatchStatus | None = None,
        cursor: str | None = None,
        form_error: DomainbatchError | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        batches = who.batches(svc)
        listing = await batches.page(status=status, limit=25, cursor=cursor)
        snapshots = [await batches.status(b.id) for b in listing.items]
        response = page(
            request,
            "index.html",
            who=who,
            auth=require_auth,
            batches=snapshots,
            next_cursor=listing.next_cursor,
            status=status,
            statuses=list(BatchStatus),
            active=[b.id for b in snapshots if b.status in ACTIVE_BATCH],
            form_error=form_error,
            form=form or {},
        )
        if form_error is not None:
            response.status_code = status_for(form_error)
        return response

    @router.get("/")
    async def index(
        request: Request,
        svc: Svc,
        who: Viewer,
        status: BatchStatus | None = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        return await home(request, svc, who, status=status, cursor=cursor)

    @router.post("/ui/batches")
    async def submit(request: Request, svc: Svc, who: Viewer) -> Response:
        same_origin(request)
        limit = settings.max_request_bytes
        length = request.headers.get("content-length", "")
        refused: DomainbatchError | None = None
        if not length.isdigit():
            refused = InputError("the form must be sent with a Content-Length")
        elif int(length) > limit:
            refused = too_large(limit)
        if refused is not None:
            # The body is not read: the form comes back empty with the error (app.js puts the
            # pasted list back from the browser's own copy).
            return await home(request, svc, who, form_error=refused, form={"field": "domains"})
        form = await request.form(max_part_size=limit)
        try:
            upload = form.get("file")
            uploaded = isinstance(upload, UploadFile) and bool(upload.filename)
            pasted = str(form.get("domains") or "")
            typed = {
                "processor": str(form.get("processor") or "").strip(),
                "options": str(form.get("options") or ""),
            }
            stage = "options"
            try:
                options = parse_options(typed["options"])
                stage = "create"
                if isinstance(upload, UploadFile) and uploaded:
                    entries = iter_entries(upload.file, filename=upload.filename)
                else:
                    entries = iter_entries([pasted.encode()], fmt="text")
                    check_pasted(pasted, who.batches(svc).normalizer)
                created = await who.batches(svc).create(
                    entries, processor=typed["processor"] or None, options=options
                )
            except DomainbatchError as exc:
                # The form comes back with the error and what was typed (a pasted list up to
                # REFILL_LIMIT characters; a browser never lets a page refill a file input).
                typed["domains"] = pasted if len(pasted) <= REFILL_LIMIT else ""
                typed["field"] = field_of(exc, stage=stage, uploaded=uploaded)
                return await home(request, svc, who, form_error=exc, form=typed)
        finally:
            await form.close()
        if svc.worker is not None:
            svc.worker.wake()
        return RedirectResponse(f"/batches/{created.id}", status_code=303)

    @router.get("/batches/{batch_id}")
    async def batch(
        request: Request,
        batch_id: uuid.UUID,
        svc: Svc,
        who: Viewer,
        status: DomainStatus | None = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        batches = who.batches(svc)
        current = await batches.status(str(batch_id))
        domains = await batches.domains(str(batch_id), status=status, limit=50, cursor=cursor)
        return page(
            request,
            "batch.html",
            who=who,
            auth=require_auth,
            batch=current,
            active=current.status in ACTIVE_BATCH,
            domains=domains.items,
            next_cursor=domains.next_cursor,
            status=status,
            statuses=list(DomainStatus),
        )

    @router.get("/batches/{batch_id}/domains/{domain_id}")
    async def domain(
        request: Request, batch_id: uuid.UUID, domain_id: int, svc: Svc, who: Viewer
    ) -> Response:
        item = await who.batches(svc).domain(str(batch_id), domain_id)
        return page(
            request, "domain.html", who=who, auth=require_auth, batch_id=batch_id, item=item
        )

    @router.post("/ui/batches/{batch_id}/{action}")
    async def act(
        request: Request, batch_id: uuid.UUID, action: str, svc: Svc, who: Viewer
    ) -> Response:
        same_origin(request)
        if action == "cancel":
            with contextlib.suppress(ConflictError):  # already ended: the page shows how
                await who.batches(svc).cancel(str(batch_id))
        elif action == "retry":
            if await who.batches(svc).retry(str(batch_id)) and svc.worker:
                svc.worker.wake()
        else:
            raise InputError(f"unknown action {action!r}")
        return RedirectResponse(f"/batches/{batch_id}", status_code=303)

    @router.get("/ui/events")
    async def events(
        svc: Svc, who: Viewer, batch_id: Annotated[list[uuid.UUID], Query(alias="id")]
    ) -> StreamingResponse:
        batches = who.batches(svc)
        first = [await batches.status(str(b)) for b in batch_id[:50]]
        return StreamingResponse(
            progress_stream(batches, first, settings.events_interval_seconds),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    return router


def install(app: Any) -> None:
    """Static files and the login redirect (a page, unlike the API, answers with HTML)."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def to_login(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    app.add_exception_handler(LoginRequired, to_login)
