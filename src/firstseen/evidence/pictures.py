"""The pictures of a report: the query beside a matched source, the region it shows outlined on the
source, and lines joining the keypoint matches that verified it; encoded as embedded JPEGs."""

import base64
from dataclasses import dataclass

import cv2
import numpy as np

from firstseen.media.frames import shrink

REGION_COLOUR = (0, 200, 80)
_GAP = 28
_MAX_LINES = 80
_PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 200, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (0, 128, 128),
]


@dataclass(frozen=True, slots=True)
class Pairs:
    """Matched keypoints: query points in the query's pixels, source points in the source's
    full-size pixels."""

    query: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.query)


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("could not encode a report picture")
    return data.tobytes()


def data_uri(rgb: np.ndarray, quality: int = 85) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg(rgb, quality)).decode("ascii")


def _to_height(rgb: np.ndarray, height: int, max_width: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    scale = min(height / h, max_width / w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, size, interpolation=interpolation), scale


def outline(rgb: np.ndarray, box: tuple[float, float, float, float], thickness: int = 3):
    """Draws a rectangle (x, y, w, h in this picture's pixels), dark-edged to show on any
    background; in place."""
    x, y, w, h = (round(v) for v in box)
    cv2.rectangle(rgb, (x, y), (x + w - 1, y + h - 1), (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.rectangle(rgb, (x, y), (x + w - 1, y + h - 1), REGION_COLOUR, thickness, cv2.LINE_AA)


def with_region(
    source: np.ndarray, full_size: tuple[int, int], region: tuple[int, int, int, int] | None
) -> np.ndarray:
    """The source picture with the region (in full-size pixels) outlined."""
    picture = np.ascontiguousarray(source.copy())
    if region is not None:
        scale = picture.shape[1] / full_size[0]
        outline(picture, tuple(v * scale for v in region), max(2, round(picture.shape[1] / 250)))
    return picture


def side_by_side(
    query: np.ndarray,
    source: np.ndarray,
    full_size: tuple[int, int],
    region: tuple[int, int, int, int] | None,
    pairs: Pairs | None,
    height: int = 420,
) -> np.ndarray:
    """Query left, source right (region outlined), keypoint matches joined by lines."""
    left, left_scale = _to_height(query, height, 640)
    right, right_scale = _to_height(source, height, 760)
    right_scale *= source.shape[1] / full_size[0]  # full-size pixels -> drawn pixels
    canvas_h = max(left.shape[0], right.shape[0])
    canvas = np.full((canvas_h, left.shape[1] + _GAP + right.shape[1], 3), 255, np.uint8)
    top_left = (canvas_h - left.shape[0]) // 2
    top_right = (canvas_h - right.shape[0]) // 2
    offset = left.shape[1] + _GAP
    canvas[top_left : top_left + left.shape[0], : left.shape[1]] = left
    canvas[top_right : top_right + right.shape[0], offset:] = right
    if region is not None:
        x, y, w, h = (v * right_scale for v in region)
        outline(canvas, (x + offset, y + top_right, w, h))
    if pairs is not None and len(pairs):
        chosen = np.linspace(0, len(pairs) - 1, min(len(pairs), _MAX_LINES)).round().astype(int)
        order = np.argsort(pairs.query[:, 1], kind="stable")
        for n, index in enumerate(order[np.unique(chosen)]):
            qx, qy = pairs.query[index] * left_scale + (0, top_left)
            sx, sy = pairs.source[index] * right_scale + (offset, top_right)
            colour = _PALETTE[n % len(_PALETTE)]
            a, b = (round(qx), round(qy)), (round(sx), round(sy))
            cv2.line(canvas, a, b, colour, 1, cv2.LINE_AA)
            cv2.circle(canvas, a, 3, colour, -1, cv2.LINE_AA)
            cv2.circle(canvas, b, 3, colour, -1, cv2.LINE_AA)
    return canvas


def preview(rgb: np.ndarray, long_edge: int = 720) -> np.ndarray:
    return shrink(rgb, long_edge)
