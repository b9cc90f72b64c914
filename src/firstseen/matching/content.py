"""Where the query's copied content lies on a reference put under it, and whether it agrees.

Added content (caption bars, phone or player chrome, the background around a picture-in-picture)
is trimmed off before the query's outline is projected, by keeping only the rows and columns of
the query that correlate with the warped reference. A translucent band laid over the picture (a
news caption) hides the content without replacing it: those rows follow the reference with a
lower gain, and count as shown. The content then agrees with the reference when it correlates
well overall and in most of its textured blocks (matching/verdict.py confirms on these). Where
the copied content is grey (a white-hot or black-hot look, a grey photo), what is coloured in it
was drawn over it (a HUD, a reticle, stickers) and is left out of that judgement.
"""

import cv2
import numpy as np

from firstseen.matching.features import Features
from firstseen.tuning import CONTENT


def copied_content(
    query: Features, reference: Features, h_work: np.ndarray, inliers: np.ndarray
) -> tuple[tuple[int, int, int, int], float, tuple[float, float]]:
    """(x0, y0, x1, y1) of the query's copied content in working pixels, the photometric
    correlation of that content with the reference, and the shares of its blocks that agree
    (`_block_agreement`: of those textured in either picture, of those textured in the source).

    The reference is warped onto the query and a gain and offset are fitted where the inliers lie
    (so colour grading does not matter); rows and columns whose residual stays near the fit's are
    copied content, including flat areas such as a wall, while caption bars, player chrome or the
    picture around an inset leave large residuals.
    """
    qh, qw = query.gray.shape
    q, w, valid = onto(query.gray, reference.gray, h_work)
    (x0, y0), (x1, y1) = inliers.min(axis=0).astype(int), inliers.max(axis=0).astype(int) + 1
    core = np.zeros_like(valid)
    core[y0:y1, x0:x1] = True
    core &= valid
    if core.sum() < CONTENT.min_core_pixels:
        return (0, 0, qw, qh), 0.0, (0.0, 0.0)
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
        extent = shown | _bridge_text(overlaid, row_gain, round(CONTENT.text_line * qh))
        # A row shown through an overlay is judged by its own fit in the column test.
        own = q - (row_gain[:, None] * w + row_offset[:, None])
        residual = np.where((overlaid & ~shown)[:, None], own, residual)
    top, bottom = _band(extent, round(centre[1]))
    judged = valid & (shown | overlaid)[:, None]
    columns = _line_residual(residual[top:bottom], judged[top:bottom], axis=0)
    left, right = _band(columns < limit, round(centre[0]))
    # What was drawn over the query is not its content: agreement is judged without it.
    drawn = None if query.chroma is None else drawn_over(query.chroma, core)
    shown_pixels = valid if drawn is None else valid & ~drawn
    window = (slice(y0, y1), slice(x0, x1))
    correlation = _plain_correlation(
        q[window], w[window], (core & shown_pixels)[window], rows[y0:y1]
    )
    agreement = _block_agreement(
        q[top:bottom, left:right], w[top:bottom, left:right], shown_pixels[top:bottom, left:right]
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
    if in_core.sum() >= 2 * CONTENT.min_run:
        better = in_core & (rows <= np.median(rows[in_core]))
        subset = core & better[:, None]
        if w[subset].std() > 0:
            _, residual, limit = _fitted(q, w, subset)
            plain_rows = _line_residual(np.where(core, residual, 0), core, axis=1)
            plain = core & (plain_rows < limit)[:, None]
            if plain.sum() >= CONTENT.plain_share * core.sum():
                judged = plain
    if w[judged].std() == 0 or q[judged].std() == 0:
        return 0.0
    correlation = float(np.corrcoef(w[judged], q[judged])[0, 1])
    return correlation if np.isfinite(correlation) else 0.0


def _band(content: np.ndarray, seed: int) -> tuple[int, int]:
    """The run of rows (or columns) around `seed` that hold copied content, allowing short gaps."""
    if not content.any():
        return 0, len(content)
    seed = int(np.clip(seed, 0, len(content) - 1))
    if not content[seed]:
        hits = np.flatnonzero(content)
        seed = int(hits[np.argmin(np.abs(hits - seed))])
    bridged = np.convolve(content.astype(float), np.ones(CONTENT.band_gap), mode="same") > 0
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
    return np.where(count >= CONTENT.line_overlap * valid.shape[axis], median, np.inf)


def _linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares gain and offset of `y` on `x`, in closed form (a polynomial fit through a
    Vandermonde matrix costs several times more on a whole picture)."""
    mx, my = float(x.mean()), float(y.mean())
    dx = x - mx
    gain = float((dx * (y - my)).sum()) / max(float((dx * dx).sum()), 1e-12)
    return gain, my - gain * mx


def _fitted(q: np.ndarray, w: np.ndarray, where: np.ndarray) -> tuple[float, np.ndarray, float]:
    """The gain of `q` on `w` fitted where `where` holds, the residual it leaves everywhere, and
    the line residual under which a row or column counts as content: within
    `CONTENT.residual_factor` of the fitted pixels' own, plus a floor."""
    gain, offset = _linear_fit(w[where], q[where])
    residual = q - (gain * w + offset)
    spread = float(np.sqrt(np.mean(residual[where] ** 2)))
    return gain, residual, CONTENT.residual_factor * spread + CONTENT.residual_floor


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
        (keep.sum(axis=1) >= CONTENT.overlay_row_share * q.shape[1])
        & (typical < limit)
        & (g > CONTENT.overlay_gain * gain)
        & (corr > CONTENT.overlay_correlation)
        & (spread > CONTENT.block_texture)
    )
    # A real overlay spans several rows; a lone row passing is a line of interface text.
    run = np.ones((CONTENT.min_run, 1), np.uint8)
    shown = cv2.dilate(cv2.erode(shown.astype(np.uint8)[:, None], run), run)[:, 0] > 0
    return shown, g, o


def _bridge_text(shown: np.ndarray, gain: np.ndarray, span: int) -> np.ndarray:
    """Also the rows between two shown rows of like gain, up to `span` apart: a line of text
    across an overlay band (or across the picture itself) hides whole rows, not the picture."""
    bridged = shown.copy()
    rows = np.flatnonzero(shown)
    for k in np.flatnonzero((np.diff(rows) > 1) & (np.diff(rows) <= span)):
        # Each side's gain from the rows next to the gap: the text's edge blurs the nearest.
        above = float(np.median(gain[rows[max(k - CONTENT.min_run + 1, 0) : k + 1]]))
        below = float(np.median(gain[rows[k + 1 : k + 1 + CONTENT.min_run]]))
        if abs(above - below) <= CONTENT.like_gain * max(above, below):
            bridged[rows[k] : rows[k + 1]] = True
    return bridged


def _block_agreement(q: np.ndarray, w: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """Shares of the blocks whose content correlates with the reference's: of those textured in
    either picture, and of those textured in the reference (the source) alone.

    A copy agrees almost everywhere (overlaid text or a logo spoils a few blocks); another moment
    of the same shot, or another scene filmed from the same spot, shares the static background
    but not the people or objects that moved, which spoils many: blocks textured in either
    picture tell those apart best. A look laid over a copy (night vision's bloom and grain, a
    HUD over flat sky, equalised contrast) adds structure where the source has none, which the
    source's own blocks leave out.
    """
    rows, cols = q.shape[0] // CONTENT.block, q.shape[1] // CONTENT.block
    if not rows or not cols:
        return 0.0, 0.0

    def blocks(a: np.ndarray) -> np.ndarray:
        a = a[: rows * CONTENT.block, : cols * CONTENT.block]
        return (
            a.reshape(rows, CONTENT.block, cols, CONTENT.block)
            .swapaxes(1, 2)
            .reshape(rows * cols, -1)
        )

    qb, wb, vb = blocks(q), blocks(w), blocks(valid)
    qc = qb - qb.mean(axis=1, keepdims=True)
    wc = wb - wb.mean(axis=1, keepdims=True)
    q_sd, w_sd = np.sqrt((qc**2).mean(axis=1)), np.sqrt((wc**2).mean(axis=1))
    covered = vb.mean(axis=1) > CONTENT.block_covered
    agree = (qc * wc).mean(axis=1) / np.maximum(q_sd * w_sd, 1e-6) > CONTENT.block_correlation

    def share(textured: np.ndarray) -> float:
        blocks_judged = covered & textured
        if blocks_judged.sum() < CONTENT.min_blocks:
            return 0.0
        return float(agree[blocks_judged].mean())

    return share(np.maximum(q_sd, w_sd) > CONTENT.block_texture), share(
        w_sd > CONTENT.block_texture
    )


def onto(
    query: np.ndarray, reference: np.ndarray, h_work: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The query and the reference warped onto it, both lightly blurred (float32), and where the
    reference covers the query."""
    q = lightly_blurred(query)
    return q, warped(reference, h_work, query.shape), covered(reference, h_work, query.shape)


def covered(reference: np.ndarray, h_work: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Where the reference warped onto a picture of `shape` covers it."""
    height, width = shape[:2]
    ones = np.ones_like(reference)
    return cv2.warpPerspective(ones, np.linalg.inv(h_work), (width, height)) > 0


def warped(reference: np.ndarray, h_work: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The reference warped onto a picture of `shape` and lightly blurred (float32)."""
    height, width = shape[:2]
    inverse = np.linalg.inv(h_work)
    moved = cv2.warpPerspective(reference, inverse, (width, height), flags=cv2.INTER_LINEAR)
    return lightly_blurred(moved)


def lightly_blurred(gray: np.ndarray) -> np.ndarray:
    """Blurred just enough that resampling and codec noise do not count as disagreement."""
    side = CONTENT.compare_blur
    return cv2.GaussianBlur(gray, (side, side), 0).astype(np.float32)


def chroma(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Each pixel's chroma (max - min of its channels, uint8) at `shape` (height, width)."""
    height, width = shape
    red, green, blue = cv2.split(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))
    # OpenCV's per-pixel max and min: NumPy's along the channel axis took 20 ms a picture.
    return cv2.subtract(cv2.max(cv2.max(red, green), blue), cv2.min(cv2.min(red, green), blue))


def drawn_over(colourful: np.ndarray, content: np.ndarray) -> np.ndarray | None:
    """The pixels drawn in colour over grey content (a HUD, a reticle, a caption band, a logo
    over a white-hot or black-hot look), from each pixel's chroma (`colourful`) and judged where
    `content` is true; None where the content is coloured itself, and colour tells nothing apart
    (a phone screenshot's grey page around a colour photo is not the content). A grey look has
    no colour of its own, so its coloured pixels are not the source's."""
    if not content.any() or np.median(colourful[content]) > CONTENT.grey_chroma:
        return None
    return colourful > CONTENT.overlay_chroma
