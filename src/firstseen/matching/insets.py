"""Framed pictures inside a query: an inset, a picture-in-picture, a photo pasted into another.

A pasted picture ends on straight, axis-parallel lines where its content (or its border) meets
what it was pasted on; the textured-region map of the search cannot part it from a textured host
photo, and a fixed centre or corner window holds it only when it is large and well placed. Here
rectangles are sought whose four sides all lie on such lines: rows and columns that hold a long
straight edge are the candidate sides, and every rectangle they make is scored by the share of
each side that lies on an edge. Sides may lie on the query's border (an inset cut by the frame,
or in a corner), but a band from one border to the opposite one is a bar or a margin, and a
rectangle whose sides run on past its corners is a cell of a grid (the windows of a building, the
panels of a page), not a picture laid on top.
"""

import cv2
import numpy as np

from firstseen.tuning import INSETS, REGIONS


def framed(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Rectangles (x, y, w, h), in the query's pixels, framed by straight edges on all sides."""
    height, width = rgb.shape[:2]
    scale = INSETS.inset_edge / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    gray = cv2.resize(gray, size, interpolation=interpolation).astype(np.float32)
    # Each direction's step is measured after smoothing along the edge sought, and only its
    # ridge (the row where it is steepest) is kept: a straight edge keeps its step and leaves one
    # long ridge, texture's steps average out or leave ridges that wiggle.
    across = _ridges(cv2.Sobel(cv2.blur(gray, (INSETS.smooth, 1)), cv2.CV_32F, 0, 1))
    down = _ridges(cv2.Sobel(cv2.blur(gray, (1, INSETS.smooth)), cv2.CV_32F, 1, 0).T)
    h, w = gray.shape
    rows, cols = _Sides(across), _Sides(down)
    y0, y1, x0, x1 = _rectangles(
        rows.lines(INSETS.min_side * w), cols.lines(INSETS.min_side * h), h, w
    )
    cover = np.min(
        [
            rows.cover(y0, x0, x1),
            rows.cover(y1, x0, x1),
            cols.cover(x0, y0, y1),
            cols.cover(x1, y0, y1),
        ],
        axis=0,
    )
    # A pasted picture's sides end at its corners; the cells of a grid are framed too, but their
    # lines run on past them at both ends.
    through = np.zeros(len(y0), int)
    for sides, line, start, end, inner in (
        (rows, y0, x0, x1, y0 > 0),
        (rows, y1, x0, x1, y1 < h - 1),
        (cols, x0, y0, y1, x0 > 0),
        (cols, x1, y0, y1, x1 < w - 1),
    ):
        reach = (INSETS.run_on * (end - start)).astype(int)
        before = sides.cover(line, start - reach, start) > INSETS.runs_on
        after = sides.cover(line, end + 1, end + 1 + reach) > INSETS.runs_on
        through += inner & before & after
    cover = np.where(through <= INSETS.through, cover, 0.0)
    kept: list[tuple[int, int, int, int]] = []
    for i in np.argsort(-cover, kind="stable"):
        if cover[i] < INSETS.min_cover or len(kept) == INSETS.framed:
            break
        box = (int(x0[i]), int(y0[i]), int(x1[i]), int(y1[i]))
        if all(_iou(box, other) <= INSETS.overlap for other in kept):
            kept.append(box)
    windows = []
    for a, b, c, d in kept:
        dx, dy = INSETS.trim * (c - a), INSETS.trim * (d - b)
        x, y = round((a + dx) / scale), round((b + dy) / scale)
        across_x, across_y = round((c - dx) / scale) - x, round((d - dy) / scale) - y
        if min(across_x, across_y) >= REGIONS.smallest_window:
            windows.append((x, y, across_x, across_y))
    return windows


def _ridges(step: np.ndarray) -> np.ndarray:
    """Where a step across the rows is strong and at its steepest; the first and last rows (the
    query's border) count as edges all along."""
    step = np.abs(step)
    padded = np.pad(step, ((1, 1), (0, 0)))
    ridges = (step > INSETS.step) & (step >= padded[:-2]) & (step >= padded[2:])
    ridges[[0, -1], :] = True
    return ridges


def _rectangles(
    ys: np.ndarray, xs: np.ndarray, h: int, w: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every rectangle (y0, y1, x0, x1) of candidate lines that could be a framed picture."""
    y0, y1, x0, x1 = (a.ravel() for a in np.meshgrid(ys, ys, xs, xs, indexing="ij"))
    across_frame = ((y0 == 0) & (y1 == h - 1)) | ((x0 == 0) & (x1 == w - 1))
    keep = (
        (y1 - y0 >= INSETS.min_side * h)
        & (x1 - x0 >= INSETS.min_side * w)
        & ((x1 - x0) * (y1 - y0) <= INSETS.max_area * h * w)
        & ~across_frame
    )
    return y0[keep], y1[keep], x0[keep], x1[keep]


class _Sides:
    """The candidate lines among the rows of a ridge map, and the share of a stretch of a row
    that lies on a ridge or next to one (a pixel of tilt or jagged resampling), for many
    stretches at once."""

    def __init__(self, ridges: np.ndarray) -> None:
        self.ridges = ridges
        self.near = cv2.dilate(ridges.astype(np.uint8), np.ones((3, 1), np.uint8))
        self.sums = np.pad(np.cumsum(self.near, axis=1, dtype=np.int32), ((0, 0), (1, 0)))

    def lines(self, shortest: float) -> np.ndarray:
        """Rows that hold a run at least `shortest` long, each group of adjacent ones as its row
        with the most ridge; the first and last rows always."""
        run = cv2.erode(self.near, np.ones((1, max(1, round(shortest))), np.uint8))
        rows = np.flatnonzero(run.any(axis=1))
        strength = self.ridges.sum(axis=1)
        lines = {0, len(self.ridges) - 1}
        for group in np.split(rows, np.flatnonzero(np.diff(rows) > INSETS.same_line) + 1):
            if len(group):
                lines.add(int(group[np.argmax(strength[group])]))
        return np.array(sorted(lines))

    def cover(self, line: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """0 where the stretch is empty (it lies past the border)."""
        last = self.sums.shape[1] - 1
        start, end = np.clip(start, 0, last), np.clip(end, 0, last)
        return (self.sums[line, end] - self.sums[line, start]) / np.maximum(end - start, 1)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0
