"""The JSON API: search by upload, browse the archive, and (with the token) add and remove."""

import contextlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from firstseen import __version__
from firstseen.archive.records import Item, Sighting
from firstseen.errors import MediaError
from firstseen.evidence.alignment import clip_picture
from firstseen.evidence.credentials import with_summaries
from firstseen.evidence.pictures import data_uri
from firstseen.matching.answers import item_json, result_json
from firstseen.media.budget import OverBudget
from firstseen.media.keyframes import Keyframe, keyframe_name
from firstseen.server.schemas import (
    AddOut,
    ErrorOut,
    Health,
    ItemDetail,
    ItemPage,
    KeyframesOut,
    SearchOut,
)
from firstseen.server.service import Busy, Service, default_search_workers
from firstseen.server.uploads import label, saved

router = APIRouter()
_bearer = HTTPBearer(
    auto_error=False, description="The server's FIRSTSEEN_TOKEN; needed to add or remove items."
)
# What each error status means, for the schema; every answer's body is an ErrorOut.
_MEANING = {
    400: "A malformed request: Host or Content-Length header, or multipart body",
    401: "No valid bearer token (writes need it)",
    403: "The server is read-only, or a write was sent by a page of another origin",
    404: "No such item or frame",
    413: "The upload is larger than the server's max_upload_bytes",
    415: "The upload is no image or video firstseen can read, or the body is not multipart",
    421: "The Host header names another server (`firstseen serve --allow-host` allows a name)",
    422: "A parameter or form field out of bounds, or an empty or undecodable upload",
    503: "Too many searches waiting: try again after Retry-After seconds",
}
_EVERY_ROUTE = (400, 421)  # the Host check and the body limit come before any route


def _answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, as the schema states them."""
    return {
        code: {"model": ErrorOut, "description": _MEANING[code]}
        for code in sorted({*_EVERY_ROUTE, *codes})
    }


_READ_ERRORS = _answers(404, 422)
_UPLOAD_ERRORS = (413, 415, 422)
# Parts of an upload form read at most: the fields named below; past this, 400.
MAX_FORM_PARTS = 8
# A publication date as the API takes it: a calendar date (YYYY-MM-DD), a year-month or a year.
_YEAR_MONTH = re.compile(r"[1-9][0-9]{3}(-(0[1-9]|1[0-2]))?")
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "pattern": f"^{_YEAR_MONTH.pattern}$"},
    ]
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
    """A date as DATE_SCHEMA states it (a calendar date, or a year or month), else 422."""
    if text is None:
        return None
    if _YEAR_MONTH.fullmatch(text):
        return text
    if _FULL_DATE.fullmatch(text):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(text).isoformat()
    raise HTTPException(422, f"{name}: not a date: {text[:40]!r} (use YYYY-MM-DD, YYYY-MM or YYYY)")


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
    data = svc.archive.thumbnails.read_jpeg(item.sha256, ordinal)
    if data is None:
        raise HTTPException(404, f"item {item.id} has no stored frame {ordinal}")
    return Response(data, media_type="image/jpeg", headers=headers)


@router.get("/health", response_model=Health, responses=_answers(), tags=["service"])
def health(svc: ServiceDep) -> dict[str, Any]:
    """Liveness and what the archive holds, caught up with changes made by the CLI (a check of
    the catalog's version when nothing changed)."""
    svc.archive.refresh()
    counts = svc.archive.catalog.counts()
    return {
        "status": "ok",
        "version": __version__,
        "items": counts.items,
        "frames": counts.frames,
        "indexed": len(svc.archive.index),
        "writable": svc.writable,
        "max_upload_bytes": svc.settings.max_upload,
        "search_workers": svc.settings.search_workers or default_search_workers(),
    }


def _form_schema(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The multipart body of an upload route: `file` and the given text fields, nothing else."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": _FILE, **fields},
                        "additionalProperties": False,
                        "maxProperties": 1 + len(fields),
                        "description": f"At most {MAX_FORM_PARTS} parts are read (more: 400); "
                        "a field not named here is refused (422).",
                    },
                    "encoding": {"file": {"contentType": "image/*, video/*"}},
                }
            },
        }
    }


_FILE = {
    "type": "string",
    "format": "binary",
    "minLength": 1,
    "description": "The image or video, judged by its content, at most max_upload_bytes (/health)",
}


async def _upload_form(request: Request, fields: tuple[str, ...]) -> tuple[FormData, UploadFile]:
    """The upload's form and its file: at most one file and MAX_FORM_PARTS parts (else 400),
    the file present and no field other than `fields` (else 422)."""
    form = await request.form(max_files=1, max_fields=MAX_FORM_PARTS)
    unknown = sorted(set(form.keys()) - {"file", *fields})
    file = form.get("file")
    if unknown or not isinstance(file, UploadFile):
        await form.close()
        if unknown:
            raise HTTPException(422, f"unknown form field: {unknown[0][:40]!r}")
        raise HTTPException(422, "a file is required (form field 'file')")
    return form, file


@contextlib.contextmanager
def _refusals(action: str) -> Iterator[None]:
    """The service's refusals of an upload as HTTP errors: too busy (503, try again) or over the
    request's decoding budget (413)."""
    try:
        yield
    except Busy:
        raise HTTPException(
            503, "busy: too many searches waiting, try again", headers={"Retry-After": "2"}
        ) from None
    except OverBudget as exc:
        raise HTTPException(413, f"cannot {action} the upload: {exc}") from None


@router.post(
    "/api/search",
    response_model=SearchOut,
    responses=_answers(403, *_UPLOAD_ERRORS, 503),
    openapi_extra=_form_schema({}),
    tags=["search"],
)
async def search(
    request: Request,
    svc: ServiceDep,
    top: Annotated[int, Query(ge=1, le=100, description="Answers wanted")] = 5,
    fallback_budget: Annotated[
        float | None,
        Query(
            ge=0,
            description="Pictures a still's fallbacks (mirror image, tonings, parts, framed"
            " pictures) may describe: fewer is faster where nothing is confirmed, and may miss"
            " heavily edited copies. It may lower the archive's fallback_budget, not lift it",
        ),
    ] = None,
) -> dict[str, Any]:
    """Finds the sources of an uploaded image or video: each answer has the source, the time in
    it, the region of it the upload shows, a score and a match verdict (the CLI's JSON contract),
    with links to the matched frame (`frame_url`) and the item."""
    form, file = await _upload_form(request, ())
    try:
        async with saved(file, svc.settings.max_upload) as (path, kind):
            with _refusals("search"):
                result = await svc.search(path, top, label(file.filename), fallback_budget)
            if result.error:
                raise HTTPException(422, f"cannot read the upload: {result.error}")
            picture = None
            if kind == "video":  # the query's length is read while the upload is at hand
                picture = await run_in_threadpool(
                    clip_picture, result.query, path, result.matches, svc.archive.thumbnails.read
                )
    finally:
        await form.close()
    data = with_summaries(result_json(result)) | {"query_kind": kind, "alignment_svg": picture}
    for found, match in zip(result.matches, data["matches"], strict=True):
        match["frame"] = found.ordinal
        match["frame_url"] = f"/api/items/{found.item.id}/frames/{found.ordinal}"
        match["item_url"] = f"/api/items/{found.item.id}"
    return data


@router.post(
    "/api/keyframes",
    response_model=KeyframesOut,
    responses=_answers(403, *_UPLOAD_ERRORS, 503),
    openapi_extra=_form_schema({}),
    tags=["search"],
)
async def keyframes(request: Request, svc: ServiceDep) -> dict[str, Any]:
    """Cuts an uploaded video into keyframes to search elsewhere: one per shot, and one per
    stretch of a long shot, each a JPEG (a data: URI) with its time, its shot and the stretch it
    stands for; stills are refused (415)."""
    form, file = await _upload_form(request, ())
    name = label(file.filename)
    try:
        async with saved(file, svc.settings.max_upload) as (path, kind):
            if kind != "video":
                raise HTTPException(415, "not a video: keyframes are cut from videos")
            try:
                with _refusals("cut"):
                    found, total = await svc.keyframes(path)
            except MediaError as exc:
                raise HTTPException(422, f"cannot read the upload: {exc}") from None
    finally:
        await form.close()
    entries = await run_in_threadpool(_keyframe_entries, found)
    return {
        "query": name,
        "shots": max((k.pick.shot for k in found), default=0),
        "keyframes": entries,
        "left_out": total - len(found),
    }


def _keyframe_entries(found: list[Keyframe]) -> list[dict[str, Any]]:
    return [
        {
            "time": round(k.pick.time, 3),
            "shot": k.pick.shot,
            "span": [round(t, 3) for t in k.pick.span],
            "file": keyframe_name(number, k.pick.time),
            "image": data_uri(k.rgb, 92),
        }
        for number, k in enumerate(found, start=1)
    ]


@router.get("/api/items", response_model=ItemPage, responses=_answers(422), tags=["archive"])
def list_items(
    svc: ServiceDep,
    kind: Annotated[Literal["image", "video"] | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Text in a path, title or URL, or a SHA-256 prefix"),
    ] = None,
    published_from: Annotated[
        str | None,
        Query(json_schema_extra=DATE_SCHEMA, description="Earliest publication on or after"),
    ] = None,
    published_to: Annotated[
        str | None,
        Query(json_schema_extra=DATE_SCHEMA, description="Earliest publication on or before"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> dict[str, Any]:
    """A page of the archive's items, in the order they were added."""
    page = svc.archive.catalog.page(
        kind,
        (q or "").strip() or None,
        _date(published_from, "published_from"),
        _date(published_to, "published_to"),
        limit,
        offset,
    )
    return {
        "items": [_item_out(i) for i in page.items],
        "total": page.total,
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/api/items/{item_id}", response_model=ItemDetail, responses=_READ_ERRORS, tags=["archive"]
)
def get_item(svc: ServiceDep, item_id: ItemId) -> dict[str, Any]:
    """One item with every sighting (earliest first) and its indexed frames."""
    item = _item(svc, item_id)
    frames = svc.archive.catalog.item_frames(item.id)
    return _item_out(item) | {
        "sightings": [asdict(s) for s in svc.archive.catalog.sightings(item.id)],
        "frame_list": [
            {
                "ordinal": f.ordinal,
                "time": f.time,
                "url": f"/api/items/{item.id}/frames/{f.ordinal}",
            }
            for f in frames
        ],
    }


@router.get(
    "/api/items/{item_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **_READ_ERRORS},
    tags=["archive"],
)
def thumbnail(request: Request, svc: ServiceDep, item_id: ItemId) -> Response:
    """A JPEG of the item: the image itself, or the middle indexed frame of a video."""
    item = _item(svc, item_id)
    return _jpeg(request, svc, item, item.frames // 2 if item.kind == "video" else 0)


@router.get(
    "/api/items/{item_id}/frames/{ordinal}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **_READ_ERRORS},
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


def _text_field(form: Any, name: str, limit: int) -> str | None:
    """A text field as sent (None when absent), 422 when it is a file or too long."""
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise HTTPException(422, f"{name} must be text")
    if len(value) > limit:
        raise HTTPException(422, f"{name} is longer than {limit} characters")
    return value


def _field(form: Any, name: str, limit: int) -> str | None:
    """A text field without surrounding blanks; None when absent or blank."""
    return (_text_field(form, name, limit) or "").strip() or None


@router.post(
    "/api/items",
    status_code=201,
    response_model=AddOut,
    responses={
        200: {"model": AddOut, "description": "Already archived"},
        **_answers(401, 403, *_UPLOAD_ERRORS),
    },
    dependencies=[Depends(writer)],
    openapi_extra=_form_schema(
        {
            "url": {"type": "string", "maxLength": 2048, "description": "Where it was seen"},
            "title": {"type": "string", "maxLength": 500, "description": "Its title there"},
            "published": {**DATE_SCHEMA, "description": "When it was published there"},
        }
    ),
    tags=["archive"],
)
async def add_item(request: Request, response: Response, svc: ServiceDep) -> dict[str, Any]:
    """Archives an uploaded image or video with where and when it was seen (201); content already
    archived gains the sighting instead (200). Needs the bearer token."""
    form, upload = await _upload_form(request, ("url", "title", "published"))
    try:
        url = _field(form, "url", 2048)
        title = _field(form, "title", 500)
        published = _date(_text_field(form, "published", 40), "published")
        async with saved(upload, svc.settings.max_upload) as (path, _):
            result = await svc.add(path, Sighting(label(upload.filename), url, title, published))
    finally:
        await form.close()
    if result.status == "failed" or result.item_id is None:  # an item id whenever not failed
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
    responses=_answers(401, 403, 404, 422),
    dependencies=[Depends(writer)],
    tags=["archive"],
)
async def delete_item(svc: ServiceDep, item_id: ItemId) -> Response:
    """Removes an item with its frames, thumbnails and sightings. Needs the bearer token."""
    if await svc.remove(item_id) is None:
        raise HTTPException(404, f"no item {item_id}")
    return Response(status_code=204)
