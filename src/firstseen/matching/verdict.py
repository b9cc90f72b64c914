"""From evidence to a score and a verdict.

Local-feature verification has three outcomes. *Confirmed*: the pictures align (inliers over a real
part of the query) and the aligned content agrees photometrically: dev pairs with 6 to 11 inliers
were cleanly split by correlation (wrong ones at most 0.2, true ones 0.95 and more); of its
textured blocks enough agree, counted over those textured in either picture or over those
textured in the source alone (a look laid over a copy adds structure where the source is flat).
*Contradicted*: they align, but the content disagrees — typically another moment of the same
shot, or another scene filmed from the same spot; the descriptor alone would call these copies.
*Inconclusive*: no alignment (heavy blur, noise or downscaling can destroy local features while
the SSCD descriptor still sees the copy).

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
thresholds are configured (`Calibration`). The values, with where each came from, are
`firstseen.tuning.VERDICT` (docs/thresholds.md).
"""

from dataclasses import dataclass

from firstseen.matching.verify import Verification
from firstseen.tuning import VERDICT


@dataclass(frozen=True, slots=True)
class Calibration:
    """Where the descriptor alone calls a match, when keypoints neither confirm nor contradict:
    a still's normalised similarity, an aligned segment's score. None leaves it to keypoints."""

    descriptor_alone: float | None = VERDICT.descriptor_alone
    segment_alone: float | None = VERDICT.segment_alone


SSCD = Calibration()
KEYPOINTS_ONLY = Calibration(None, None)


def aligned(v: Verification) -> bool:
    """The query and the reference were put in register on solid ground."""
    return v.region is not None and v.inliers >= VERDICT.contradicting_inliers


def verified(v: Verification) -> bool:
    """Local features confirm that the query shows this reference."""
    return (
        v.region is not None
        and v.inliers >= VERDICT.min_inliers
        and v.correlation >= VERDICT.min_correlation
        and max(v.agreement, v.source_agreement) >= VERDICT.min_agreement
    )


def contradicted(v: Verification) -> bool:
    """The pictures align but show different content."""
    return aligned(v) and not verified(v)


def score(normalised: float, v: Verification) -> float:
    """Higher = more certainly a copy; comparable across queries."""
    if verified(v):
        support = min(v.inliers, VERDICT.inlier_saturation) / VERDICT.inlier_saturation
        return normalised + support * v.correlation * v.agreement
    if contradicted(v):
        return normalised - VERDICT.contradiction_penalty
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
    pairs: int = VERDICT.segment_alone_pairs,
    distinct: float = VERDICT.segment_distinct,
) -> bool:
    """A video segment: confirmed by its best frame pair, or consistent in time with similar
    frames all along (`pairs` of them) that stand out from the rest of the reference
    (`distinct`), which chance does not line up (docs/history/benchmarks-2026.md, "How the new
    thresholds were chosen"), unless those frames are mostly black or flat: every fade to black
    lines up with every other."""
    if verified(v):
        return True
    telling = pairs >= VERDICT.segment_alone_pairs and distinct >= VERDICT.segment_distinct
    return telling and not featureless and _alone(segment_score, v, calibration.segment_alone)


def descriptor_decides(similarity: float, v: Verification, threshold: float | None) -> bool:
    """Keypoints neither confirm nor contradict, and the similarity alone reaches `threshold`:
    the only case where whether the query shows anything at all (`featureless`) matters."""
    return not verified(v) and _alone(similarity, v, threshold)


def _alone(similarity: float, v: Verification, threshold: float | None) -> bool:
    return threshold is not None and not contradicted(v) and similarity >= threshold
