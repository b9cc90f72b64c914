"""The unit every signal is computed on: one decoded RGB picture, with its time in the video."""

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """An upright RGB picture (H x W x 3, uint8); `time` in seconds, None for stills;
    `shot_start` when a video frame opens a new shot (a cut just before it)."""

    rgb: np.ndarray
    time: float | None = None
    shot_start: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]


def shrink(rgb: np.ndarray, long_edge: int) -> np.ndarray:
    """The picture with its long edge at most `long_edge`, aspect kept (area resampling)."""
    height, width = rgb.shape[:2]
    scale = long_edge / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def spread(rgb: np.ndarray) -> float:
    """Grey-level standard deviation of a 64 x 64 thumbnail: about 0 for a black screen or a flat
    colour, which show nothing that could tie them to one source."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    return float(cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA).std())
