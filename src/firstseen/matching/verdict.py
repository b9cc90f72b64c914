"""From evidence to a score and a verdict.

The score ranks all (query, reference) pairs of all queries on one scale, which is what µAP and a
single threshold need: the normalised descriptor similarity, plus a bonus that grows with the
number of geometrically verified matches, where their content also agrees photometrically.

The verdict is `match` when local features confirm the copy (enough inliers and photometric
agreement), or when the normalised descriptor similarity alone is far above what unrelated
pictures reach (edits that destroy local features, such as heavy blur, still keep SSCD high).
The thresholds were chosen on the benchmark's dev split only, with margin on both sides; see
docs/benchmarks.md.
"""

from firstseen.matching.verify import Verification

MIN_INLIERS = 12
MIN_CORRELATION = 0.3
DESCRIPTOR_ALONE = 0.45
_INLIER_SATURATION = 50


def verified(v: Verification) -> bool:
    """Local features confirm that the query shows this reference."""
    return v.region is not None and v.inliers >= MIN_INLIERS and v.correlation >= MIN_CORRELATION


def score(normalised: float, v: Verification) -> float:
    """Higher = more certainly a copy; comparable across queries."""
    if not verified(v):
        return normalised
    bonus = min(v.inliers, _INLIER_SATURATION) / _INLIER_SATURATION * v.correlation
    return normalised + bonus


def is_match(normalised: float, v: Verification) -> bool:
    return verified(v) or normalised >= DESCRIPTOR_ALONE
