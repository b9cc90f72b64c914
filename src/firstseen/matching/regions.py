"""Parts of a still searched on their own: windows that may hold a copied picture (textured
regions, the centre and the corners), the pictures of a collage, and the cells that confirmed
content leaves uncovered (the pictures framed inside a still are matching/insets.py's)."""

from itertools import pairwise

import cv2
import numpy as np

from firstseen.matching.results import Match
from firstseen.tuning import REGIONS


def parts_of(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Windows (x, y, w, h) on parts of a picture that may hold a copied picture on their own:
    the textured regions found in it (a photo inside a chat screenshot, a video inside a player
    or a web page, an inset), its centre and its four corners (an inset in a textured picture)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, REGIONS.part_map_edge / max(height, width))
    small = cv2.resize(
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
        None,
        fx=scale,
        fy=scale,
        interpolation=cv2.INTER_AREA,
    ).astype(np.float32)
    # Local spread of grey levels: flat UI, chat bubbles and bars are low, photographs high.
    texture = (REGIONS.part_texture_window, REGIONS.part_texture_window)
    mean = cv2.blur(small, texture)
    spread = np.sqrt(np.maximum(cv2.blur(small * small, texture) - mean * mean, 0))
    textured = (spread > REGIONS.part_texture).astype(np.uint8)
    side = max(REGIONS.part_closing_least, round(REGIONS.part_closing * max(small.shape)))
    closed = cv2.morphologyEx(textured, cv2.MORPH_CLOSE, np.ones((side, side), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(closed)
    area = small.shape[0] * small.shape[1]
    boxes = [
        stats[i, :4] / scale
        for i in np.argsort(-stats[1:, 4])[: REGIONS.part_regions] + 1
        if REGIONS.part_min_area * area <= stats[i, 2] * stats[i, 3] <= REGIONS.part_max_area * area
    ]
    h, w = int(height * REGIONS.part_side), int(width * REGIONS.part_side)
    corners = [((width - w) // 2, (height - h) // 2), (0, 0), (width - w, 0), (0, height - h)]
    corners.append((width - w, height - h))
    boxes += [np.array([x, y, w, h]) for x, y in corners]
    windows = [tuple(int(v) for v in box) for box in boxes]
    return [
        (x, y, w, h)
        for x, y, w, h in windows
        if w >= REGIONS.smallest_window and h >= REGIONS.smallest_window
    ]


def collage_cells(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The pictures (x, y, w, h) of a collage: the still split along flat columns that run its
    whole height (gutters), then each column along flat rows that run its whole width. Empty
    unless a full-height gutter parts pictures at least `REGIONS.cell` of the width each: a phone
    screenshot has flat rows between posts, but nothing splits it from top to bottom."""
    height, width = rgb.shape[:2]
    scale = min(1.0, REGIONS.collage_edge / max(height, width))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32)
    columns = _runs(
        small.std(axis=0).max(axis=1) > REGIONS.gutter_spread, REGIONS.cell * small.shape[1]
    )
    if len(columns) < 2:
        return []
    cells = []
    for x0, x1 in columns:
        flat = small[:, x0:x1].std(axis=1).max(axis=1) <= REGIONS.gutter_spread
        for y0, y1 in _runs(~flat, REGIONS.cell * small.shape[0]) or [(0, small.shape[0])]:
            x, y, w, h = (round(v / scale) for v in (x0, y0, x1 - x0, y1 - y0))
            cells.append((x, y, w, h))
    return cells


def _runs(busy: np.ndarray, shortest: float) -> list[tuple[int, int]]:
    """[start, end) of the runs of True in `busy` at least `shortest` long."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], busy.astype(np.int8), [0]))))
    pairs = zip(edges[::2], edges[1::2], strict=True)
    return [(int(a), int(b)) for a, b in pairs if b - a >= shortest]


def cut_cells(shape: tuple[int, ...], confirmed: list[Match]) -> list[tuple[int, int, int, int]]:
    """The cells (x, y, w, h) of a collage without gutters, cut along the edges of the content
    already confirmed: pictures put edge to edge meet on the lines where a confirmed one ends.

    Only content that fills a corner of the query cuts it, as a picture of a collage does: a
    picture in a phone screenshot, a player or an inset lies between the page's other content,
    which is not worth searching. Edges closer than `REGIONS.cell` to the query's border, or to
    another cut, cut nothing."""
    height, width = shape[:2]
    slack_x, slack_y = REGIONS.corner * width, REGIONS.corner * height

    def in_corner(box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        sideways = x0 <= slack_x or x1 >= width - slack_x
        return sideways and (y0 <= slack_y or y1 >= height - slack_y)

    boxes = [box for box in _boxes(confirmed) if in_corner(box)]

    def cuts(edges: list[float], size: int) -> list[int]:
        kept = [0]
        for edge in sorted(edges):
            if REGIONS.cell * size <= edge - kept[-1] and edge <= (1 - REGIONS.cell) * size:
                kept.append(round(edge))
        return [*kept, size]

    xs = cuts([x for box in boxes for x in (box[0], box[2])], width)
    ys = cuts([y for box in boxes for y in (box[1], box[3])], height)
    if len(xs) == 2 and len(ys) == 2:
        return []
    return [(x0, y0, x1 - x0, y1 - y0) for x0, x1 in pairwise(xs) for y0, y1 in pairwise(ys)]


def uncovered(
    cells: list[tuple[int, int, int, int]], confirmed: list[Match]
) -> list[tuple[int, int, int, int]]:
    """The cells that no confirmed content covers most of (in the query's pixels)."""
    boxes = _boxes(confirmed)

    def covered(cell: tuple[int, int, int, int]) -> float:
        x, y, w, h = cell
        overlaps = [
            max(0.0, min(x + w, x1) - max(x, x0)) * max(0.0, min(y + h, y1) - max(y, y0))
            for x0, y0, x1, y1 in boxes
        ]
        return max(overlaps, default=0.0) / (w * h)

    return [cell for cell in cells if covered(cell) < REGIONS.covered]


def _boxes(confirmed: list[Match]) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of the content each confirmed match found, in the query's pixels."""
    boxes = []
    for match in confirmed:
        if (alignment := match.check.alignment) is None:
            continue
        x0, y0, x1, y1 = (v / alignment.query.scale for v in alignment.box)
        if match.mirrored:  # the box lies on the mirror image
            x0, x1 = alignment.query.size[0] - x1, alignment.query.size[0] - x0
        boxes.append((x0, y0, x1, y1))
    return boxes
