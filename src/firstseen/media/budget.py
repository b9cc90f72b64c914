"""What decoding may cost: pixels per picture, pixels per video frame, seconds per request.

Sizes are checked from headers, before anything is decoded: a 37-byte GIF can declare a
14000 x 14000 canvas around a single pixel, and a small H.264 file 4096 x 4096 frames. The
archive's limits fit any camera; a request to the HTTP service runs under tighter ones
(`limited`), which also give it a deadline, checked between video frames.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from firstseen.errors import MediaError

# A still's canvas: phone cameras reach 200 megapixels.
MAX_PIXELS = 210_000_000
# A video frame: DCI 8K (8192 x 4320), the largest frames cameras record. Frames are decoded,
# queued and described by the dozen, so their budget is far below a still's.
MAX_FRAME_PIXELS = 8192 * 4320

# One search request to the HTTP service (`serve --max-megapixels`, `--search-seconds`): a
# picture or GIF canvas of up to 50 megapixels, with which a search peaked about 400 MB above an
# ordinary one (a 48-megapixel JPEG, a 49-megapixel GIF canvas), and two minutes of video
# decoding. Uploads over it get 413.
SEARCH_MAX_PIXELS = 50_000_000
SEARCH_SECONDS = 120.0


class OverBudget(MediaError):
    """A picture, frame or request that would cost more than its budget (413 over HTTP)."""


@dataclass(frozen=True, slots=True)
class Budget:
    """The limits of a request; `breaches` keeps what was refused, so that a caller whose callee
    turned the error into text (a search result) can still tell why."""

    pixels: int = MAX_PIXELS
    frame_pixels: int = MAX_FRAME_PIXELS
    deadline: float | None = None  # time.monotonic() after which decoding stops
    seconds: float | None = None
    breaches: list[OverBudget] = field(default_factory=list)


_ARCHIVE = Budget()  # outside any request: the archive's limits, nothing recorded
_request: ContextVar[Budget | None] = ContextVar("firstseen_request_budget", default=None)


def _current() -> Budget:
    return _request.get() or _ARCHIVE


def _refuse(message: str) -> OverBudget:
    error = OverBudget(message)
    if (budget := _request.get()) is not None:
        budget.breaches.append(error)
    return error


@contextmanager
def limited(pixels: int = MAX_PIXELS, seconds: float | None = None) -> Iterator[Budget]:
    """Decoding in this thread (or task) within `pixels` per picture or frame and `seconds` in
    all; never looser than the archive's own limits."""
    budget = Budget(
        pixels=min(pixels, MAX_PIXELS),
        frame_pixels=min(pixels, MAX_FRAME_PIXELS),
        deadline=None if seconds is None else time.monotonic() + seconds,
        seconds=seconds,
    )
    token = _request.set(budget)
    try:
        yield budget
    finally:
        _request.reset(token)


@contextmanager
def archive_limits() -> Iterator[None]:
    """Inside a request, reading the archive's own files (decoded once already, under the
    archive's limits, when they were added): the archive's limits, no deadline, and nothing
    refused counts as the request's."""
    token = _request.set(None)
    try:
        yield
    finally:
        _request.reset(token)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.3g}"


def check_picture(width: int, height: int) -> None:
    """Refuse a picture whose canvas is over the budget, before it is decoded."""
    budget = _current()
    if width * height > budget.pixels:
        raise _refuse(
            f"too large: {width} x {height} pixels is over the"
            f" {_megapixels(budget.pixels)}-megapixel budget"
        )


def check_frame(width: int, height: int) -> None:
    """Refuse a video frame over the budget (its coded size, before decoding) or a request that
    has run out of time."""
    budget = _current()
    if width * height > budget.frame_pixels:
        raise _refuse(
            f"video frames too large: {width} x {height} pixels is over the"
            f" {_megapixels(budget.frame_pixels)}-megapixel budget per frame"
        )
    if budget.deadline is not None and time.monotonic() > budget.deadline:
        raise _refuse(f"too long to decode: over the {budget.seconds:g}-second budget")


def refuse_picture() -> OverBudget:
    """The error for a picture Pillow itself found over its limit (the archive's) while
    opening or decoding it."""
    budget = _current()
    return _refuse(f"too large: over the {_megapixels(budget.pixels)}-megapixel budget")
