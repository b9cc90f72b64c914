"""The picture of a clip's answer: the query's timeline above each matching source's, the copied
stretches joined, and each stretch's best frame pair as thumbnails; one SVG for the web UI and
the report.

All timelines share one scale (pixels per second), and each source's is placed so that its best
stretch starts under the query's: a stretch copied at normal speed is joined by an upright band,
one played faster or slower by a slanted one (wider below when the source was sped up), and a
second stretch taken from elsewhere in the source leans off to where it came from. Only the part
of a source around its copied stretches is drawn; its ends are labelled with their times.
Everything that comes from the archive (titles, names) is escaped and stripped of control
characters, which XML cannot hold even escaped.
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from firstseen.errors import FirstseenError
from firstseen.evidence.pictures import jpeg
from firstseen.matching.answers import clock
from firstseen.matching.results import Match
from firstseen.media import video_info
from firstseen.media.frames import shrink
from firstseen.text import printable

_WIDTH = 960
_MARGIN = 16
_BAR = 14
_JOIN = 46  # height of the joins between the two timelines
_THUMB = 72  # height of a frame-pair thumbnail
_TITLE = 48  # longest title shown, in characters
_COLOURS = ("#1d4ed8", "#0f7b3f", "#b45309", "#7e22ce", "#be123c", "#0e7490")
_FONT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="12"'


@dataclass(frozen=True, slots=True)
class Still:
    """A frame to show: a JPEG and its width / height."""

    data: bytes
    aspect: float


def still(rgb: np.ndarray, edge: int = 240) -> Still:
    small = shrink(rgb, edge)
    return Still(jpeg(small, 80), small.shape[1] / max(1, small.shape[0]))


@dataclass(frozen=True, slots=True)
class Stretch:
    """An aligned stretch (seconds) and its best frame pair as JPEGs, where there are any."""

    query: tuple[float, float]
    reference: tuple[float, float]
    speed: float
    match: bool
    pair_times: tuple[float, float] | None = None  # (query, reference) of the frame pair
    query_still: Still | None = None
    reference_still: Still | None = None


@dataclass(frozen=True, slots=True)
class Lane:
    """One source: its title, its length (None when unknown) and its stretches, best first."""

    title: str
    length: float | None
    stretches: list[Stretch]


# The archive's stored frame (RGB) of an item by SHA-256 and ordinal, None when not stored.
FrameReader = Callable[[str, int], np.ndarray | None]


def lanes_of(matches: list[Match], read_frame: FrameReader, edge: int = 240) -> list[Lane]:
    """The lanes of a clip's matching answers: those with aligned segments, matched ones only."""
    lanes = []
    for m in matches:
        if not m.match or not m.segments:
            continue
        stretches = []
        for s in m.segments:
            pair, query_still, reference_still = s.pair, None, None
            if pair is not None:
                if pair.query_still is not None:
                    query_still = still(pair.query_still, edge)
                stored = read_frame(m.item.sha256, pair.reference_ordinal)
                reference_still = None if stored is None else still(stored, edge)
            stretches.append(
                Stretch(
                    s.segment.query,
                    s.segment.reference,
                    s.segment.speed,
                    s.match,
                    None if pair is None else (pair.query_time, pair.reference_time),
                    query_still,
                    reference_still,
                )
            )
        lanes.append(Lane(m.item.first_seen.title or m.item.path, m.item.duration, stretches))
    return lanes


def clip_picture(
    name: str, query: Path, matches: list[Match], read_frame: FrameReader
) -> str | None:
    """The SVG of a clip's matching answers (None when none has aligned segments); the query's
    length is read from the file, else taken from the last copied stretch."""
    lanes = lanes_of(matches, read_frame)
    if not lanes:
        return None
    try:
        length = video_info(query).duration
    except FirstseenError:
        length = None
    ends = [s.query[1] for lane in lanes for s in lane.stretches]
    return alignment_svg(name, length or max(ends), lanes)


def svg_uri(svg: str) -> str:
    """The picture as a data: URI, for an <img> in a page that loads nothing else."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def _text(value: str, limit: int = _TITLE) -> str:
    """Archive text as SVG character data: control characters escaped, shortened, XML-escaped."""
    shown = printable(value)
    return escape(shown if len(shown) <= limit else shown[: limit - 1] + "…")


def _window(lane: Lane, query_length: float) -> tuple[float, float]:
    """The part of the source drawn: its copied stretches with a margin, within the source."""
    pad = max(1.0, 0.1 * query_length)
    start = max(0.0, min(s.reference[0] for s in lane.stretches) - pad)
    end = max(s.reference[1] for s in lane.stretches) + pad
    return start, min(end, lane.length) if lane.length else end


def _shift(lane: Lane) -> float:
    """Seconds added to source times to place them on the query's axis: the best stretch's start
    under the query's."""
    best = lane.stretches[0]
    return best.query[0] - best.reference[0]


class _Canvas:
    """SVG elements, and the mapping from seconds on the query's axis to pixels."""

    def __init__(self, low: float, high: float) -> None:
        self.low = low
        self.scale = (_WIDTH - 2 * _MARGIN) / max(high - low, 1e-6)
        self.parts: list[str] = []

    def x(self, seconds: float) -> float:
        return round(_MARGIN + (seconds - self.low) * self.scale, 1)

    def add(self, element: str) -> None:
        self.parts.append(element)

    def label(self, x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> None:
        self.add(f'<text x="{x}" y="{y}" text-anchor="{anchor}"{extra}>{text}</text>')

    def bar(self, start: float, end: float, y: float, fill: str, extra: str = "") -> None:
        x0, x1 = self.x(start), self.x(end)
        width = max(1.0, round(x1 - x0, 1))
        self.add(f'<rect x="{x0}" y="{y}" width="{width}" height="{_BAR}" fill="{fill}"{extra}/>')

    def picture(self, shown: Still, x: float, y: float, label: str) -> float:
        """Draws a thumbnail _THUMB high from (x, y); returns its width."""
        width = round(_THUMB * shown.aspect, 1)
        uri = "data:image/jpeg;base64," + base64.b64encode(shown.data).decode("ascii")
        self.add(
            f'<image x="{x}" y="{y}" width="{width}" height="{_THUMB}" xlink:href="{uri}"'
            f' preserveAspectRatio="xMidYMid meet"><title>{escape(label)}</title></image>'
        )
        return width


def alignment_svg(query_name: str, query_length: float, lanes: list[Lane]) -> str:
    """The picture as an SVG document (no scripts, no external references)."""
    shifts = [_shift(lane) for lane in lanes]
    windows = [_window(lane, query_length) for lane in lanes]
    low = min([0.0] + [w[0] + d for w, d in zip(windows, shifts, strict=True)])
    high = max([query_length] + [w[1] + d for w, d in zip(windows, shifts, strict=True)])
    canvas = _Canvas(low, high)
    y = 0.0
    for number, (lane, window, shift) in enumerate(zip(lanes, windows, shifts, strict=True)):
        colour = _COLOURS[number % len(_COLOURS)]
        y = _lane(canvas, lane, (query_name, query_length), window, shift, colour, y)
    body = "\n".join(canvas.parts)
    height = round(y + _MARGIN)
    summary = f"Timeline of {query_name} and the {len(lanes)} sources it copies"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        f' width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" role="img"'
        f" aria-label={quoteattr(printable(summary))} {_FONT}>\n"
        f"<title>{_text(summary, 200)}</title>\n"
        f'<rect width="{_WIDTH}" height="{height}" fill="#fff"/>\n{body}\n</svg>\n'
    )


def _lane(
    canvas: _Canvas,
    lane: Lane,
    query: tuple[str, float],
    window: tuple[float, float],
    shift: float,
    colour: str,
    top: float,
) -> float:
    """Draws one source's block (the query's bar, joins, the source's bar, the frame pairs) from
    `top`; returns where the next block starts."""
    name, length = query
    y = top + _MARGIN + 12
    canvas.label(_MARGIN, y, f"your clip {_text(name, 40)} ({clock(0)}–{clock(length)})")
    canvas.label(
        _WIDTH - _MARGIN,
        y,
        f"source: {_text(lane.title)}",
        "end",
        f' fill="{colour}" font-weight="bold"',
    )
    query_y, source_y = y + 6, y + 6 + _BAR + _JOIN
    canvas.bar(0.0, length, query_y, "#d5dbe3")
    canvas.bar(window[0] + shift, window[1] + shift, source_y, "#d5dbe3")
    for stretch in reversed(lane.stretches):  # the best drawn last, on top
        _join(canvas, stretch, shift, (query_y, source_y), colour)
    below = source_y + _BAR + 14
    left = "… " if window[0] > 0 else ""
    right = " …" if lane.length is None or window[1] < lane.length else ""
    canvas.label(canvas.x(window[0] + shift), below, f"{left}source {clock(window[0])}")
    canvas.label(canvas.x(window[1] + shift), below, f"{clock(window[1])}{right}", "end")
    return _pairs(canvas, lane, colour, below + 8)


def _join(
    canvas: _Canvas, stretch: Stretch, shift: float, rows: tuple[float, float], colour: str
) -> None:
    """A copied stretch on both timelines, joined by a band; dashed where it does not match."""
    query_y, source_y = rows
    (q0, q1), (r0, r1) = stretch.query, stretch.reference
    fill = colour if stretch.match else "#9aa5b5"
    dash = "" if stretch.match else ' stroke-dasharray="4 3"'
    canvas.bar(q0, q1, query_y, fill)
    canvas.bar(r0 + shift, r1 + shift, source_y, fill)
    top, bottom = query_y + _BAR, source_y
    points = [
        (canvas.x(q0), top),
        (canvas.x(q1), top),
        (canvas.x(r1 + shift), bottom),
        (canvas.x(r0 + shift), bottom),
    ]
    shape = " ".join(f"{x},{y}" for x, y in points)
    canvas.add(
        f'<polygon class="join" points="{shape}" fill="{fill}" fill-opacity="0.3"'
        f' stroke="{fill}"{dash}><title>{clock(q0)}–{clock(q1)} ← source'
        f" {clock(r0)}–{clock(r1)}, speed {stretch.speed:.2f}×</title></polygon>"
    )
    if abs(stretch.speed - 1.0) >= 0.02:
        middle = (points[0][0] + points[1][0] + points[2][0] + points[3][0]) / 4
        canvas.label(
            round(middle, 1),
            round((top + bottom) / 2 + 4, 1),
            f"{stretch.speed:.2f}×",
            "middle",
            ' font-weight="bold"',
        )


def _pairs(canvas: _Canvas, lane: Lane, colour: str, top: float) -> float:
    """The stretches' best frame pairs, query then source, left to right, wrapping; returns
    where the next block starts."""
    x, y = float(_MARGIN), top
    for stretch in lane.stretches:
        stills = (stretch.query_still, stretch.reference_still)
        if stretch.pair_times is None or stills == (None, None):
            continue
        width = sum(_THUMB * (s.aspect if s else 1.0) + 2 for s in stills)
        if x > _MARGIN and x + width > _WIDTH - _MARGIN:
            x, y = float(_MARGIN), y + _THUMB + 26
        query_time, source_time = stretch.pair_times
        labels = (f"your clip at {clock(query_time)}", f"source at {clock(source_time)}")
        start = x
        for shown, label in zip(stills, labels, strict=True):
            x += (canvas.picture(shown, x, y, label) if shown else _THUMB) + 2
        caption = f"{clock(query_time)} ↔ {clock(source_time)}"
        fill = colour if stretch.match else "#5b6473"
        canvas.label(
            round((start + x) / 2, 1), y + _THUMB + 14, caption, "middle", f' fill="{fill}"'
        )
        x += 14
    return y + _THUMB + 26 if x > _MARGIN else y
