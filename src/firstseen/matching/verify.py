"""Geometric verification with local features: is the query a view of this reference, and which
part of it?

Keypoints are matched between the query and the reference frame's thumbnail (Lowe's ratio test)
and a homography is fitted with MAGSAC++ (OpenCV's USAC). Two detectors serve: ORB, fast enough
(about 4 ms a picture on 2 cores) to check several candidates per query from thumbnails, and SIFT
(RootSIFT), about ten times slower but robust to blur, noise and heavy rescaling, kept for the
candidates ORB could not settle. A true copy
gives many geometrically consistent matches; two different pictures give few. The fitted
homography then says where the query lies in the reference. Added content (caption bars, phone
or player chrome, the background around a picture-in-picture) is trimmed off before the query's
outline is projected, by keeping only the rows and columns of the query that correlate with the
warped reference.
"""

from dataclasses import dataclass

import cv2
import numpy as np

_RATIO = 0.8
_MIN_MATCHES = 6
_REPROJECTION_PX = 4.0
_GAP = 9  # rows or columns of poor agreement tolerated inside the copied content
_RESIDUAL_FACTOR = 2.5  # a row is content while its residual is within this factor of the core's
_RESIDUAL_FLOOR = 6.0  # grey levels, so that near-perfect copies do not get a zero tolerance


@dataclass(frozen=True, slots=True)
class Features:
    """Keypoints (in the picture's full-size pixels) and descriptors of one picture."""

    kind: str  # "orb" or "sift"
    points: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, 32) uint8 for ORB, (n, 128) float32 RootSIFT for SIFT
    size: tuple[int, int]  # full-size (width, height)
    gray: np.ndarray  # the working-size grey picture
    scale: float  # working size / full size


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of checking one query against one reference picture."""

    inliers: int
    matches: int
    correlation: float  # photometric agreement of the overlapping content, -1..1
    region: tuple[int, int, int, int] | None  # [x, y, w, h] of the reference the query shows


NOT_VERIFIED = Verification(0, 0, 0.0, None)


class LocalFeatures:
    """Keypoint extraction at a bounded working size (speed is set by the pixel count)."""

    def __init__(self, kind: str = "orb", max_edge: int = 640, count: int = 1500) -> None:
        self.kind = kind
        self.max_edge = max_edge
        self._detector = cv2.ORB_create(count) if kind == "orb" else cv2.SIFT_create(count)

    def extract(self, rgb: np.ndarray, full_size: tuple[int, int] | None = None) -> Features:
        """Features of `rgb`; `full_size` gives the original size when `rgb` is a thumbnail."""
        height, width = rgb.shape[:2]
        scale = min(1.0, self.max_edge / max(height, width))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1:
            size = (round(width * scale), round(height * scale))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        full = full_size or (width, height)
        scale = gray.shape[1] / full[0]
        keypoints, descriptors = self._detector.detectAndCompute(gray, None)
        if descriptors is None:
            empty = np.zeros((0, 2), np.float32)
            return Features(self.kind, empty, np.zeros((0, 32), np.uint8), full, gray, scale)
        if self.kind == "sift":
            descriptors /= np.maximum(descriptors.sum(axis=1, keepdims=True), 1e-7)
            descriptors = np.sqrt(descriptors)
        points = np.array([k.pt for k in keypoints], dtype=np.float32) / scale
        return Features(self.kind, points, descriptors, full, gray, scale)


def _matches(query: Features, reference: Features) -> tuple[np.ndarray, np.ndarray]:
    if len(query.descriptors) < 2 or len(reference.descriptors) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    norm = cv2.NORM_HAMMING if query.kind == "orb" else cv2.NORM_L2
    pairs = cv2.BFMatcher(norm).knnMatch(query.descriptors, reference.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < _RATIO * p[1].distance]
    src = query.points[[m.queryIdx for m in good]] if good else np.zeros((0, 2), np.float32)
    dst = reference.points[[m.trainIdx for m in good]] if good else np.zeros((0, 2), np.float32)
    return src, dst


def _plausible(h: np.ndarray) -> bool:
    """Rejects reflections, extreme scalings and strong perspective: a copy is a crop, scale,
    small rotation or mild keystone (a photographed screen) of its source."""
    det = np.linalg.det(h[:2, :2])
    return 1e-3 < det < 1e3 and abs(h[2, 0]) < 2e-3 and abs(h[2, 1]) < 2e-3


def _band(content: np.ndarray, seed: int) -> tuple[int, int]:
    """The run of rows (or columns) around `seed` that hold copied content, allowing short gaps."""
    if not content.any():
        return 0, len(content)
    seed = int(np.clip(seed, 0, len(content) - 1))
    if not content[seed]:
        hits = np.flatnonzero(content)
        seed = int(hits[np.argmin(np.abs(hits - seed))])
    bridged = np.convolve(content.astype(float), np.ones(_GAP), mode="same") > 0
    start = seed
    while start > 0 and bridged[start - 1]:
        start -= 1
    end = seed
    while end < len(content) - 1 and bridged[end + 1]:
        end += 1
    return start, end + 1


def _masked_rms(residual: np.ndarray, valid: np.ndarray, axis: int) -> np.ndarray:
    """Root-mean-square residual of each row (axis=1) or column (axis=0); inf where too little of
    it overlaps the reference."""
    count = valid.sum(axis=axis)
    rms = np.sqrt((residual**2 * valid).sum(axis=axis) / np.maximum(count, 1))
    return np.where(count >= 0.15 * valid.shape[axis], rms, np.inf)


def _content(
    query: Features, reference: Features, h_work: np.ndarray, inliers: np.ndarray
) -> tuple[tuple[int, int, int, int], float]:
    """(x0, y0, x1, y1) of the query's copied content in working pixels, and the photometric
    correlation of that content with the reference.

    The reference is warped onto the query and a gain and offset are fitted where the inliers lie
    (so colour grading does not matter); rows and columns whose residual stays near the fit's are
    copied content, including flat areas such as a wall, while caption bars, player chrome or the
    picture around an inset leave large residuals.
    """
    qh, qw = query.gray.shape
    inverse = np.linalg.inv(h_work)
    warped = cv2.warpPerspective(reference.gray, inverse, (qw, qh), flags=cv2.INTER_LINEAR)
    valid = cv2.warpPerspective(np.ones_like(reference.gray), inverse, (qw, qh)) > 0
    q = cv2.GaussianBlur(query.gray, (5, 5), 0).astype(np.float32)
    w = cv2.GaussianBlur(warped, (5, 5), 0).astype(np.float32)
    (x0, y0), (x1, y1) = inliers.min(axis=0).astype(int), inliers.max(axis=0).astype(int) + 1
    core = np.zeros_like(valid)
    core[y0:y1, x0:x1] = True
    core &= valid
    if core.sum() < 50:
        return (0, 0, qw, qh), 0.0
    gain, offset = np.polyfit(w[core], q[core], 1)
    residual = q - (gain * w + offset)
    limit = _RESIDUAL_FACTOR * float(np.sqrt(np.mean(residual[core] ** 2))) + _RESIDUAL_FLOOR
    centre = np.median(inliers, axis=0)
    # Rows are judged within the inliers' columns, then columns within the rows found, so that a
    # caption bar across the top does not spoil every column's residual.
    rows = _masked_rms(residual[:, x0:x1], valid[:, x0:x1], axis=1)
    top, bottom = _band(rows < limit, round(centre[1]))
    columns = _masked_rms(residual[top:bottom], valid[top:bottom], axis=0)
    left, right = _band(columns < limit, round(centre[0]))
    correlation = float(np.corrcoef(w[core], q[core])[0, 1]) if w[core].std() > 0 else 0.0
    return (left, top, right, bottom), correlation if np.isfinite(correlation) else 0.0


def verify(query: Features, reference: Features) -> Verification:
    """Checks whether `query` shows (part of) `reference`, and where."""
    src, dst = _matches(query, reference)
    if len(src) < _MIN_MATCHES:
        return Verification(0, len(src), 0.0, None)
    # Work in the working-size pixel grids, where the reprojection tolerance is meaningful.
    h_work, mask = cv2.findHomography(
        src * query.scale,
        dst * reference.scale,
        cv2.USAC_MAGSAC,
        _REPROJECTION_PX,
        maxIters=2000,
        confidence=0.999,
    )
    if h_work is None or mask is None or not _plausible(h_work):
        return Verification(0, len(src), 0.0, None)
    keep = mask.ravel().astype(bool)
    inliers = int(keep.sum())
    if inliers < _MIN_MATCHES:
        return Verification(inliers, len(src), 0.0, None)
    (x0, y0, x1, y1), corr = _content(query, reference, h_work, src[keep] * query.scale)
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)[None]
    projected = cv2.perspectiveTransform(corners, h_work)[0] / reference.scale
    width, height = reference.size
    left, top = np.clip(projected.min(axis=0), 0, [width, height])
    right, bottom = np.clip(projected.max(axis=0), 0, [width, height])
    if right - left < 1 or bottom - top < 1:
        return Verification(inliers, len(src), corr, None)
    region = (round(left), round(top), round(right - left), round(bottom - top))
    return Verification(inliers, len(src), corr, region)
