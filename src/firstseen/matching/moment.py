"""The moment a still shows, among the sampled frames around the one that confirmed it.

On a still shot or a fixed camera the descriptor ties many frames: it barely notices a passer-by
who moved, so the frame it ranks first may be seconds away from the one copied. The confirmed
alignment already says where the query lies on the frame, and a fixed camera puts every frame of
the shot in the same place; so each neighbouring frame the descriptor ties with it is put under
the query with that same alignment, without matching keypoints again, and the query is compared
with each where they differ (the people who moved): it shows one of them there. The frames are
put in the query's tones first, by a curve fitted from the frame's grey levels to the query's, so
that a thermal palette, an inversion or a posterised copy is compared as fairly as a plain one.
Frames that do not differ there at all (a still shot, or a crop of what did not move) cannot be
told apart, and the answer gives the stretch they cover rather than pretend to one moment.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from firstseen.archive.records import TimedFrame
from firstseen.archive.store import Archive
from firstseen.matching.content import covered, lightly_blurred, onto, warped
from firstseen.matching.verify import Alignment
from firstseen.tuning import CLIP, MOMENT


@dataclass(frozen=True, slots=True)
class Moment:
    """The sampled frame a still shows, and the sampled frames around it that show the same
    picture where the query lies (a still shot, or a crop of what did not move)."""

    frame_id: int
    ordinal: int
    time: float
    span: tuple[float, float]  # times of the first and last of them, this frame's when alone


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A sampled video frame keypoints confirmed: the video's id and SHA-256 (its thumbnails'
    key), the frame's id and time, and the alignment that confirmed it."""

    item_id: int
    sha256: str
    frame_id: int
    time: float
    alignment: Alignment


def closest_moment(archive: Archive, confirmed: Confirmed) -> Moment | None:
    """The sampled frame near the `confirmed` one that the query shows, possibly that one; None
    when the frames cannot be compared (a sheared alignment, a frame or its thumbnail gone,
    nothing else the descriptor ties).

    The frames within `MOMENT.moment_span` are compared first; only when none of them stands out
    from the confirmed one are those within `MOMENT.wider_span` compared. Scanning wide at once
    pools more unrelated change (people elsewhere in the shot) into the pixels compared, which
    blurred moments the near scan had told apart; a copy confirmed far from its moment on a
    long fixed shot is still found. Where the wider scan keeps the confirmed frame too, its
    stretch is the answer's: the near scan's ends where its window does, not where the picture
    changes."""
    near = _moment_within(archive, confirmed, MOMENT.moment_span)
    if near is None or near.frame_id != confirmed.frame_id:
        return near
    far = _moment_within(archive, confirmed, MOMENT.wider_span)
    return near if far is None else far


def _moment_within(archive: Archive, confirmed: Confirmed, span: float) -> Moment | None:
    """`closest_moment` among the sampled frames within `span` seconds of the confirmed one."""
    shot = _shot_in_register(archive, confirmed, span, False)
    if shot is None:
        return None
    frames, read, registered = shot
    placed_frames = placed(registered, [picture for _, picture in read[1:]])
    share, mean_residuals = residuals(registered, placed_frames)
    best = int(np.argmin(mean_residuals))
    if share < MOMENT.min_change or mean_residuals[best] >= MOMENT.clearly * mean_residuals[0]:
        best = 0
    # The frames showing the same picture as the one chosen, without a gap in between.
    same = {
        k
        for (k, _), change in zip(read, changes(registered, placed_frames, best), strict=True)
        if change < MOMENT.min_change
    }
    first = last = read[best][0]
    while first - 1 in same:
        first -= 1
    while last + 1 in same:
        last += 1
    chosen = frames[read[best][0]]
    return Moment(
        chosen.frame_id, chosen.ordinal, chosen.time, (frames[first].time, frames[last].time)
    )


def closest_offset(
    archive: Archive, confirmed: Confirmed, shown: list[tuple[float, np.ndarray]], at: float
) -> tuple[TimedFrame, float] | None:
    """How far the clip's frame at `at` is from the moment of the same fixed shot it shows,
    judged by all the clip's frames in `shown` (their times and grey pictures, at the size and
    orientation of the alignment's query) at once against the sampled frames around the
    `confirmed` one: the sampled frame nearest that moment, and the shift in seconds;
    None when the frames cannot be compared, nothing moves, or no other moment is clearly
    closer.

    A clip of a fixed camera is the still's case many times over: every stretch of the shot looks
    alike to the descriptor, so the clip lines up with whichever its similarities favour by
    chance. Each candidate moment puts every clip frame against the sampled frame as far from it
    as the clip frame is from `at`; the figures that walk through the shot then have to coincide
    in all of them, which one frame's few pixels could not show reliably. The pixels compared are
    those where any frame of the shot differs from the shot's median (the paths of what moved),
    the same for every candidate, so their residuals can be ranked.
    """
    shot = _shot_in_register(archive, confirmed, CLIP.offset_span, True)
    if shot is None:
        return None
    frames, read, registered = shot
    placed_frames = np.stack(placed(registered, [picture for _, picture in read[1:]]))
    background = np.median(placed_frames, axis=0)
    moving = _differs(placed_frames, background).any(axis=0)
    moving &= registered.valid
    if moving.sum() < MOMENT.min_change * registered.valid.sum():
        return None
    times = np.array([frames[k].time for k, _ in read])
    toned = [registered.tones(frame[moving]) for frame in placed_frames]
    shape = registered.query.shape
    clip = [(t, content(confirmed.alignment, gray, shape)[moving]) for t, gray in shown]
    interval = float(np.median(np.diff(np.sort(times))))
    # Each candidate is a sampled frame put at `at`, so that every candidate compares the same
    # clip frames (a step finer than the archive's samples would compare the other half).
    offsets = times - at
    mean_residuals = np.full(len(offsets), np.inf)
    for k, offset in enumerate(offsets):
        residuals = []
        for t, query in clip:
            nearest = int(np.argmin(np.abs(times - (t + offset))))
            if abs(times[nearest] - (t + offset)) <= CLIP.offset_tolerance * interval:
                residuals.append(float(np.abs(query - toned[nearest]).mean()))
        if len(residuals) * 2 >= len(clip):
            mean_residuals[k] = float(np.mean(residuals))
    best = int(np.argmin(mean_residuals))
    if not np.isfinite(mean_residuals[0]) or mean_residuals[best] >= (
        MOMENT.clearly * mean_residuals[0]
    ):
        return None
    return frames[read[best][0]], float(offsets[best] - offsets[0])


def _shot_in_register(
    archive: Archive, confirmed: Confirmed, span: float, chained: bool
) -> tuple[list[TimedFrame], list[tuple[int, np.ndarray]], "Registered"] | None:
    """The frames of the shot around the `confirmed` one (`span` and `chained` as
    `_tied_frames`), the grey thumbnails of those tied to it (the confirmed one first) with their
    places, and the query in register with the confirmed one; None when a shearing alignment is
    not to be trusted, no neighbour is tied, or the frames cannot be registered."""
    alignment = confirmed.alignment
    if _shear(alignment.homography) > MOMENT.max_shear:
        return None
    shot = _tied_frames(
        archive, confirmed.item_id, confirmed.frame_id, confirmed.time, span, chained
    )
    if shot is None:
        return None
    frames, here, scanned = shot
    read = _read(archive, confirmed.sha256, frames, scanned, alignment.reference_shape)
    if len(read) < 2 or read[0][0] != here:
        return None
    registered = register(alignment, read[0][1])
    return None if registered is None else (frames, read, registered)


def _tied_frames(
    archive: Archive, item_id: int, frame_id: int, time: float, span: float, chained: bool = False
) -> tuple[list[TimedFrame], int, list[int]] | None:
    """The sampled frames within `span` seconds of the confirmed one, its place among them, and
    the places of the run around it that the descriptor ties with it (itself first), or,
    `chained`, ties each with the next (a fixed shot through which people walk drifts from any
    one frame of it, never between neighbours); None when it has no neighbours."""
    frames = archive.catalog.frames_between(item_id, time - span, time + span)
    here = next((k for k, frame in enumerate(frames) if frame.frame_id == frame_id), None)
    if here is None or len(frames) < 2:
        return None
    vectors = archive.catalog.vectors([frame.frame_id for frame in frames])
    scanned = [here]
    for step in (-1, 1):
        k = here + step
        while 0 <= k < len(frames) and vectors[k] @ vectors[k - step if chained else here] >= (
            MOMENT.tied
        ):
            scanned.append(k)
            k += step
    return frames, here, scanned


def _read(
    archive: Archive,
    sha256: str,
    frames: list[TimedFrame],
    scanned: list[int],
    shape: tuple[int, int],
) -> list[tuple[int, np.ndarray]]:
    """The grey thumbnails of the `scanned` frames at the reference's working `shape`, each with
    its place. Every frame, the confirmed one too, is read and sized the same way, so that none is
    favoured by how it was resampled; a frame whose thumbnail is gone is passed over."""
    height, width = shape
    read = []
    for k in scanned:
        thumb = archive.thumbnails.read(sha256, frames[k].ordinal)
        if thumb is None:
            continue
        picture = cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY)
        if picture.shape != (height, width):
            picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
        read.append((k, picture))
    return read


def _shear(homography: np.ndarray) -> float:
    """How far the homography's linear part is from a rotation and a rescale along the picture's
    axes, in either order: the cosine between its columns or between its rows, whichever is
    nearer 0. 0 for a crop, a rotation and any rescale, of both sides or one (a meme template
    stretches the picture it frames); a shear raises it, as a fit to a few ambiguous inliers
    does."""
    linear = homography[:2, :2] / homography[2, 2]
    return min(_cosine(linear[:, 0], linear[:, 1]), _cosine(linear[0], linear[1]))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(abs(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))


@dataclass(frozen=True, slots=True)
class Registered:
    """The query's copied content, worked small, with one frame of the reference put on it to
    the pixel: what other frames of a fixed shot are compared against."""

    query: np.ndarray  # the copied content, lightly blurred (float32)
    to_reference: np.ndarray  # its pixels → the reference's working pixels
    valid: np.ndarray  # where the reference covers it
    tones: "ToneCurve"  # the frame's grey levels → the query's
    frame: np.ndarray  # the frame warped onto the query (its own grey levels)


@dataclass(frozen=True, slots=True)
class ToneCurve:
    """The grey level a query shows for each grey level of the frame: the mean query level of
    the frame's pixels at that level, interpolated between levels. Any curve, rising or not, so
    that a palette (white-hot, black-hot, a colour ramp turned grey), a posterised copy or a
    strong grade predicts the query as well as a plain one; a gain and offset cannot follow a
    ramp that rises and falls."""

    levels: np.ndarray  # frame grey levels, rising
    shown: np.ndarray  # the query's mean at each

    @classmethod
    def fitted(cls, frame: np.ndarray, query: np.ndarray) -> "ToneCurve | None":
        """The curve from pixels of `frame` to those of `query` (same shape, 1-D or not); None
        when the frame has fewer than two well-filled levels (a flat frame predicts nothing)."""
        bins = np.clip((frame * (MOMENT.tone_bins / 256)).astype(np.intp), 0, MOMENT.tone_bins - 1)
        count = np.bincount(bins.ravel(), minlength=MOMENT.tone_bins)
        level = np.bincount(bins.ravel(), weights=frame.ravel(), minlength=MOMENT.tone_bins)
        shown = np.bincount(bins.ravel(), weights=query.ravel(), minlength=MOMENT.tone_bins)
        filled = count >= MOMENT.tone_min_pixels
        if filled.sum() < 2:
            return None
        return cls(level[filled] / count[filled], shown[filled] / count[filled])

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return np.interp(frame, self.levels, self.shown).astype(np.float32)


def register(alignment: Alignment, gray: np.ndarray) -> Registered | None:
    """The query's content and `gray` (a frame at the reference's working size) in register.

    The alignment is shifted by phase correlation first: a few inliers place a frame only within
    a few pixels, enough for the verdict but not for telling two moments apart by a passer-by's
    step. The frame is put in the query's tones before it is correlated, so that an inverted or
    false-coloured copy peaks where it lies. None when the frame covers too little of the content
    to judge.
    """
    x0, y0 = alignment.box[:2]
    f = _compare_scale(alignment)
    small = _box(alignment, alignment.query.gray)
    # Small box pixels → query working pixels (scale back, then shift by the box's corner).
    to_reference = alignment.homography @ np.array([[1 / f, 0, x0], [0, 1 / f, y0], [0, 0, 1]])
    q, w, valid = onto(small, gray, to_reference)
    if valid.mean() < MOMENT.min_registered or w[valid].std() == 0:
        return None
    rough = ToneCurve.fitted(w[valid], q[valid])
    if rough is None:
        return None
    toned = np.where(valid, rough(w), q[valid].mean())
    window = cv2.createHanningWindow(q.shape[::-1], cv2.CV_32F)
    # OpenCV windows its inputs in place: the query is kept as it is for the comparisons.
    (dx, dy), _ = cv2.phaseCorrelate(toned, q.copy(), window)
    # The query shows at x what the warped frame shows at x - d.
    to_reference = to_reference @ np.array([[1, 0, -dx], [0, 1, -dy], [0, 0, 1]])
    w, valid = warped(gray, to_reference, q.shape), covered(gray, to_reference, q.shape)
    if valid.sum() < MOMENT.min_registered_pixels or w[valid].std() == 0:
        return None
    tones = ToneCurve.fitted(w[valid], q[valid])
    if tones is None:
        return None
    return Registered(q, to_reference, valid, tones, w)


def _compare_scale(alignment: Alignment) -> float:
    x0, y0, x1, y1 = alignment.box
    return min(1.0, MOMENT.compare_edge / max(x1 - x0, y1 - y0, 1))


def _box(alignment: Alignment, gray: np.ndarray) -> np.ndarray:
    """The copied content of `gray` (a picture at the alignment's query working size), at the
    size frames are compared at."""
    x0, y0, x1, y1 = alignment.box
    f = _compare_scale(alignment)
    crop = gray[y0:y1, x0:x1]
    if f == 1:
        return crop
    size = (max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f)))
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)


def content(alignment: Alignment, gray: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Another query picture's copied content as `register` works the alignment's own (lightly
    blurred, float32, of the registered `shape`): a clip's frames share their crop."""
    small = _box(alignment, gray)
    if small.shape != shape[:2]:
        small = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return lightly_blurred(small)


def placed(registered: Registered, others: list[np.ndarray]) -> list[np.ndarray]:
    """The registered frame, then each of `others` (more frames of a fixed shot, at the same
    size) put in the same place under the query, in their own grey levels."""
    return [registered.frame] + [
        warped(other, registered.to_reference, registered.query.shape) for other in others
    ]


def residuals(registered: Registered, frames: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """Which of the frames of `placed` the query shows: the share of the content where any of
    them differs from the registered frame, and the query's mean residual there against each,
    put in the query's tones.

    Judged only where the frames differ, since the rest of a fixed shot cannot tell them apart and
    would drown the difference in noise and overlays; and on the same pixels for every frame, so
    that noise and overlays there weigh the same on each and the residuals can be ranked. Where
    they differ is measured in the frames' own grey levels: a copy of low contrast must not hide
    what moved.
    """
    differ = np.zeros_like(registered.valid)
    for frame in frames[1:]:
        differ |= _differs(frame, frames[0])
    differ &= registered.valid
    if not differ.any():
        return 0.0, np.zeros(len(frames))
    query = registered.query[differ]
    mean_residuals = np.array(
        [np.abs(query - registered.tones(frame[differ])).mean() for frame in frames]
    )
    return float(differ.sum() / registered.valid.sum()), mean_residuals


def changes(registered: Registered, frames: list[np.ndarray], index: int) -> np.ndarray:
    """For each frame of `placed`, the share of the content where it differs from frame `index`
    by more than codec noise: where the query lies, a frame that differs almost nowhere shows the
    same picture. Measured in the frames' own grey levels, not the query's: a copy graded to low
    contrast must not make moments look alike."""
    valid, count = registered.valid, max(int(registered.valid.sum()), 1)
    return np.array(
        [
            (_differs(frame, frames[index], MOMENT.same_picture) & valid).sum() / count
            for frame in frames
        ]
    )


def _differs(a: np.ndarray, b: np.ndarray, levels: float = MOMENT.moment_difference) -> np.ndarray:
    return np.abs(a - b) > levels
