"""The unit every signal is computed on: one decoded RGB picture, with its time in the video."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """An upright RGB picture (H x W x 3, uint8); `time` in seconds, None for stills."""

    rgb: np.ndarray
    time: float | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]
