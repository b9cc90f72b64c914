"""The JSON API: search by upload, browse the archive, and (with the token) add and remove."""

import hmac
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Request, Response
from fastapi import UploadFile as FastUploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from firstseen import __version__
from firstseen.archive.catalog import Item, Sighting
from firstseen.archive.metadata import parse_published
from firstseen.errors import FirstseenError
from firstseen.outputs.render import item_json, result_json
from firstseen.server.schemas import (
    AddOut,
    ErrorOut,
    Health,
    ItemDetail,
    ItemPage,
    SearchOut,
)
from firstseen.server.service import Busy, Service, default_search_workers
from firstseen.server.uploads import label, saved

router = APIRouter()
_bearer = HTTPBearer(
    auto_error=False, description="The server's FIRSTSEEN_TOKEN; needed to add or remove items."
)
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 413, 415, 422, 503)
}
ItemId = Annotated[int, Path(ge=1, le=2**62, description="Item id")]


def service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(service)]


def writer(
    svc: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Writes need the configured bearer token; with none configured the server is read-only.
    Checked before the request body is read."""
    token = svc.settings.token
    if not token:
        raise HTTPException(403, "the server is read-only: set FIRSTSEEN_TOKEN to allow writes")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


def _date(text: str | None, name: str) -> str | None:
    try:
        return parse_published(text)
    except FirstseenError as exc:
        raise HTTPException(422, f"{name}: {exc}") from None


def _item_out(item: Item) -> dict[str, Any]:
    return item_json(item) | {"thumbnail_url": f"/api/items/{item.id}/thumbnail"}


def _item(svc: Service, item_id: int) -> Item:
    item = svc.archive.catalog.item(item_id)
    if item is None:
        raise HTTPException(404, f"no item {item_id}")
    return item


def _jpeg(request: Request, svc: Service, item: Item, ordinal: int) -> Response:
    """A stored frame, read whole (a removal cannot pull it away half-sent); its ETag names the
    content, not the item id, which a later item may reuse."""
    tag = f'"{item.sha256[:32]}-{ordinal}"'
    headers = {"Cache-Control": "no-cache", "ETag": tag}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    try:
        data = svc.archive.thumbnails.path(item.sha256, ordinal).read_bytes()
    except FileNotFoundError:
        raise HTTPException(404, f"item {item.id} has no stored frame {ordinal}") from None
    return Response(data, media_type="image/jpeg", headers=headers)


@router.get("/health", response_model=Health, tags=["service"])
def health(svc: ServiceDep) -> dict[str, Any]:
    """Liveness and what the archive holds, caught up with changes made by the CLI (a check of
    the catalog's version when nothing changed)."""
    svc.archive.refresh()
    items, frames = svc.archive.catalog.counts()
    return {
        "status": "ok",
        "version": __version__,
        "items": items,
        "frames": frames,
        "indexed": len(svc.archive.index),
        "writable": svc.writable,
        "max_upload_bytes": svc.settings.max_upload,
        "search_workers": svc.settings.search_workers or default_search_workers(),
    }


@router.post("/api/search", response_model=SearchOut, responses=_ERRORS, tags=["search"])
async def search(
    svc: ServiceDep,
    file: Annotated[FastUploadFile, File(description="The image or video to trace")],
    top: Annotated[int, Query(ge=1, le=100, description="Answers wanted")] = 5,
) -> dict[str, Any]:
    """Finds the sources of an uploaded image or video: each answer has the source, the time in
    it, the region of it the upload shows, a score and a match verdict (the CLI's JSON contract),
    with links to the matched frame (`frame_url`) and the item."""
    async with saved(file, svc.settings.max_upload) as (path, kind):
        try:
            result = await svc.search(path, top, label(file.filename))
        except Busy:
            raise HTTPException(
                503, "busy: too many searches waiting, try again", headers={"Retry-After": "2"}
            ) from None
    if result.error:
        raise HTTPException(422, f"cannot read the upload: {result.error}")
    data = result_json(result) | {"query_kind": kind}
    for found, match in zip(result.matches, data["matches"], strict=True):
        match["frame"] = found.ordinal
        match["frame_url"] = f"/api/items/{found.item.id}/frames/{found.ordinal}"
        match["item_url"] = f"/api/items/{found.item.id}"
    return data


@router.get("/api/items", response_model=ItemPage, responses=_ERRORS, tags=["archive"])
def list_items(
    svc: ServiceDep,
    kind: Annotated[Literal["image", "video"] | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Text in a path, title or URL, or a SHA-256 prefix"),
    ] = None,
    published_from: Annotated[
        str | None, Query(description="Earliest publication on or after (YYYY[-MM[-DD]])")
    ] = None,
    published_to: Annotated[
        str | None, Query(description="Earliest publication on or before (YYYY[-MM[-DD]])")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> dict[str, Any]:
    """A page of the archive's items, in the order they were added."""
    items, total = svc.archive.catalog.page(
        kind,
        (q or "").strip() or None,
        _date(published_from, "published_from"),
        _date(published_to, "published_to"),
        limit,
        offset,
    )
    return {
        "items": [_item_out(i) for i in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/api/items/{item_id}", response_model=ItemDetail, responses=_ERRORS, tags=["archive"])
def get_item(svc: ServiceDep, item_id: ItemId) -> dict[str, Any]:
    """One item with every sighting (earliest first) and its indexed frames."""
    item = _item(svc, item_id)
    frames = svc.archive.catalog.item_frames(item.id)
    return _item_out(item) | {
        "sightings": [asdict(s) for s in svc.archive.catalog.sightings(item.id)],
        "frame_list": [
            {"ordinal": o, "time": t, "url": f"/api/items/{item.id}/frames/{o}"}
            for _, o, t in frames
        ],
    }


@router.get(
    "/api/items/{item_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **_ERRORS},
    tags=["archive"],
)
def thumbnail(request: Request, svc: ServiceDep, item_id: ItemId) -> Response:
    """A JPEG of the item: the image itself, or the middle indexed frame of a video."""
    item = _item(svc, item_id)
    return _jpeg(request, svc, item, item.frames // 2 if item.kind == "video" else 0)


@router.get(
    "/api/items/{item_id}/frames/{ordinal}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **_ERRORS},
    tags=["archive"],
)
def frame(
    request: Request,
    svc: ServiceDep,
    item_id: ItemId,
    ordinal: Annotated[int, Path(ge=0, le=2**31)],
) -> Response:
    """One indexed frame as the JPEG the matcher verified against (the long edge is at most the
    archive's `thumbnail_edge`); a match's `region` is in the item's full-size pixels."""
    item = _item(svc, item_id)
    if ordinal >= item.frames:
        raise HTTPException(404, f"item {item.id} has {item.frames} frames")
    return _jpeg(request, svc, item, ordinal)


_UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "url": {"type": "string", "description": "Where it was seen"},
                        "title": {"type": "string", "description": "Its title there"},
                        "published": {"type": "string", "description": "YYYY-MM-DD"},
                    },
                }
            }
        },
    }
}


def _field(form: Any, name: str, limit: int) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise HTTPException(422, f"{name} must be text")
    if len(value) > limit:
        raise HTTPException(422, f"{name} is longer than {limit} characters")
    return value.strip() or None


@router.post(
    "/api/items",
    status_code=201,
    response_model=AddOut,
    responses={200: {"model": AddOut, "description": "Already archived"}, **_ERRORS},
    dependencies=[Depends(writer)],
    openapi_extra=_UPLOAD_FORM,
    tags=["archive"],
)
async def add_item(request: Request, response: Response, svc: ServiceDep) -> dict[str, Any]:
    """Archives an uploaded image or video with where and when it was seen (201); content already
    archived gains the sighting instead (200). Needs the bearer token."""
    form = await request.form(max_files=1, max_fields=8)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "a file is required (form field 'file')")
        url = _field(form, "url", 2048)
        title = _field(form, "title", 500)
        published = _date(_field(form, "published", 40), "published")
        async with saved(upload, svc.settings.max_upload) as (path, _):
            result = await svc.add(path, Sighting(label(upload.filename), url, title, published))
    finally:
        await form.close()
    if result.status == "failed":
        raise HTTPException(422, f"cannot add the upload: {result.reason}")
    item = await run_in_threadpool(svc.archive.catalog.item, result.item_id)
    if item is None:  # removed again at once by another request
        raise HTTPException(404, f"item {result.item_id} was removed meanwhile")
    if result.status == "duplicate":
        response.status_code = 200
    return {
        "status": result.status,
        "new_sighting": result.new_sighting,
        "frames": result.frames,
        "item": _item_out(item),
    }


@router.delete(
    "/api/items/{item_id}",
    status_code=204,
    responses=_ERRORS,
    dependencies=[Depends(writer)],
    tags=["archive"],
)
async def delete_item(svc: ServiceDep, item_id: ItemId) -> Response:
    """Removes an item with its frames, thumbnails and sightings. Needs the bearer token."""
    if await svc.remove(item_id) is None:
        raise HTTPException(404, f"no item {item_id}")
    return Response(status_code=204)
