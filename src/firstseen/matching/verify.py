"""Geometric verification with local features: is the query a view of this reference, and which
part of it?

Keypoints (matching/features.py) are matched between the query and the reference frame's
thumbnail (Lowe's ratio test) and a homography is fitted with MAGSAC++ (OpenCV's USAC). A true
copy gives many geometrically consistent matches; two different pictures give few. The fitted
homography then says where the query lies in the reference, once the content the query added is
trimmed off and the rest is compared with the reference (matching/content.py). A confirmed check
keeps its alignment, so that other frames of a fixed shot can be compared with the query under
it (matching/moment.py picks the moment with it).
"""

from dataclasses import dataclass, field

import cv2
import faiss
import numpy as np

from firstseen.matching.content import copied_content
from firstseen.matching.features import Features
from firstseen.tuning import VERDICT, VERIFY


@dataclass(frozen=True, slots=True)
class Alignment:
    """Where the query's copied content lies on the reference, in working pixels: enough to
    compare it with another frame filmed from the same spot without matching keypoints again."""

    query: Features
    homography: np.ndarray  # query working pixels → reference working pixels
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the copied content in the query
    reference_shape: tuple[int, int]  # (height, width) of the reference's working picture


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of checking one query against one reference picture."""

    inliers: int
    matches: int
    correlation: float  # photometric agreement of the overlapping content, -1..1
    agreement: float  # share of the copied content's textured blocks that agree, 0..1
    region: tuple[int, int, int, int] | None  # [x, y, w, h] of the reference the query shows
    alignment: Alignment | None = field(default=None, compare=False, repr=False)  # with a region
    # The share of the blocks textured in the reference alone that agree (matching/content.py).
    source_agreement: float = 0.0


NOT_VERIFIED = Verification(0, 0, 0.0, 0.0, None)


def verify(
    query: Features, reference: Features, min_inliers: int = VERIFY.min_matches
) -> Verification:
    """Checks whether `query` shows (part of) `reference`, and where; fewer inliers than
    `min_inliers` align nothing."""
    fit = _fit(query, reference)
    if fit is None:
        return NOT_VERIFIED
    src, _, h_work, keep = fit
    inliers = int(keep.sum())
    if inliers < max(VERIFY.min_matches, min_inliers):
        return Verification(inliers, len(src), 0.0, 0.0, None)
    points = src[keep] * query.scale
    (x0, y0, x1, y1), corr, agreements = copied_content(query, reference, h_work, points)
    if agreements[0] < VERDICT.min_agreement and corr >= VERDICT.min_correlation:
        refined = _refine(query, reference, h_work, (x0, y0, x1, y1))
        if refined is not None:
            content = copied_content(query, reference, refined, points)
            if content[2][0] > agreements[0]:
                h_work, ((x0, y0, x1, y1), corr, agreements) = refined, content
    agreement, source_agreement = agreements
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)[None]
    projected = cv2.perspectiveTransform(corners, h_work)[0] / reference.scale
    width, height = reference.size
    left, top = np.clip(projected.min(axis=0), 0, [width, height])
    right, bottom = np.clip(projected.max(axis=0), 0, [width, height])
    qh, qw = query.gray.shape
    box_w, box_h = x1 - x0, y1 - y0
    tiny = box_w * box_h < VERIFY.min_coverage * qw * qh
    thin = min(box_w, box_h) < VERIFY.min_shape * max(box_w, box_h)
    if tiny or thin or right - left < 1 or bottom - top < 1:
        return Verification(
            inliers, len(src), corr, agreement, None, source_agreement=source_agreement
        )
    region = (round(left), round(top), round(right - left), round(bottom - top))
    alignment = Alignment(query, h_work, (x0, y0, x1, y1), reference.gray.shape)
    return Verification(inliers, len(src), corr, agreement, region, alignment, source_agreement)


def _fit(
    query: Features, reference: Features
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Matched points (full-size pixels), the homography between the working-size pictures and
    the inlier mask; None when no plausible homography exists."""
    src, dst = _matches(query, reference)
    if len(src) < VERIFY.min_matches:
        return None
    # Fitted in the working-size pixel grids, where the reprojection tolerance is meaningful.
    h_work, mask = cv2.findHomography(
        src * query.scale,
        dst * reference.scale,
        cv2.USAC_MAGSAC,
        VERIFY.reprojection_px,
        maxIters=VERIFY.fit_iterations,
        confidence=VERIFY.fit_confidence,
    )
    if h_work is None or mask is None or not _plausible(h_work):
        return None
    return src, dst, h_work, mask.ravel().astype(bool)


def _matches(query: Features, reference: Features) -> tuple[np.ndarray, np.ndarray]:
    """The query's keypoints whose nearest reference keypoint passes Lowe's ratio test, and
    those nearest keypoints, in query order."""
    if len(query.descriptors) < 2 or len(reference.descriptors) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    nearest, distances = _two_nearest(query, reference)
    good = distances[:, 0] < VERIFY.ratio * distances[:, 1]
    return query.points[good], reference.points[nearest[good]]


def _two_nearest(query: Features, reference: Features) -> tuple[np.ndarray, np.ndarray]:
    """Each query keypoint's nearest reference keypoint, and the distances to the nearest two,
    by exhaustive search. ORB's binary descriptors go through FAISS's Hamming k-NN: the same
    distances as OpenCV's brute-force matcher, about five times faster, and matching was the
    largest cost of a query nothing confirms. Where two reference keypoints tie for nearest,
    the ratio test fails whichever is named, so the outcome does not depend on the order."""
    if query.kind == "orb":
        # On one thread: checks already run side by side, and OpenMP threads that wait for a
        # busy core spin (ten times slower on a loaded machine). The setting is the calling
        # thread's own, so the index searches keep theirs.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            distances, nearest = faiss.knn_hamming(query.descriptors, reference.descriptors, 2)
        finally:
            faiss.omp_set_num_threads(threads)
        return nearest[:, 0], distances
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(query.descriptors, reference.descriptors, k=2)
    nearest = np.array([pair[0].trainIdx for pair in pairs], np.intp)
    distances = np.array([[pair[0].distance, pair[1].distance] for pair in pairs], np.float64)
    return nearest, distances


def _plausible(h: np.ndarray) -> bool:
    """Rejects reflections, extreme scalings and strong perspective: a copy is a crop, scale,
    small rotation or mild keystone (a photographed screen) of its source."""
    det = np.linalg.det(h[:2, :2])
    scale, skew = VERIFY.max_area_scale, VERIFY.max_perspective
    return 1 / scale < det < scale and abs(h[2, 0]) < skew and abs(h[2, 1]) < skew


def _refine(
    query: Features, reference: Features, h_work: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray | None:
    """The homography adjusted so the copied content's pixels line up (OpenCV's ECC, which
    maximises their correlation), or None when it does not converge.

    A few inliers from a stretched, blurred or heavily re-encoded copy can pin the homography
    down only roughly, and then fine content that truly matches falls a few pixels apart.
    """
    # Worked small: the inliers already place the content within a few pixels.
    f = min(1.0, VERIFY.refine_edge / max(*query.gray.shape, *reference.gray.shape))
    scale = np.diag([f, f, 1.0])
    blur = (VERIFY.refine_blur, VERIFY.refine_blur)

    def small(gray: np.ndarray) -> np.ndarray:
        size = (max(1, round(gray.shape[1] * f)), max(1, round(gray.shape[0] * f)))
        return cv2.GaussianBlur(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), blur, 0)

    q, r = small(query.gray), small(reference.gray)
    x0, y0, x1, y1 = (round(v * f) for v in box)
    mask = np.zeros(q.shape, np.uint8)
    mask[y0:y1, x0:x1] = 1
    inverse = scale @ np.linalg.inv(h_work) @ np.linalg.inv(scale)
    try:
        _, warp = cv2.findTransformECC(
            r.astype(np.float32),
            q.astype(np.float32),
            (inverse / inverse[2, 2]).astype(np.float32),
            cv2.MOTION_HOMOGRAPHY,
            (
                cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT,
                VERIFY.refine_steps,
                VERIFY.refine_epsilon,
            ),
            mask,
            1,
        )
    except cv2.error:
        return None
    refined = np.linalg.inv(scale) @ np.linalg.inv(warp.astype(np.float64)) @ scale
    return refined if _plausible(refined) else None


def inlier_pairs(query: Features, reference: Features) -> tuple[np.ndarray, np.ndarray]:
    """The matched keypoints that agree with the fitted homography, as (query points, reference
    points) in full-size pixels, fitted as `verify` fits them: what a report draws between the
    two pictures. Empty arrays when no plausible homography is found."""
    fit = _fit(query, reference)
    if fit is None:
        empty = np.zeros((0, 2), np.float32)
        return empty, empty
    src, dst, _, keep = fit
    return src[keep], dst[keep]
