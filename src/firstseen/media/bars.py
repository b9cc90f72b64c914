"""Letterbox and pillarbox bars: find the black borders that re-uploads add, so that descriptors
describe the picture rather than its frame.

A bar is a run of rows (or columns) from an edge that is flat and near black. The decision is
made per picture, the same way for what is archived and what is searched, so a copy and its
source are cut alike whatever bars either has; a dark scene cut by mistake is cut in both.
Blurred or coloured fills are left alone.
"""

import cv2
import numpy as np

from firstseen.tuning import BARS

Box = tuple[int, int, int, int]  # (x, y, w, h)


def content_box(rgb: np.ndarray) -> Box | None:
    """The part of an RGB picture inside its black bars, or None when it has none."""
    height, width = rgb.shape[:2]
    scale = min(1.0, BARS.bar_work_edge / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = cv2.resize(
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA
    ).astype(np.float32)
    top, bottom = _edges(_is_bar(grey, axis=1))
    left, right = _edges(_is_bar(grey, axis=0))
    if top == bottom == left == right == 0:
        return None
    y0, y1 = round(top / scale), height - round(bottom / scale)
    x0, x1 = round(left / scale), width - round(right / scale)
    return x0, y0, x1 - x0, y1 - y0


def strip_bars(rgb: np.ndarray) -> np.ndarray:
    """The picture without its black bars (itself when it has none)."""
    box = content_box(rgb)
    if box is None:
        return rgb
    x, y, w, h = box
    return np.ascontiguousarray(rgb[y : y + h, x : x + w])


def _is_bar(grey: np.ndarray, axis: int) -> np.ndarray:
    return (grey.mean(axis=axis) <= BARS.bar_dark) & (grey.std(axis=axis) <= BARS.bar_spread)


def _edges(bar: np.ndarray) -> tuple[int, int]:
    """Bar runs at the start and end of a line of row (column) flags, or none if they would
    take too much; a line that is all bar (a black picture) has none."""
    n = bar.size
    if bar.all():
        return 0, 0
    start = int(np.argmin(bar))
    end = int(np.argmin(bar[::-1]))
    # A band of one or two rows is a thin edge line, not a bar.
    start = start if start > BARS.bar_thin * n else 0
    end = end if end > BARS.bar_thin * n else 0
    if max(start, end) > BARS.bar_max_side * n or n - start - end < BARS.bar_min_kept * n:
        return 0, 0
    return start, end
