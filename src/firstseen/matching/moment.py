"""The moment a still shows, among the sampled frames around the one that confirmed it.

On a still shot or a fixed camera the descriptor ties many frames: it barely notices a passer-by
who moved, so the frame it ranks first may be seconds away from the one copied. The confirmed
alignment already says where the query lies on the frame, and a fixed camera puts every frame of
the shot in the same place; so each neighbouring frame the descriptor ties with it is put under
the query with that same alignment, without matching keypoints again, and the query is compared
with each where they differ (the people who moved): it shows one of them there. Frames that do
not differ there at all (a still shot, or a crop of what did not move) cannot be told apart, and
the answer gives the stretch they cover rather than pretend to one moment.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from firstseen.archive.store import Archive
from firstseen.matching.verify import Alignment, changes, predictions, register, residuals

SPAN = 10.0  # seconds scanned on either side of the confirmed frame
# Frames whose descriptors are this close to the confirmed frame's are ones the descriptor cannot
# tell apart (a still shot, a fixed camera: adjacent samples reach 0.9-1.0, moving shots 0.2-0.8);
# the scan ends at the first that is not.
_TIED = 0.85
_MIN_CHANGE = 0.005  # share of the content that must differ for frames to be told apart
# Where they differ, the query's residual against another frame must be this much lower than
# against the confirmed one: a degraded copy of swaying leaves otherwise picks a moment by noise.
_CLEARLY = 0.9
# How far the alignment may be from a crop, scale and rotation (relative to its scale): moments
# are told apart pixel by pixel, which a shearing homography pinned down by a few keypoints on
# a dark, flat frame cannot support.
_MAX_SKEW = 0.1


@dataclass(frozen=True, slots=True)
class Moment:
    """The sampled frame a still shows, and the sampled frames around it that show the same
    picture where the query lies (a still shot, or a crop of what did not move)."""

    frame_id: int
    ordinal: int
    time: float
    span: tuple[float, float]  # times of the first and last of them, this frame's when alone


def closest_moment(
    archive: Archive, item_id: int, sha256: str, frame_id: int, time: float, alignment: Alignment
) -> Moment | None:
    """The sampled frame near the confirmed one (`frame_id`, at `time`) that the query shows,
    possibly that one; None when the frames cannot be compared (a sheared alignment, a frame or
    its thumbnail gone, nothing else the descriptor ties)."""
    if _skew(alignment.homography) > _MAX_SKEW:
        return None
    frames = archive.catalog.frames_between(item_id, time - SPAN, time + SPAN)
    here = next((k for k, frame in enumerate(frames) if frame[0] == frame_id), None)
    if here is None or len(frames) < 2:
        return None
    vectors = archive.catalog.vectors([frame[0] for frame in frames])
    tied = vectors @ vectors[here] >= _TIED
    height, width = alignment.reference_shape

    def gray(k: int) -> np.ndarray | None:
        thumb = archive.thumbnails.read(sha256, frames[k][1])
        if thumb is None:
            return None
        picture = cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY)
        if picture.shape != (height, width):
            picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
        return picture

    scanned = [here]
    for step in (-1, 1):
        k = here + step
        while 0 <= k < len(frames) and tied[k]:
            scanned.append(k)
            k += step
    # Every frame, the confirmed one too, is read and sized the same way, so that none is
    # favoured by how it was resampled; a frame whose thumbnail is gone is passed over.
    read = [(k, picture) for k in scanned if (picture := gray(k)) is not None]
    if len(read) < 2 or read[0][0] != here:
        return None
    registered = register(alignment, read[0][1])
    if registered is None:
        return None
    predicted = predictions(registered, [picture for _, picture in read[1:]])
    share, mean_residuals = residuals(registered, predicted)
    best = int(np.argmin(mean_residuals))
    if share < _MIN_CHANGE or mean_residuals[best] >= _CLEARLY * mean_residuals[0]:
        best = 0
    # The frames showing the same picture as the one chosen, without a gap in between.
    same = {
        k
        for (k, _), change in zip(read, changes(registered, predicted, best), strict=True)
        if change < _MIN_CHANGE
    }
    first = last = read[best][0]
    while first - 1 in same:
        first -= 1
    while last + 1 in same:
        last += 1
    chosen_id, ordinal, when = frames[read[best][0]]
    return Moment(chosen_id, ordinal, when, (frames[first][2], frames[last][2]))


def _skew(homography: np.ndarray) -> float:
    """Distance of the homography's linear part from the nearest scaled rotation, relative to
    that scale: 0 for a crop, a rescale or a rotation; a stretch or shear raises it."""
    (a, b), (c, d) = homography[:2, :2] / homography[2, 2]
    cos, sin = (a + d) / 2, (c - b) / 2
    scale = float(np.hypot(cos, sin))
    return float(np.hypot(np.hypot(a - cos, d - cos), np.hypot(b + sin, c - sin))) / max(
        scale, 1e-9
    )
