"""Local features: keypoints and their descriptors, found at a bounded working size.

Two detectors serve: ORB, fast enough (about 4 ms a picture on 2 cores) to check several
candidates per query from thumbnails, and SIFT (RootSIFT), about ten times slower but robust to
blur, noise and heavy rescaling, kept for the candidates ORB could not settle (matching/verify.py
matches and checks them).
"""

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from firstseen.tuning import FEATURES


@dataclass(frozen=True, slots=True)
class Features:
    """Keypoints (in the picture's full-size pixels) and descriptors of one picture."""

    kind: str  # "orb" or "sift"
    points: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, 32) uint8 for ORB, (n, 128) float32 RootSIFT for SIFT
    size: tuple[int, int]  # full-size (width, height)
    gray: np.ndarray  # the working-size grey picture
    scale: float  # working size / full size
    # A query's chroma per working pixel (matching/content.py): where its copied content is
    # grey, what is coloured was drawn over it. None for reference thumbnails and tonings.
    chroma: np.ndarray | None = None


class LocalFeatures:
    """Keypoint extraction at a bounded working size (speed is set by the pixel count)."""

    def __init__(self, kind: str, max_edge: int, count: int) -> None:
        self.kind = kind
        self.max_edge = max_edge
        self.count = count
        self._per_thread = threading.local()  # OpenCV does not promise a detector is reentrant

    @property
    def _detector(self) -> cv2.Feature2D:
        detector = getattr(self._per_thread, "detector", None)
        if detector is None:
            detector = self._per_thread.detector = (
                cv2.ORB.create(self.count)
                if self.kind == "orb"
                else cv2.SIFT.create(self.count, contrastThreshold=FEATURES.sift_contrast)
            )
        return detector

    def extract(
        self,
        rgb: np.ndarray,
        full_size: tuple[int, int] | None = None,
        window: tuple[int, int, int, int] | None = None,
    ) -> Features:
        """Features of `rgb`; `full_size` gives the original size when `rgb` is a thumbnail.

        With a `window` (x, y, w, h), keypoints come from that part only, sized for the part,
        while the grey picture stays whole: the copied content found there may then extend past
        the part, into flat areas that located it poorly.
        """
        height, width = rgb.shape[:2]
        focus = max(window[2:]) if window else max(height, width)
        # Small pictures (a photo cut out of a chat screenshot) are enlarged: keypoints need room.
        scale = min(
            self.max_edge / focus,
            max(1.0, FEATURES.min_edge / focus),
            FEATURES.max_whole / max(height, width),
        )
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale != 1:
            size = (round(width * scale), round(height * scale))
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
            gray = cv2.resize(gray, size, interpolation=interpolation)
        full = full_size or (width, height)
        scale = gray.shape[1] / full[0]
        area, offset = gray, np.zeros(2, np.float32)
        if window:
            x, y, w, h = (round(v * scale) for v in window)
            area, offset = gray[y : y + h, x : x + w], np.array([x, y], np.float32)
        keypoints, descriptors = self._detector.detectAndCompute(area, None)
        if descriptors is None:
            empty = np.zeros((0, 2), np.float32)
            return Features(self.kind, empty, np.zeros((0, 32), np.uint8), full, gray, scale)
        if self.kind == "sift":
            descriptors = descriptors / np.maximum(descriptors.sum(axis=1, keepdims=True), 1e-7)
            descriptors = np.sqrt(descriptors)
        points = (np.array([k.pt for k in keypoints], dtype=np.float32) + offset) / scale
        return Features(self.kind, points, descriptors, full, gray, scale)


def fast_features() -> LocalFeatures:
    """ORB at the settings that check every candidate (firstseen.tuning.FEATURES)."""
    return LocalFeatures("orb", FEATURES.fast_max_edge, FEATURES.fast_count)


def robust_features() -> LocalFeatures:
    """SIFT at the settings that check the candidates ORB could not settle."""
    return LocalFeatures("sift", FEATURES.robust_max_edge, FEATURES.robust_count)
