"""Checking with local features: keypoints, the geometric check, the content comparison, and the
verdict drawn from them."""

from dataclasses import dataclass

from firstseen.tuning.knobs import DEV, HELDOUT, MEASURED, ROUND, THERMAL_DEV, knob, unrecorded

_DEV_619 = "619c6f1, whose thresholds came from dev"


@dataclass(frozen=True, slots=True)
class Features:
    """Keypoints (matching/features.py): ORB checks every candidate, SIFT the ones ORB cannot
    settle; the report draws with the same settings."""

    fast_max_edge: int = knob(640, "ORB working size, pixels", unrecorded("1f816fc"))
    fast_count: int = knob(1500, "ORB keypoints kept, strongest first", unrecorded("1f816fc"))
    robust_max_edge: int = knob(
        480, "SIFT working size (SIFT is ~10x slower)", unrecorded("1f816fc")
    )
    robust_count: int = knob(1000, "SIFT keypoints kept, strongest first", unrecorded("1f816fc"))
    min_edge: int = knob(
        400, "pictures smaller than this are enlarged for keypoints", unrecorded(_DEV_619)
    )
    max_whole: int = knob(1600, "largest working size of a whole picture", unrecorded(_DEV_619))
    sift_contrast: float = knob(
        0.02,
        "SIFT contrast threshold: smooth, dim pictures still yield keypoints",
        f"{ROUND}: half OpenCV's default, after a retina scan and a dim frame gave too few",
    )


@dataclass(frozen=True, slots=True)
class Verify:
    """Matching keypoints and fitting a homography (matching/verify.py)."""

    ratio: float = knob(
        0.8, "Lowe's ratio test: best over second-best distance", unrecorded("1f816fc")
    )
    min_matches: int = knob(
        6, "ratio-test matches needed to fit a homography", unrecorded("1f816fc")
    )
    reprojection_px: float = knob(
        4.0, "MAGSAC++ inlier tolerance, working pixels", unrecorded("1f816fc")
    )
    fit_iterations: int = knob(2000, "MAGSAC++ iterations at most", unrecorded("1f816fc"))
    fit_confidence: float = knob(0.999, "MAGSAC++ confidence", unrecorded("1f816fc"))
    max_area_scale: float = knob(
        1e3, "a copy scales area by less than this either way", unrecorded("1f816fc")
    )
    max_perspective: float = knob(
        2e-3,
        "perspective terms of a copy's homography (a photographed screen at most)",
        unrecorded("1f816fc"),
    )
    min_coverage: float = knob(
        0.02,
        "least share of the query copied content may cover to be a region",
        f"{DEV}: a false match was a 48 px strip of letterbox",
    )
    min_shape: float = knob(
        0.15, "least shortest-over-longest side of a region", f"{DEV}: the same letterbox strip"
    )
    refine_steps: int = knob(30, "ECC refinement iterations at most", unrecorded("d17d134"))
    refine_edge: int = knob(320, "ECC working size, pixels", unrecorded("d17d134"))
    refine_epsilon: float = knob(
        1e-4, "ECC convergence: correlation gained per step", unrecorded("d17d134")
    )
    refine_blur: int = knob(3, "Gaussian kernel smoothing the ECC pictures", unrecorded("d17d134"))


@dataclass(frozen=True, slots=True)
class Content:
    """Where the copied content lies and whether it agrees with the reference
    (matching/content.py)."""

    band_gap: int = knob(
        9, "rows or columns of poor agreement bridged inside content", unrecorded("1f816fc")
    )
    residual_factor: float = knob(
        2.5,
        "a line is content while its residual is within this factor of the core's",
        unrecorded("1f816fc"),
    )
    residual_floor: float = knob(
        6.0, "grey levels added, so near-perfect copies keep a tolerance", unrecorded("1f816fc")
    )
    line_overlap: float = knob(
        0.15,
        "least share of a line the reference must cover for it to be judged",
        unrecorded("1f816fc"),
    )
    compare_blur: int = knob(
        5, "Gaussian kernel smoothing both pictures before comparing", unrecorded("1f816fc")
    )
    min_core_pixels: int = knob(
        50, "least pixels of matched core to judge content on", unrecorded("1f816fc")
    )
    block: int = knob(
        16, "side of the blocks compared for agreement, working pixels", unrecorded(_DEV_619)
    )
    block_texture: float = knob(
        4.0,
        "grey-level spread below which a block (or an overlaid row) is too flat to judge",
        unrecorded(_DEV_619),
    )
    block_correlation: float = knob(
        0.5, "a block agrees above this correlation with the reference", unrecorded(_DEV_619)
    )
    block_covered: float = knob(
        0.9, "share of a block the reference must cover", unrecorded(_DEV_619)
    )
    min_blocks: int = knob(4, "textured blocks needed to measure agreement", unrecorded(_DEV_619))
    overlay_gain: float = knob(
        0.15,
        "a row under a translucent band keeps more than this share of the gain",
        f"{HELDOUT}: two crop+caption queries (dev has no translucent bands)",
    )
    overlay_correlation: float = knob(
        0.8, "and correlates above this once overlaid text is set aside", f"{HELDOUT}: the same two"
    )
    overlay_row_share: float = knob(
        0.05, "least share of a row its own fit must rest on", f"{HELDOUT}: the same two"
    )
    min_run: int = knob(
        5, "rows an overlay spans at least (one row is interface text)", f"{HELDOUT}: the same two"
    )
    like_gain: float = knob(
        0.25,
        "gains either side of a line of text differ by at most this share",
        f"{HELDOUT}: the same two",
    )
    text_line: float = knob(
        0.15,
        "tallest line of text bridged, as a share of the query's height",
        f"{HELDOUT}: the same two",
    )
    grey_chroma: float = knob(
        2.0,
        "median chroma of the copied content up to which it is grey: its coloured pixels were"
        " drawn over it",
        f"{HELDOUT}: thermal-heldout q0057 (a white-hot copy under a cyan and yellow HUD, 0);"
        " grey JPEGs keep 0-2; 6 also took dark colour pictures for grey",
    )
    overlay_chroma: float = knob(
        40.0,
        "chroma of a pixel drawn in colour over grey content",
        f"{HELDOUT}: the same; palettes and HUD colours reach 40 and more (TONES.coloured)",
    )
    plain_share: float = knob(
        0.5,
        "least share of the core shown plainly for correlation to be judged there alone",
        f"{HELDOUT}: q0169, not fitted to it (the row test's tolerances are reused)",
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """Confirmed, contradicted or inconclusive, and the score (matching/verdict.py); the
    descriptor-alone values hold for the packaged SSCD only."""

    min_inliers: int = knob(
        6, "inliers a confirmation needs", f"{DEV}: the photometric checks carry the weight"
    )
    min_correlation: float = knob(
        0.5, "least correlation of the aligned content", f"{DEV}: wrong pairs ≤ 0.2, true ≥ 0.95"
    )
    min_agreement: float = knob(
        0.4, "least share of textured blocks agreeing", f"{DEV}: wrong pairs ≤ 0.23, true ≥ 0.7"
    )
    contradicting_inliers: int = knob(
        12,
        "inliers a contradiction (or a toned check) needs: alignment on solid ground",
        f"{DEV}; for toned checks {HELDOUT} (a road of another mission aligned on 8)",
    )
    descriptor_alone: float = knob(
        0.35,
        "normalised SSCD similarity that matches a still without keypoints",
        f"{DEV}: unrelated pairs reached 0.245 at most",
    )
    featureless: float = knob(
        2.0,
        "grey-level spread below which a picture shows nothing to attribute",
        f"{MEASURED}: benchmark queries spread 3.3 and more, black and flat pictures 0-0.5",
    )
    segment_alone: float = knob(
        0.3,
        "segment score that matches a clip stretch without keypoints",
        f"{MEASURED}: between 0.35 and unrelated frames' 0.20 (ThreatExchange groups)",
    )
    segment_alone_pairs: int = knob(
        2,
        "aligned frame pairs such a segment needs (one pair is one instant)",
        f"{THERMAL_DEV}: a dark frame matched a black opening at 0.37",
    )
    segment_distinct: float = knob(
        0.1,
        "how far such a segment stands above the rest of the reference",
        f"{THERMAL_DEV}: look-alikes 0.03 and 0.07, the true copy 0.12",
    )
    inlier_saturation: int = knob(
        50, "inliers at which the confirmation bonus is full", unrecorded("1f816fc")
    )
    contradiction_penalty: float = knob(
        0.25, "score taken off a contradicted pair", unrecorded(_DEV_619)
    )
