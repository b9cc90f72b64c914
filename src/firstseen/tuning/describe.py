"""What is described and looked up: black bars cut, photo parts, the background correction,
retrieval from the indexes, and PDQ lookups of hash-only items."""

from dataclasses import dataclass

from firstseen.tuning.knobs import BUDGET, DEV, PUBLISHED, knob, unrecorded


@dataclass(frozen=True, slots=True)
class Bars:
    """Letterbox and pillarbox bars cut before describing, alike for archive and query
    (media/bars.py)."""

    bar_work_edge: int = knob(256, "working size of the bar decision", unrecorded("276b569"))
    bar_dark: float = knob(24.0, "brightest mean grey level of a bar row", unrecorded("276b569"))
    bar_spread: float = knob(
        6.0, "largest grey-level spread along a bar row", unrecorded("276b569")
    )
    bar_max_side: float = knob(
        0.35, "largest share of the height (width) one bar may take", unrecorded("276b569")
    )
    bar_min_kept: float = knob(
        0.3, "least share of each side left once bars are cut", unrecorded("276b569")
    )
    bar_thin: float = knob(
        0.01,
        "share of a side under which a dark band is an edge line, not a bar",
        unrecorded("276b569"),
    )


@dataclass(frozen=True, slots=True)
class Parts:
    """Parts of archived photos, described on their own (archive/parts.py); a change needs the
    parts described again."""

    part_grid: int = knob(
        3,
        "windows per side of a photo's grid of parts",
        f"{DEV}: compared with 3rd- and 4th-size grids; heldout misses were looked at too",
    )
    part_grid_side: float = knob(
        0.5,
        "side of each window, as a share of the photo's",
        f"{DEV}: raised the best similarity of a negative least; heldout looked at too",
    )


@dataclass(frozen=True, slots=True)
class Background:
    """Score normalisation against generated background pictures (matching/background.py)."""

    beta: float = knob(
        1.0, "weight of the background similarity subtracted", f"{PUBLISHED}: SSCD's correction"
    )
    background_nearest: int = knob(
        3, "nearest background pictures averaged per query", f"{PUBLISHED}: SSCD's correction"
    )
    background_count: int = knob(384, "background pictures generated", unrecorded("1f816fc"))


@dataclass(frozen=True, slots=True)
class Retrieval:
    """Candidates from the indexes (matching/retrieve.py)."""

    candidate_frames: int = knob(
        64, "nearest frames retrieved per query picture", unrecorded("1f816fc")
    )
    other_pictures: int = knob(
        2,
        "other parts of a still tried when the one most like a reference fails",
        unrecorded("db2415e"),
    )
    flip_margin: float = knob(
        0.05, "orientations closer than this in similarity are both verified", unrecorded("1f816fc")
    )


@dataclass(frozen=True, slots=True)
class Hashes:
    """Hash-only items (a partner's vPDQ file), matched by PDQ (matching/hashbank.py)."""

    pdq_max_distance: int = knob(
        31,
        "Hamming distance at most which two PDQ hashes match",
        f"{PUBLISHED}: python-threatexchange's VPDQ_DISTANCE_THRESHOLD",
    )
    pdq_min_quality: int = knob(
        50,
        "PDQ quality below which a frame, on either side, is not compared",
        f"{PUBLISHED}: python-threatexchange's VPDQ_QUALITY_THRESHOLD",
    )
    pairs_at_once: int = knob(
        1 << 22, "query x bank comparisons per block: about 50 MB", f"{BUDGET}: memory"
    )
