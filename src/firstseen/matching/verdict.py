"""From evidence to a score and a verdict.

Local-feature verification has three outcomes. *Confirmed*: the pictures align (inliers over a real
part of the query) and the aligned content agrees photometrically: dev pairs with 6 to 11 inliers
were cleanly split by correlation (wrong ones at most 0.2, true ones 0.95 and more). *Contradicted*:
they align, but the content disagrees — typically another moment of the same shot, or another
scene filmed from the same spot; the descriptor alone would call these copies. *Inconclusive*: no
alignment (heavy blur, noise or downscaling can destroy local features while the SSCD descriptor
still sees the copy).

The verdict is `match` when confirmed, or when inconclusive and the normalised descriptor
similarity is far above what unrelated pictures reach. The score ranks all (query, reference)
pairs of all queries on one scale, which µAP and one threshold need: the normalised similarity,
plus a bonus for confirmed pairs that grows with the inliers and with how much of the content
agrees (another moment filmed from the same spot aligns on its background but agrees less, and
so ranks below true copies), minus a penalty for contradicted ones.

The thresholds were chosen on the benchmark's dev split only (docs/history/benchmarks-2026.md,
"How the thresholds were chosen"): each sits between the true and the wrong pairs seen there,
with a margin towards the wrong ones. Those on
the descriptor alone hold for the model they were chosen with (the packaged SSCD): another
model's similarities sit elsewhere (SSCD's distilled student puts other scenes of a film above
0.35), so with another model the descriptor decides nothing on its own unless its own
thresholds are configured (`Calibration`).
"""

from dataclasses import dataclass

from firstseen.matching.verify import MIN_AGREEMENT, MIN_CORRELATION, Verification

MIN_INLIERS = 6  # few, but the photometric checks below carry the weight
CONTRADICTING_INLIERS = 12  # a disagreement counts only where the alignment is this well founded
DESCRIPTOR_ALONE = 0.35  # dev split: unrelated pairs reached 0.25 at most
# A query picture with less grey-level spread than this (media.frames.spread) shows nothing to
# attribute: SSCD puts a black screenshot at 0.74 from a video's black opening. The benchmark's
# queries, dark film stills included, spread 3.3 and more; black and flat pictures 0 to 0.5.
FEATURELESS = 2.0
SEGMENT_ALONE = 0.3  # an aligned segment's discounted mean similarity (align.Segment.score)
# Aligned frame pairs a segment needs before the descriptor alone may call it a copy: one pair is
# one instant, no stretch in time (a dark frame once scored 0.37 against another video's black
# opening, a segment zero seconds long).
SEGMENT_ALONE_PAIRS = 2
# How far a segment's aligned pairs must stand above the query frames' similarity to the rest of
# the reference (align.distinctness) for the descriptor alone to call it a copy. Chosen on the
# thermal-dev clips: other recordings of the same game's ground views, matched on the descriptor
# alone, stood 0.03 and 0.07 above; the one true copy matched on it alone 0.12.
SEGMENT_DISTINCT = 0.1
_INLIER_SATURATION = 50
_CONTRADICTION_PENALTY = 0.25


@dataclass(frozen=True, slots=True)
class Calibration:
    """Where the descriptor alone calls a match, when keypoints neither confirm nor contradict:
    a still's normalised similarity, an aligned segment's score. None leaves it to keypoints."""

    descriptor_alone: float | None = DESCRIPTOR_ALONE
    segment_alone: float | None = SEGMENT_ALONE


SSCD = Calibration()
KEYPOINTS_ONLY = Calibration(None, None)


def aligned(v: Verification) -> bool:
    """The query and the reference were put in register on solid ground."""
    return v.region is not None and v.inliers >= CONTRADICTING_INLIERS


def verified(v: Verification) -> bool:
    """Local features confirm that the query shows this reference."""
    return (
        v.region is not None
        and v.inliers >= MIN_INLIERS
        and v.correlation >= MIN_CORRELATION
        and v.agreement >= MIN_AGREEMENT
    )


def contradicted(v: Verification) -> bool:
    """The pictures align but show different content."""
    return aligned(v) and not verified(v)


def score(normalised: float, v: Verification) -> float:
    """Higher = more certainly a copy; comparable across queries."""
    if verified(v):
        support = min(v.inliers, _INLIER_SATURATION) / _INLIER_SATURATION
        return normalised + support * v.correlation * v.agreement
    if contradicted(v):
        return normalised - _CONTRADICTION_PENALTY
    return normalised


def is_match(
    normalised: float, v: Verification, calibration: Calibration = SSCD, featureless: bool = False
) -> bool:
    """Confirmed by local features, or, for a query picture with something in it, far above
    what the descriptor gives unrelated pictures."""
    return verified(v) or (not featureless and _alone(normalised, v, calibration.descriptor_alone))


def is_segment_match(
    segment_score: float,
    v: Verification,
    calibration: Calibration = SSCD,
    featureless: bool = False,
    pairs: int = SEGMENT_ALONE_PAIRS,
    distinct: float = SEGMENT_DISTINCT,
) -> bool:
    """A video segment: confirmed by its best frame pair, or consistent in time with similar
    frames all along (`pairs` of them) that stand out from the rest of the reference
    (`distinct`), which chance does not line up (docs/history/benchmarks-2026.md, "How the new
    thresholds were chosen"), unless those frames are mostly black or flat: every fade to black
    lines up with every other."""
    if verified(v):
        return True
    telling = pairs >= SEGMENT_ALONE_PAIRS and distinct >= SEGMENT_DISTINCT
    return telling and not featureless and _alone(segment_score, v, calibration.segment_alone)


def descriptor_decides(similarity: float, v: Verification, threshold: float | None) -> bool:
    """Keypoints neither confirm nor contradict, and the similarity alone reaches `threshold`:
    the only case where whether the query shows anything at all (`featureless`) matters."""
    return not verified(v) and _alone(similarity, v, threshold)


def _alone(similarity: float, v: Verification, threshold: float | None) -> bool:
    return threshold is not None and not contradicted(v) and similarity >= threshold
