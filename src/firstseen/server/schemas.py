"""Shapes of the API's answers, for validation and for the OpenAPI document at /docs."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    error: str
    status: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    items: int
    frames: int
    indexed: int
    writable: bool
    max_upload_bytes: int
    search_workers: int


class CredentialsOut(BaseModel):
    """A file's Content Credentials (C2PA) and how they validate; `summary` in plain words."""

    model_config = ConfigDict(extra="allow")

    state: Literal[
        "none", "trusted", "valid", "invalid", "unreadable", "not_checked", "unavailable"
    ]
    summary: str
    reason: str | None = None


class MetadataOut(BaseModel):
    """A file's embedded metadata (a picture's EXIF, XMP, IPTC; a video's container tags): the
    fields provenance turns on."""

    model_config = ConfigDict(extra="allow")

    state: Literal["read", "none", "unreadable", "unavailable"]
    summary: str
    reason: str | None = None
    fields: dict[str, Any] | None = None


class MatchOut(BaseModel):
    """One source of the query: the CLI's JSON contract, plus links to its frame and item."""

    model_config = ConfigDict(extra="allow")

    path: str
    kind: Literal["image", "video"]
    time: float | None
    score: float
    match: bool
    region: list[int] | None
    url: str | None
    title: str | None
    published: str | None
    item_id: int
    frame: int
    frame_url: str
    item_url: str
    credentials: CredentialsOut | None
    metadata: MetadataOut | None


class SearchOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    query: str
    query_kind: Literal["image", "video"]
    error: None = None
    elapsed_ms: float
    budget_reached: bool = Field(
        False,
        description="The fallback budget (the archive's, or the request's where lower) left some"
        " of a still's fallbacks (mirror image, tonings, parts, framed pictures) unsearched: no"
        " match means none within it",
    )
    matches: list[MatchOut]
    credentials: CredentialsOut | None
    metadata: MetadataOut | None
    alignment_svg: str | None = Field(
        None,
        description="For a video query whose answers have aligned segments: an SVG picture of"
        " the clip's timeline joined to each matching source's, with the frame pairs",
    )


class ItemOut(BaseModel):
    id: int
    sha256: str
    kind: Literal["image", "video"]
    path: str
    width: int
    height: int
    duration: float | None
    bytes: int
    frames: int
    added_at: str
    url: str | None
    title: str | None
    published: str | None
    thumbnail_url: str


class SightingOut(BaseModel):
    path: str
    url: str | None
    title: str | None
    published: str | None
    seen_at: str


class FrameOut(BaseModel):
    ordinal: int
    time: float | None
    url: str


class ItemDetail(ItemOut):
    sightings: list[SightingOut]
    frame_list: list[FrameOut]


class ItemPage(BaseModel):
    items: list[ItemOut]
    total: int
    limit: int
    offset: int


class AddOut(BaseModel):
    status: Literal["added", "duplicate"]
    new_sighting: bool
    frames: int
    item: ItemOut


class KeyframeOut(BaseModel):
    time: float
    shot: int
    span: list[float]
    file: str
    image: str


class KeyframesOut(BaseModel):
    """A video's keyframes, in time order; `left_out` more were not sent (a very long video)."""

    query: str
    shots: int
    keyframes: list[KeyframeOut]
    left_out: int
