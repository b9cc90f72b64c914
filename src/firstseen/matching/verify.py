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
warped reference. A translucent band laid over the picture (a news caption) hides the content
without replacing it: those rows follow the reference with a lower gain, and count as shown.
A confirmed check keeps its alignment, so that other frames of a fixed shot can be compared with
the query under it (`register`, `predictions`, `residuals`, `changes`; matching/moment.py picks
the moment with them).
"""

import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

_RATIO = 0.8
_MIN_EDGE = 400  # pictures smaller than this are enlarged before keypoints are found
_MAX_WHOLE = 1600  # but a whole picture is never worked on larger than this
_MIN_MATCHES = 6
# Half OpenCV's default: smooth, low-contrast pictures (a retina scan, a dim film frame) otherwise
# yield a hundred keypoints or fewer; the count cap keeps the strongest on busy pictures.
_SIFT_CONTRAST = 0.02
_REPROJECTION_PX = 4.0
_GAP = 9  # rows or columns of poor agreement tolerated inside the copied content
_RESIDUAL_FACTOR = 2.5  # a row is content while its residual is within this factor of the core's
_RESIDUAL_FLOOR = 6.0  # grey levels, so that near-perfect copies do not get a zero tolerance
# Copied content under 2 % of the query, or a thin strip, is a logo or the edge of a bar.
_MIN_COVERAGE = 0.02
_MIN_SHAPE = 0.15  # shortest side over longest
_BLOCK = 16  # side of the blocks compared for agreement, in working pixels
_TEXTURE = 4.0  # grey-level spread below which a block is too flat to judge
_BLOCK_CORRELATION = 0.5  # a block agrees when its correlation with the reference is above this
# A row under a translucent overlay still follows the reference: its own fit must keep at least
# this share of the picture's gain, with this correlation once overlaid text is set aside.
_OVERLAY_GAIN = 0.15
_OVERLAY_CORRELATION = 0.8
_MIN_RUN = 5  # rows
_PLAIN_SHARE = 0.5  # of the matched core, shown plainly, for correlation to be judged there alone
_LIKE_GAIN = 0.25  # relative difference of gains on either side of a line of text
_TEXT_LINE = 0.15  # the tallest line of text bridged, as a share of the query's height
# The aligned content agrees with the reference when it correlates this well overall and in this
# share of its textured blocks (matching/verdict.py confirms a match on these). An alignment short
# only of the agreement is refined before it is judged.
MIN_CORRELATION = 0.5
MIN_AGREEMENT = 0.4
_REFINE_STEPS = 30
_REFINE_EDGE = 320  # working size of the refinement, in pixels
_COMPARE_EDGE = 320  # working size at which other frames are compared under an alignment
_MOMENT_DIFFERENCE = 16.0  # grey levels by which two frames differ where they show a change
# Within this, two frames show the same picture: repeated frames of a still shot differ by 2
# levels once blurred at the compare size, while a line of caption text that changes, washed out
# to a few pixels there, still reaches 23.
_SAME_PICTURE = 8.0


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


NOT_VERIFIED = Verification(0, 0, 0.0, 0.0, None)


class LocalFeatures:
    """Keypoint extraction at a bounded working size (speed is set by the pixel count)."""

    def __init__(self, kind: str = "orb", max_edge: int = 640, count: int = 1500) -> None:
        self.kind = kind
        self.max_edge = max_edge
        self.count = count
        self._per_thread = threading.local()  # OpenCV does not promise a detector is reentrant

    @property
    def _detector(self) -> cv2.Feature2D:
        detector = getattr(self._per_thread, "detector", None)
        if detector is None:
            detector = self._per_thread.detector = (
                cv2.ORB_create(self.count)
                if self.kind == "orb"
                else cv2.SIFT_create(self.count, contrastThreshold=_SIFT_CONTRAST)
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
            self.max_edge / focus, max(1.0, _MIN_EDGE / focus), _MAX_WHOLE / max(height, width)
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
            descriptors /= np.maximum(descriptors.sum(axis=1, keepdims=True), 1e-7)
            descriptors = np.sqrt(descriptors)
        points = (np.array([k.pt for k in keypoints], dtype=np.float32) + offset) / scale
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
    # Bridging may step past the last good line into the added content: end on good lines.
    good = np.flatnonzero(content[start : end + 1])
    return start + int(good[0]), start + int(good[-1]) + 1


def _line_residual(residual: np.ndarray, valid: np.ndarray, axis: int) -> np.ndarray:
    """Median absolute residual of each row (axis=1) or column (axis=0); inf where too little of
    it overlaps the reference. The median ignores text laid over part of a line, while a caption
    bar or interface chrome, which replaces the whole line, still stands out."""
    count = valid.sum(axis=axis)
    ordered = np.sort(np.where(valid, np.abs(residual), np.inf), axis=axis)
    middle = np.expand_dims(np.maximum(count - 1, 0) // 2, axis)
    median = np.take_along_axis(ordered, middle, axis=axis).squeeze(axis)
    return np.where(count >= 0.15 * valid.shape[axis], median, np.inf)


def _linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares gain and offset of `y` on `x`, in closed form (a polynomial fit through a
    Vandermonde matrix costs several times more on a whole picture)."""
    mx, my = float(x.mean()), float(y.mean())
    dx = x - mx
    gain = float((dx * (y - my)).sum()) / max(float((dx * dx).sum()), 1e-12)
    return gain, my - gain * mx


def _fitted(q: np.ndarray, w: np.ndarray, where: np.ndarray) -> tuple[float, np.ndarray, float]:
    """The gain of `q` on `w` fitted where `where` holds, the residual it leaves everywhere, and
    the line residual under which a row or column counts as content: within `_RESIDUAL_FACTOR`
    of the fitted pixels' own, plus a floor."""
    gain, offset = _linear_fit(w[where], q[where])
    residual = q - (gain * w + offset)
    spread = float(np.sqrt(np.mean(residual[where] ** 2)))
    return gain, residual, _RESIDUAL_FACTOR * spread + _RESIDUAL_FLOOR


def _row_fits(
    q: np.ndarray, w: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares gain and offset of each row of `q` on the same row of `w`, over the pixels
    in `keep`, with the correlation and the smaller of the two rows' spreads."""
    n = np.maximum(keep.sum(axis=1), 1)
    mq = np.where(keep, q, 0).sum(axis=1) / n
    mw = np.where(keep, w, 0).sum(axis=1) / n
    dq, dw = np.where(keep, q - mq[:, None], 0), np.where(keep, w - mw[:, None], 0)
    vq, vw, cov = (dq**2).sum(axis=1) / n, (dw**2).sum(axis=1) / n, (dq * dw).sum(axis=1) / n
    gain = cov / np.maximum(vw, 1e-6)
    corr = cov / np.maximum(np.sqrt(vq * vw), 1e-6)
    return gain, mq - gain * mw, corr, np.sqrt(np.minimum(vq, vw))


def _overlaid_rows(
    q: np.ndarray, w: np.ndarray, valid: np.ndarray, gain: float, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows that show the reference through a translucent overlay, and each row's own gain and
    offset (which the column test then applies to those rows).

    Each row gets its own gain and offset, fitted twice: the second time on the half of its
    pixels the first fit explains best, which leaves out the overlay's text even where the text
    covers most of the row. A flat bar has no gain, an unrelated picture no correlation; a
    darkened or tinted copy keeps both.
    """
    g, o, _, _ = _row_fits(q, w, valid)
    residual = np.abs(q - (g[:, None] * w + o[:, None]))
    keep = valid & (residual <= _line_residual(residual, valid, axis=1)[:, None])
    g, o, corr, spread = _row_fits(q, w, keep)
    residual = np.where(keep, np.abs(q - (g[:, None] * w + o[:, None])), 0)
    typical = residual.sum(axis=1) / np.maximum(keep.sum(axis=1), 1)
    shown = (
        (keep.sum(axis=1) >= 0.05 * q.shape[1])
        & (typical < limit)
        & (g > _OVERLAY_GAIN * gain)
        & (corr > _OVERLAY_CORRELATION)
        & (spread > _TEXTURE)
    )
    # A real overlay spans several rows; a lone row passing is a line of interface text.
    run = np.ones((_MIN_RUN, 1), np.uint8)
    shown = cv2.dilate(cv2.erode(shown.astype(np.uint8)[:, None], run), run)[:, 0] > 0
    return shown, g, o


def _bridge_text(shown: np.ndarray, gain: np.ndarray, span: int) -> np.ndarray:
    """Also the rows between two shown rows of like gain, up to `span` apart: a line of text
    across an overlay band (or across the picture itself) hides whole rows, not the picture."""
    bridged = shown.copy()
    rows = np.flatnonzero(shown)
    for k in np.flatnonzero((np.diff(rows) > 1) & (np.diff(rows) <= span)):
        # Each side's gain from the rows next to the gap: the text's edge blurs the nearest.
        above = float(np.median(gain[rows[max(k - _MIN_RUN + 1, 0) : k + 1]]))
        below = float(np.median(gain[rows[k + 1 : k + 1 + _MIN_RUN]]))
        if abs(above - below) <= _LIKE_GAIN * max(above, below):
            bridged[rows[k] : rows[k + 1]] = True
    return bridged


def _block_agreement(q: np.ndarray, w: np.ndarray, valid: np.ndarray) -> float:
    """Share of textured blocks whose content correlates with the reference's.

    A copy agrees almost everywhere (overlaid text or a logo spoils a few blocks); another moment
    of the same shot, or another scene filmed from the same spot, shares the static background
    but not the people or objects that moved, which spoils many.
    """
    rows, cols = q.shape[0] // _BLOCK, q.shape[1] // _BLOCK
    if not rows or not cols:
        return 0.0

    def blocks(a: np.ndarray) -> np.ndarray:
        a = a[: rows * _BLOCK, : cols * _BLOCK]
        return a.reshape(rows, _BLOCK, cols, _BLOCK).swapaxes(1, 2).reshape(rows * cols, -1)

    qb, wb, vb = blocks(q), blocks(w), blocks(valid)
    qc = qb - qb.mean(axis=1, keepdims=True)
    wc = wb - wb.mean(axis=1, keepdims=True)
    q_sd, w_sd = np.sqrt((qc**2).mean(axis=1)), np.sqrt((wc**2).mean(axis=1))
    textured = (vb.mean(axis=1) > 0.9) & (np.maximum(q_sd, w_sd) > _TEXTURE)
    if textured.sum() < 4:
        return 0.0
    corr = (qc * wc).mean(axis=1) / np.maximum(q_sd * w_sd, 1e-6)
    return float((corr[textured] > _BLOCK_CORRELATION).mean())


def _onto(
    query: np.ndarray, reference: np.ndarray, h_work: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The query and the reference warped onto it, both lightly blurred (float32), and where the
    reference covers the query."""
    q = cv2.GaussianBlur(query, (5, 5), 0).astype(np.float32)
    return q, _warped(reference, h_work, query.shape), _covered(reference, h_work, query.shape)


def _covered(reference: np.ndarray, h_work: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Where the reference warped onto a picture of `shape` covers it."""
    height, width = shape[:2]
    ones = np.ones_like(reference)
    return cv2.warpPerspective(ones, np.linalg.inv(h_work), (width, height)) > 0


def _warped(reference: np.ndarray, h_work: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The reference warped onto a picture of `shape` and lightly blurred (float32)."""
    height, width = shape[:2]
    inverse = np.linalg.inv(h_work)
    warped = cv2.warpPerspective(reference, inverse, (width, height), flags=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(warped, (5, 5), 0).astype(np.float32)


def _content(
    query: Features, reference: Features, h_work: np.ndarray, inliers: np.ndarray
) -> tuple[tuple[int, int, int, int], float, float]:
    """(x0, y0, x1, y1) of the query's copied content in working pixels, the photometric
    correlation of that content with the reference, and the share of its blocks that agree.

    The reference is warped onto the query and a gain and offset are fitted where the inliers lie
    (so colour grading does not matter); rows and columns whose residual stays near the fit's are
    copied content, including flat areas such as a wall, while caption bars, player chrome or the
    picture around an inset leave large residuals.
    """
    qh, qw = query.gray.shape
    q, w, valid = _onto(query.gray, reference.gray, h_work)
    (x0, y0), (x1, y1) = inliers.min(axis=0).astype(int), inliers.max(axis=0).astype(int) + 1
    core = np.zeros_like(valid)
    core[y0:y1, x0:x1] = True
    core &= valid
    if core.sum() < 50:
        return (0, 0, qw, qh), 0.0, 0.0
    gain, residual, limit = _fitted(q, w, core)
    centre = np.median(inliers, axis=0)
    # Rows are judged within the inliers' columns, then columns within the rows found, so that a
    # caption bar across the top does not spoil every column's residual.
    rows = _line_residual(residual[:, x0:x1], valid[:, x0:x1], axis=1)
    shown = rows < limit
    overlaid, extent = np.zeros_like(shown), shown
    # Only a row the reference covers but that is not plainly shown can be under an overlay.
    if (np.isfinite(rows) & ~shown).any():
        overlaid, row_gain, row_offset = _overlaid_rows(
            q[:, x0:x1], w[:, x0:x1], valid[:, x0:x1], gain, limit
        )
        extent = shown | _bridge_text(overlaid, row_gain, round(_TEXT_LINE * qh))
        # A row shown through an overlay is judged by its own fit in the column test.
        own = q - (row_gain[:, None] * w + row_offset[:, None])
        residual = np.where((overlaid & ~shown)[:, None], own, residual)
    top, bottom = _band(extent, round(centre[1]))
    judged = valid & (shown | overlaid)[:, None]
    columns = _line_residual(residual[top:bottom], judged[top:bottom], axis=0)
    left, right = _band(columns < limit, round(centre[0]))
    window = (slice(y0, y1), slice(x0, x1))
    correlation = _plain_correlation(q[window], w[window], core[window], rows[y0:y1])
    agreement = _block_agreement(
        q[top:bottom, left:right], w[top:bottom, left:right], valid[top:bottom, left:right]
    )
    return (left, top, right, bottom), correlation, agreement


def _plain_correlation(q: np.ndarray, w: np.ndarray, core: np.ndarray, rows: np.ndarray) -> float:
    """Photometric correlation of the matched core, judged on the rows shown plainly.

    A translucent caption band across much of a picture pulls one gain and offset fitted to the
    whole core far off, so that every row then looks equally poor. The fit is made again on the
    better half of the core's rows, and the rows it explains (as the row test does) are the ones
    judged, when they make up at least half the core; otherwise the whole core is.
    """
    in_core = core.any(axis=1) & np.isfinite(rows)
    judged = core
    if in_core.sum() >= 2 * _MIN_RUN:
        better = in_core & (rows <= np.median(rows[in_core]))
        subset = core & better[:, None]
        if w[subset].std() > 0:
            _, residual, limit = _fitted(q, w, subset)
            plain_rows = _line_residual(np.where(core, residual, 0), core, axis=1)
            plain = core & (plain_rows < limit)[:, None]
            if plain.sum() >= _PLAIN_SHARE * core.sum():
                judged = plain
    if w[judged].std() == 0 or q[judged].std() == 0:
        return 0.0
    correlation = float(np.corrcoef(w[judged], q[judged])[0, 1])
    return correlation if np.isfinite(correlation) else 0.0


def _fit(
    query: Features, reference: Features
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Matched points (full-size pixels), the homography between the working-size pictures and
    the inlier mask; None when no plausible homography exists."""
    src, dst = _matches(query, reference)
    if len(src) < _MIN_MATCHES:
        return None
    # Fitted in the working-size pixel grids, where the reprojection tolerance is meaningful.
    h_work, mask = cv2.findHomography(
        src * query.scale,
        dst * reference.scale,
        cv2.USAC_MAGSAC,
        _REPROJECTION_PX,
        maxIters=2000,
        confidence=0.999,
    )
    if h_work is None or mask is None or not _plausible(h_work):
        return None
    return src, dst, h_work, mask.ravel().astype(bool)


def _refine(
    query: Features, reference: Features, h_work: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray | None:
    """The homography adjusted so the copied content's pixels line up (OpenCV's ECC, which
    maximises their correlation), or None when it does not converge.

    A few inliers from a stretched, blurred or heavily re-encoded copy can pin the homography
    down only roughly, and then fine content that truly matches falls a few pixels apart.
    """
    # Worked small: the inliers already place the content within a few pixels.
    f = min(1.0, _REFINE_EDGE / max(*query.gray.shape, *reference.gray.shape))
    scale = np.diag([f, f, 1.0])

    def small(gray: np.ndarray) -> np.ndarray:
        size = (max(1, round(gray.shape[1] * f)), max(1, round(gray.shape[0] * f)))
        return cv2.GaussianBlur(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), (3, 3), 0)

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
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, _REFINE_STEPS, 1e-4),
            mask,
            1,
        )
    except cv2.error:
        return None
    refined = np.linalg.inv(scale) @ np.linalg.inv(warp.astype(np.float64)) @ scale
    return refined if _plausible(refined) else None


def verify(query: Features, reference: Features, min_inliers: int = _MIN_MATCHES) -> Verification:
    """Checks whether `query` shows (part of) `reference`, and where; fewer inliers than
    `min_inliers` align nothing."""
    fit = _fit(query, reference)
    if fit is None:
        return NOT_VERIFIED
    src, _, h_work, keep = fit
    inliers = int(keep.sum())
    if inliers < max(_MIN_MATCHES, min_inliers):
        return Verification(inliers, len(src), 0.0, 0.0, None)
    points = src[keep] * query.scale
    (x0, y0, x1, y1), corr, agreement = _content(query, reference, h_work, points)
    if agreement < MIN_AGREEMENT and corr >= MIN_CORRELATION:
        refined = _refine(query, reference, h_work, (x0, y0, x1, y1))
        if refined is not None:
            content = _content(query, reference, refined, points)
            if content[2] > agreement:
                h_work, ((x0, y0, x1, y1), corr, agreement) = refined, content
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)[None]
    projected = cv2.perspectiveTransform(corners, h_work)[0] / reference.scale
    width, height = reference.size
    left, top = np.clip(projected.min(axis=0), 0, [width, height])
    right, bottom = np.clip(projected.max(axis=0), 0, [width, height])
    qh, qw = query.gray.shape
    box_w, box_h = x1 - x0, y1 - y0
    small = box_w * box_h < _MIN_COVERAGE * qw * qh or min(box_w, box_h) < _MIN_SHAPE * max(
        box_w, box_h
    )
    if small or right - left < 1 or bottom - top < 1:
        return Verification(inliers, len(src), corr, agreement, None)
    region = (round(left), round(top), round(right - left), round(bottom - top))
    alignment = Alignment(query, h_work, (x0, y0, x1, y1), reference.gray.shape)
    return Verification(inliers, len(src), corr, agreement, region, alignment)


@dataclass(frozen=True, slots=True)
class Registered:
    """The query's copied content, worked small, with one frame of the reference put on it to
    the pixel: what other frames of a fixed shot are compared against."""

    query: np.ndarray  # the copied content, lightly blurred (float32)
    to_reference: np.ndarray  # its pixels → the reference's working pixels
    valid: np.ndarray  # where the reference covers it
    gain: float  # of the query on the frame
    offset: float
    predicted: np.ndarray  # the frame as the query would show it (gain and offset applied)


def register(alignment: Alignment, gray: np.ndarray) -> Registered | None:
    """The query's content and `gray` (a frame at the reference's working size) in register.

    The alignment is shifted by phase correlation first: a few inliers place a frame only within
    a few pixels, enough for the verdict but not for telling two moments apart by a passer-by's
    step. None when the frame covers too little of the content to judge.
    """
    x0, y0, x1, y1 = alignment.box
    f = min(1.0, _COMPARE_EDGE / max(x1 - x0, y1 - y0, 1))
    size = (max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f)))
    crop = alignment.query.gray[y0:y1, x0:x1]
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if f < 1 else crop
    # Small box pixels → query working pixels (scale back, then shift by the box's corner).
    to_reference = alignment.homography @ np.array([[1 / f, 0, x0], [0, 1 / f, y0], [0, 0, 1]])
    q, w, valid = _onto(small, gray, to_reference)
    if valid.mean() < 0.5 or w[valid].std() == 0:
        return None
    window = cv2.createHanningWindow(q.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(np.where(valid, w, w[valid].mean()), q, window)
    # The query shows at x what the warped frame shows at x - d.
    to_reference = to_reference @ np.array([[1, 0, -dx], [0, 1, -dy], [0, 0, 1]])
    w, valid = _warped(gray, to_reference, q.shape), _covered(gray, to_reference, q.shape)
    if valid.sum() < 50 or w[valid].std() == 0:
        return None
    gain, offset = _linear_fit(w[valid], q[valid])
    return Registered(q, to_reference, valid, gain, offset, gain * w + offset)


def predictions(registered: Registered, others: list[np.ndarray]) -> list[np.ndarray]:
    """The registered frame, then each of `others` (more frames of a fixed shot, at the same
    size), as the query would show them: put in the same place, with the same gain and offset."""
    predicted = [registered.predicted]
    for other in others:
        warped = _warped(other, registered.to_reference, registered.query.shape)
        predicted.append(registered.gain * warped + registered.offset)
    return predicted


def residuals(registered: Registered, predicted: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """Which of the frames of `predictions` the query shows: the share of the content where any
    of them differs from the registered frame, and the query's mean residual there against each.

    Judged only where the frames differ, since the rest of a fixed shot cannot tell them apart and
    would drown the difference in noise and overlays; and on the same pixels for every frame, so
    that noise and overlays there weigh the same on each and the residuals can be ranked.
    """
    differ = np.zeros_like(registered.valid)
    for frame in predicted[1:]:
        differ |= _differs(frame, predicted[0])
    differ &= registered.valid
    if not differ.any():
        return 0.0, np.zeros(len(predicted))
    query = registered.query[differ]
    mean_residuals = np.array([np.abs(query - p[differ]).mean() for p in predicted])
    return float(differ.sum() / registered.valid.sum()), mean_residuals


def changes(registered: Registered, predicted: list[np.ndarray], index: int) -> np.ndarray:
    """For each frame of `predictions`, the share of the content where it differs from frame
    `index` by more than codec noise: where the query lies, a frame that differs almost nowhere
    shows the same picture. Measured in the frames' own grey levels, not the query's: a copy
    graded to low contrast must not make moments look alike."""
    valid, count = registered.valid, max(int(registered.valid.sum()), 1)
    levels = _SAME_PICTURE * max(abs(registered.gain), 1e-6)
    return np.array(
        [(_differs(p, predicted[index], levels) & valid).sum() / count for p in predicted]
    )


def _differs(a: np.ndarray, b: np.ndarray, levels: float = _MOMENT_DIFFERENCE) -> np.ndarray:
    return np.abs(a - b) > levels


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
