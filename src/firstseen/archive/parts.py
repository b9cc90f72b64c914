"""Parts of archived photos, described on their own so that a query showing only a small part of a
photo (a tight crop, a detail framed in a chat screenshot) can still be retrieved.

A whole-picture descriptor of a photo shares little with one of its quarter: the crop is found
only if the query happens to be described by a matching part. So each archived photo is also
described as a 3 x 3 grid of overlapping half-size windows (the ISC2021 entries described
reference regions for the same reason). Video frames are not: it would multiply the cost of
indexing footage by ten, and frames are many.

A part's id in its index is its frame's id times 16 plus its place in the grid, so a hit on a part
names its frame without a lookup, and a part goes when its frame goes.
"""

import numpy as np

from firstseen.tuning import PARTS

Box = tuple[int, int, int, int]  # (x, y, w, h)

SLOTS = 16  # ids reserved per frame; more than the grid needs


def part_windows(width: int, height: int) -> list[Box]:
    """The windows described for a photo of this size, in grid order."""
    w, h = max(1, round(width * PARTS.part_grid_side)), max(1, round(height * PARTS.part_grid_side))
    steps = range(PARTS.part_grid)
    return [
        (
            round((width - w) * col / (PARTS.part_grid - 1)),
            round((height - h) * row / (PARTS.part_grid - 1)),
            w,
            h,
        )
        for row in steps
        for col in steps
    ]


def crop_parts(rgb: np.ndarray) -> list[np.ndarray]:
    """The photo's parts, as views in grid order."""
    height, width = rgb.shape[:2]
    return [rgb[y : y + h, x : x + w] for x, y, w, h in part_windows(width, height)]


def part_id(frame_id: int, slot: int) -> int:
    return frame_id * SLOTS + slot


def part_frame(ids: np.ndarray) -> np.ndarray:
    """The frame ids the given part ids belong to."""
    return ids // SLOTS
