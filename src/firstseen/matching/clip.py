"""Video queries: which archived videos a clip copies, and which stretch of each.

The clip is sampled like archived videos (steadily, plus shot starts; short clips twice as
densely) and each frame is described in both orientations. The nearest archived frames name the
candidate references; each candidate video's frames (their vectors are kept in the catalog) are
then compared with every query frame, and the similarity matrix is aligned in time (align.py).
The best frame pair of each segment is checked with local features as a still query's would be
(and, where it is not confirmed, a few more of its pairs), which confirms the segment and gives
the region it shows. A stretch of the clip that no flagged segment then holds is looked for
with keypoints among the candidates that lined nothing up there (a heavy look can sink the
descriptor's similarities to noise). Stills found by a clip are answered as for a still query,
by its most similar frame. A clip that matches nothing as it is (a thermal or night-vision
look) is searched again under the toning (matching/tones.py) a few of its frames come clearly
closest under.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from firstseen.archive.catalog_api import CatalogReader
from firstseen.archive.records import Item
from firstseen.errors import MediaError
from firstseen.matching import segments, verdict
from firstseen.matching.align import (
    Segment,
    align,
    distinctness,
    line_frames,
    regrown,
    spanned,
)
from firstseen.matching.check import Checker
from firstseen.matching.hashbank import similarity
from firstseen.matching.results import FramePair, Hit, Match, Picture, SegmentMatch
from firstseen.matching.retrieve import Retriever
from firstseen.matching.tones import Toning, tonings_of
from firstseen.media import Frame, sample_video, video_info
from firstseen.media.frames import shrink
from firstseen.signals import pdq_distance
from firstseen.tuning import ALIGN, CHECK, CLIP, RETRIEVAL, TONES


def search_clip(retriever: Retriever, checker: Checker, path: Path, top: int) -> list[Match]:
    """Matches of a query video, best first, each with its aligned segments."""
    info = video_info(path)
    fps = CLIP.dense_fps
    if info.duration:
        fps = min(CLIP.dense_fps, max(CLIP.sparse_fps, CLIP.dense_frames / info.duration))
        fps = min(fps, CLIP.max_frames / info.duration)
    # Shot starts come on top of the steady sample; a clip cut every second is still bounded.
    frames = list(_held(islice(sample_video(path, fps), CLIP.cut_allowance * CLIP.max_frames)))
    if not frames:
        raise MediaError("no decodable video frames")
    if not len(retriever.archive.index) and not len(retriever.hashbank):
        return []
    times = np.array([f.time for f in frames])
    cuts = np.array([f.shot_start for f in frames])
    length = info.duration or float(times[-1]) + 1.0 / fps
    sampled = (times, cuts)
    pictures = [Picture(f.rgb) for f in frames]
    matches = _search_pictures(retriever, checker, pictures, sampled, length, top)
    for toning in [] if any(m.match for m in matches) else _tonings(retriever, frames):
        toned = [toning.picture(f.rgb) for f in frames]
        again = _search_pictures(retriever, checker, toned, sampled, length, top)
        if any(m.match for m in again):
            matches = again
            break
    matches += _hash_matches(retriever, frames, sampled, length)
    matches.sort(key=lambda m: -m.score)
    _keep_stills(matches[:top], frames)
    return matches[:top]


def _keep_stills(matches: list[Match], frames: list[Frame]) -> None:
    """Keeps a small copy of each segment's best query frame (as uploaded, not toned): the query
    is not at hand once the search has answered."""
    for chosen in matches:
        for answer in chosen.segments:
            if answer.pair is not None:
                answer.pair.query_still = shrink(
                    frames[answer.pair.query_index].rgb, CLIP.pair_edge
                )


def _held(frames: Iterable[Frame]) -> Iterator[Frame]:
    """The sampled frames as a search keeps them: up to `CLIP.frame_edge`, and once
    `CLIP.held_bytes` are held, at `CLIP.small_edge`, so that a long or huge clip (a 1280 x 1280
    upload cut every second) cannot hold gigabytes; ordinary clips stay whole."""
    held = 0
    for frame in frames:
        rgb = shrink(frame.rgb, CLIP.frame_edge if held < CLIP.held_bytes else CLIP.small_edge)
        held += rgb.nbytes
        yield replace(frame, rgb=rgb)


def _search_pictures(
    retriever: Retriever,
    checker: Checker,
    pictures: list[Picture],
    sampled: tuple[np.ndarray, np.ndarray],
    length: float,
    top: int,
) -> list[Match]:
    """Matches of the clip's sampled frames (`sampled`: their times and shot starts) among the
    indexed media, each video with its aligned segments."""
    times, clip = sampled[0], (sampled, length)
    found = retriever.retrieve(pictures)
    mirrored = np.array([m for _, m in found.variants])
    plain, mirror = found.vectors[~mirrored], found.vectors[mirrored]
    matches, compared = [], []
    for position, item_id in enumerate(found.ranked[: max(top, CLIP.clip_items)]):
        item = retriever.archive.catalog.item(item_id)
        if item is None:
            continue
        checked = position < CHECK.verify_items
        if item.kind == "image":
            candidates = found.per_item[item_id][:1]
            chosen = checker.best_frame(
                item, candidates, found.best, found.info, pictures, int(checked)
            )
            matches.append(chosen)
            continue
        catalog, calibration = retriever.archive.catalog, checker.calibration
        seen = _compared(catalog, calibration, item, (plain, mirror), found.bias)
        if seen is None:
            continue
        compared.append((item, seen))
        aligned = _aligned(seen, item, sampled, length)
        if aligned is not None:
            matches.append(
                _verify_segments(checker, aligned, seen, pictures, clip, leader=position == 0)
                if checked
                else aligned
            )
    _rescue_uncovered(checker, matches, compared, pictures, clip)
    _mark_featureless(checker.calibration, matches, pictures, times)
    stored = retriever.archive.catalog.frames_info(
        [m.frame_id for m in matches if m.frame_id is not None]
    )
    for chosen in matches:
        chosen.tone = pictures[0].tone
        if chosen.frame_id not in stored:
            continue
        picture = chosen.segments[0].segment.best[0] if chosen.segments else chosen.picture
        chosen.pdq_distance = pdq_distance(pictures[picture].pdq, stored[chosen.frame_id].pdq)
    return matches


def _tonings(retriever: Retriever, frames: list[Frame]) -> list[Toning]:
    """The tonings (matching/tones.py) under which a few of the clip's frames come clearly closer
    to the archive than as they are, closest first, at most `CLIP.tonings_tried`: a thermal or
    night-vision look is laid on a whole clip, so a few frames tell it, and all are then searched
    under it. The closest is not always the right one (the grey negative of a black-hot rainbow
    comes close too), so the next is tried when it matches nothing."""
    if not len(retriever.archive.index):
        return []
    step = max(1, len(frames) // CLIP.toning_samples)
    samples = [f.rgb for f in frames[::step][: CLIP.toning_samples]]
    candidates = tonings_of(samples)
    pictures = [rgb for toning in candidates for rgb in map(toning.apply, samples)]
    vectors = retriever.descriptor.describe(samples + pictures)
    nearest, _ = retriever.archive.index.search(vectors, 1)
    normalised = nearest[:, 0] - retriever.background.bias(vectors)
    closeness = normalised.reshape(len(candidates) + 1, len(samples)).mean(axis=1)
    order = np.argsort(-closeness[1:])[: CLIP.tonings_tried]
    return [candidates[i] for i in order if closeness[1 + i] > closeness[0] + TONES.toning_margin]


def _mark_featureless(
    calibration: verdict.Calibration,
    matches: list[Match],
    pictures: list[Picture],
    times: np.ndarray,
) -> None:
    """Flags the answers the descriptor alone would decide whose query frames are mostly black or
    flat (VERDICT.featureless); looked at only there, since it costs a few ms a frame."""
    still_alone, segment_alone = calibration.descriptor_alone, calibration.segment_alone
    for chosen in matches:
        alone = verdict.descriptor_decides(chosen.normalised, chosen.check, still_alone)
        if not chosen.segments and alone:
            chosen.featureless = pictures[chosen.picture].featureless
        for answer in chosen.segments:
            if not verdict.descriptor_decides(answer.segment.score, answer.check, segment_alone):
                continue
            start, end = answer.segment.query
            shown = [p for p, t in zip(pictures, times, strict=True) if start <= t <= end]
            answer.featureless = sum(p.featureless for p in shown) * 2 > len(shown)


def _hash_matches(
    retriever: Retriever,
    frames: list[Frame],
    sampled: tuple[np.ndarray, np.ndarray],
    length: float,
) -> list[Match]:
    """Matches among hash-only items (a partner's vPDQ file): the query frames' PDQ hashes are
    compared with theirs and the pairs within ThreatExchange's limit are aligned in time like
    descriptor pairs. There is nothing to verify against, and no mirrored search (PDQ is not
    mirror-invariant)."""
    if not len(retriever.hashbank):
        return []
    times, cuts = sampled
    matches = []
    for item_id, pairs in retriever.hashbank.match_pictures([f.rgb for f in frames]).items():
        item = retriever.archive.catalog.item(item_id)
        if item is None:
            continue
        ordinals, column = np.unique(pairs.ordinal, return_inverse=True)
        reference_times = np.zeros(len(ordinals))
        reference_times[column] = np.nan_to_num(pairs.time)
        sims = np.full((len(frames), len(ordinals)), -1.0)
        np.maximum.at(sims, (pairs.query_index, column), similarity(pairs.distance))
        reference_length = item.duration or float(reference_times.max())
        segments = align(sims, times, reference_times, length, reference_length, cuts)
        if not segments:
            continue
        q, r = segments[0].best
        matches.append(
            Match(
                item,
                None,
                int(ordinals[r]),
                segments[0].reference[0],
                float(sims[q, r]),
                float(sims[q, r]),
                False,
                pdq_distance=round((1.0 - sims[q, r]) * 64),
                segments=[
                    SegmentMatch(s, pair=_pair(s, times, reference_times, ordinals))
                    for s in segments
                ],
            )
        )
    return matches


@dataclass(frozen=True, slots=True)
class _Comparison:
    """A query compared with every frame of one reference video."""

    frame_ids: list[int]
    ordinals: list[int]
    times: np.ndarray  # of the reference frames
    plain: np.ndarray  # raw similarities (query frame × reference frame), as the query is
    mirror: np.ndarray  # and mirrored
    bias: np.ndarray  # background correction per query frame
    calibration: verdict.Calibration  # the checker's
    # Made once: aligning, checking and the rescue of uncovered stretches all read it.
    _normalised: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        normalised = np.maximum(self.plain, self.mirror) - self.bias[:, None]
        normalised.flags.writeable = False  # shared by every reader
        object.__setattr__(self, "_normalised", normalised)

    def normalised(self) -> np.ndarray:
        """Normalised similarities (query frame × reference frame), the better orientation."""
        return self._normalised

    def hit(self, q: int, r: int) -> Hit:
        plain, mirror = float(self.plain[q, r]), float(self.mirror[q, r])
        best = max(plain, mirror)
        return Hit(
            best - float(self.bias[q]),
            best,
            q,
            mirror > plain,
            abs(mirror - plain) < RETRIEVAL.flip_margin,
        )

    def match(self, item: Item, q: int, r: int, segments: list[SegmentMatch]) -> Match:
        """The reference as an answer, seen through frame pair (q, r)."""
        hit = self.hit(q, r)
        time = segments[0].segment.reference[0] if segments else float(self.times[r])
        return Match(
            item,
            self.frame_ids[r],
            self.ordinals[r],
            time,
            hit.similarity,
            hit.normalised,
            hit.mirrored,
            segments=segments,
            calibration=self.calibration,
        )


def _compared(
    catalog: CatalogReader,
    calibration: verdict.Calibration,
    item: Item,
    vectors: tuple[np.ndarray, np.ndarray],
    bias: np.ndarray,
) -> _Comparison | None:
    """The reference's frames compared with every query frame (`vectors`: as the query is and
    mirrored); None when it has no indexed frame."""
    rows = catalog.item_frames(item.id)
    if not rows:
        return None
    frame_ids = [row.frame_id for row in rows]
    stored = catalog.vectors(frame_ids)
    return _Comparison(
        frame_ids,
        [row.ordinal for row in rows],
        np.array([row.time or 0.0 for row in rows]),
        vectors[0] @ stored.T,
        vectors[1] @ stored.T,
        bias,
        calibration,
    )


def _aligned(
    seen: _Comparison, item: Item, sampled: tuple[np.ndarray, np.ndarray], length: float
) -> Match | None:
    """The reference as an answer, its similarities to the query (`sampled`: the query frames'
    times and shot starts) aligned in time; None when no stretch of it lines up."""
    sims = seen.normalised()
    reference_length = item.duration or float(seen.times[-1])
    times, cuts = sampled
    segments = align(sims, times, seen.times, length, reference_length, cuts)
    if not segments:
        return None
    answers = [
        SegmentMatch(
            s,
            calibration=seen.calibration,
            distinct=distinctness(sims, times, seen.times, s),
            pair=_pair(s, times, seen.times, seen.ordinals),
        )
        for s in segments
    ]
    return seen.match(item, *segments[0].best, answers)


def _pair(
    segment: Segment,
    times: np.ndarray,
    reference_times: np.ndarray,
    ordinals: Sequence[int] | np.ndarray,
) -> FramePair:
    """The segment's best frame pair, by time and by the reference frame's ordinal."""
    q, r = segment.best
    return FramePair(q, float(times[q]), float(reference_times[r]), int(ordinals[r]))


def _verify_segments(
    checker: Checker,
    found: Match,
    seen: _Comparison,
    pictures: list[Picture],
    clip: tuple[tuple[np.ndarray, np.ndarray], float],
    leader: bool = False,
) -> Match:
    """Checks the best frame pair of the leading segments with local features; the answer then
    takes its frame, region and orientation from the best segment. Where ORB aligns nothing on
    the pair of the `leader`'s (the most similar reference's) best segment, SIFT looks at it too,
    as at a still's leader. A pair that is not confirmed may lie between two archived samples of a
    moving shot, where keypoints find little of the same ground: up to `CLIP.other_pairs` more of
    the segment's pairs that fall on a sample are checked with ORB, most similar first. A
    segment of a fixed shot moved to its moment is regrown along its new line (`clip`: the
    query's frame times, shot starts and length), and what it then explains or continues is
    answered with it."""
    (times, cuts), length = clip
    reference_length = found.item.duration or float(seen.times[-1])
    sims = seen.normalised()
    moved = []
    for rank, segment in enumerate(found.segments[: CLIP.verify_segments]):
        robust = leader and rank == 0
        probe = _checked_pair(checker, seen, found.item, segment.segment.best, pictures, robust)
        if not verdict.verified(probe.check):
            elsewhere = _confirmed_elsewhere(checker, seen, found.item, segment, pictures, times)
            probe = probe if elsewhere is None else elsewhere
        segment.check, segment.mirrored = probe.check, probe.mirrored
        if verdict.verified(segment.check) and _settle_moment(
            checker, seen, segment, probe, pictures, times
        ):
            segment.segment = regrown(
                segment.segment,
                sims,
                (times, seen.times),
                (length, reference_length),
                cuts,
            )
            moved.append(segment)
    joined = segments.joined(found.segments, moved)
    folded = _strays_folded(checker, found.item, seen, joined, pictures, (times, cuts))
    ranked = sorted(folded, key=lambda s: -s.score)
    best = ranked[0]
    chosen = seen.match(found.item, *best.segment.best, ranked)
    chosen.check, chosen.mirrored = best.check, best.mirrored
    return chosen


def _confirmed_elsewhere(
    checker: Checker,
    seen: _Comparison,
    item: Item,
    answer: SegmentMatch,
    pictures: list[Picture],
    times: np.ndarray,
) -> Match | None:
    """The first of up to `CLIP.other_pairs` more pairs of the segment (`_other_pairs`) that ORB
    confirms, as an answer, with the segment then shown by it; None when none does."""
    for pair in _other_pairs(answer.segment, seen, times)[: CLIP.other_pairs]:
        probe = _checked_pair(checker, seen, item, pair, pictures)
        if verdict.verified(probe.check):
            answer.segment = replace(answer.segment, best=pair)
            answer.pair = _pair(answer.segment, times, seen.times, seen.ordinals)
            return probe
    return None


def _other_pairs(segment: Segment, seen: _Comparison, times: np.ndarray) -> list[tuple[int, int]]:
    """The segment's frame pairs other than its best whose query frame falls on a reference
    sample along its line (within CLIP.on_sample), most similar first."""
    start, end = segment.query
    sims = seen.normalised()
    nearest, off = line_frames(segment, times, seen.times)
    pairs = [
        (float(sims[q, nearest[q]]), int(q), int(nearest[q]))
        for q in np.flatnonzero((times >= start) & (times <= end) & (off <= CLIP.on_sample))
        if (int(q), int(nearest[q])) != segment.best
    ]
    return [(q, r) for _, q, r in sorted(pairs, reverse=True)]


def _rescue_uncovered(
    checker: Checker,
    matches: list[Match],
    compared: list[tuple[Item, _Comparison]],
    pictures: list[Picture],
    clip: tuple[tuple[np.ndarray, np.ndarray], float],
) -> None:
    """Looks with keypoints for the source of each stretch of the query that no flagged segment
    holds (`_uncovered`), among the `compared` references that lined nothing up there
    (`_rescue_candidates`): under a heavy look (a night-vision tint, a HUD over rendered
    footage) the descriptor's similarities to the true frames can sink to the level of noise,
    so nothing lines up in time, while ORB still aligns the frames. A reference that did line
    up there and was not confirmed is not looked at again: more checks of the same stretch are
    only more chances for another recording of the same scene to align. The pair keypoints put
    the stretch on (`_keypoint_pair`) sets the line, and the segment spans the stretch's shot
    (`align.spanned`): a copied piece is cut where it starts and ends."""
    (times, cuts), length = clip
    for run in _uncovered(matches, times, cuts)[: CLIP.rescue_runs]:
        for item, seen in _rescue_candidates(matches, compared, run, times):
            found = _keypoint_pair(checker, item, seen, run, pictures, times)
            if found is None:
                continue
            probe, (q, r) = found
            line = (1.0, float(seen.times[r] - times[q]))  # at normal speed
            sims = seen.normalised()
            lengths = (length, item.duration or float(seen.times[-1]))
            segment = replace(
                spanned(run, line, sims, (times, seen.times), lengths, cuts), best=(q, r)
            )
            answer = SegmentMatch(
                segment,
                check=probe.check,
                mirrored=probe.mirrored,
                calibration=seen.calibration,
                distinct=distinctness(sims, times, seen.times, segment),
                pair=_pair(segment, times, seen.times, seen.ordinals),
            )
            _add_segment(matches, item, seen, answer)
            break


def _rescue_candidates(
    matches: list[Match],
    compared: list[tuple[Item, _Comparison]],
    run: list[int],
    times: np.ndarray,
) -> list[tuple[Item, _Comparison]]:
    """The `compared` references with no segment over any of the `run`'s query frames or within
    ALIGN.max_gap of them (there the descriptor lined the reference up and drew the boundary;
    a second line beside it is more likely chance than another piece), by their mean best
    similarity to those frames, at most `CLIP.rescue_items`."""
    start, end = float(times[run[0]]) - ALIGN.max_gap, float(times[run[-1]]) + ALIGN.max_gap
    lined_up = {
        m.item.id
        for m in matches
        for answer in m.segments
        if answer.segment.query[0] <= end and answer.segment.query[1] >= start
    }
    free = [(item, seen) for item, seen in compared if item.id not in lined_up]
    closeness = [-float(seen.normalised()[run].max(axis=1).mean()) for _, seen in free]
    order = np.argsort(closeness, kind="stable")
    return [free[i] for i in order[: CLIP.rescue_items]]


def _uncovered(matches: list[Match], times: np.ndarray, cuts: np.ndarray) -> list[list[int]]:
    """Runs of consecutive query frames that no flagged segment's stretch holds, each within one
    shot and at least `CLIP.rescue_frames_least` long (a stretch shorter than one sampled
    interval is no evidence on its own), longest first."""
    held = np.zeros(len(times), bool)
    for chosen in matches:
        for answer in chosen.segments:
            if answer.match:
                start, end = answer.segment.query
                held |= (times >= start) & (times <= end)
    runs: list[list[int]] = []
    for j in range(len(times)):
        if held[j]:
            continue
        if runs and runs[-1][-1] == j - 1 and not cuts[j]:
            runs[-1].append(j)
        else:
            runs.append([j])
    return sorted(
        (run for run in runs if len(run) >= CLIP.rescue_frames_least), key=len, reverse=True
    )


def _keypoint_pair(
    checker: Checker,
    item: Item,
    seen: _Comparison,
    run: list[int],
    pictures: list[Picture],
    times: np.ndarray,
) -> tuple[Match, tuple[int, int]] | None:
    """The frame pair, as an answer and its indices, that keypoints put the `run` of query
    frames on the reference with: the frame most like the reference in each of
    `CLIP.rescue_frames` equal parts of the run (where the similarities are noise, the parts
    spread the looks over the piece) is checked with ORB against its most similar reference
    frames (`CLIP.rescue_references`), and the confirmed pairs vote with their inliers for
    their line (at normal speed, within ALIGN.tolerance): footage that barely changes (a test
    pattern, a still shot) aligns at other moments too, on fewer keypoints. The pair with most
    inliers on the winning line answers; None when none is confirmed."""
    sims = seen.normalised()[run]
    alike = sims.max(axis=1)
    confirmed = []
    for part in np.array_split(np.arange(len(run)), min(CLIP.rescue_frames, len(run))):
        row = int(part[np.argmax(alike[part])])
        q = run[row]
        for r in np.argsort(-sims[row], kind="stable")[: CLIP.rescue_references]:
            probe = _checked_pair(checker, seen, item, (q, int(r)), pictures)
            if verdict.verified(probe.check):
                confirmed.append((probe, (q, int(r))))
    if not confirmed:
        return None
    offsets = np.array([seen.times[r] - times[q] for _, (q, r) in confirmed])
    inliers = np.array([probe.check.inliers for probe, _ in confirmed])
    support = [inliers[np.abs(offsets - o) <= ALIGN.tolerance].sum() for o in offsets]
    line = offsets[int(np.argmax(support))]
    on_line = np.flatnonzero(np.abs(offsets - line) <= ALIGN.tolerance)
    return confirmed[int(on_line[np.argmax(inliers[on_line])])]


def _add_segment(matches: list[Match], item: Item, seen: _Comparison, answer: SegmentMatch) -> None:
    """Adds a segment to the reference's answer (made if there was none), which then takes its
    frame, check and orientation from its best segment."""
    index = next((i for i, m in enumerate(matches) if m.item.id == item.id), None)
    earlier = [] if index is None else matches[index].segments
    ranked = sorted([*earlier, answer], key=lambda s: -s.score)
    chosen = seen.match(item, *ranked[0].segment.best, ranked)
    chosen.check, chosen.mirrored = ranked[0].check, ranked[0].mirrored
    if index is None:
        matches.append(chosen)
    else:
        matches[index] = chosen


def _checked_pair(
    checker: Checker,
    seen: _Comparison,
    item: Item,
    pair: tuple[int, int],
    pictures: list[Picture],
    robust: bool = False,
) -> Match:
    """A query frame and a reference frame (`pair`: their indices) as an answer, checked with
    ORB as a still's frame is, in the toning the clip was searched under; with SIFT too where
    ORB aligns nothing and `robust`."""
    q, r = pair
    probe = seen.match(item, q, r, [])
    probe.tone = pictures[q].tone
    probe.check = checker.verify_hit(probe, seen.hit(q, r), pictures, checker.fast)
    if robust and not verdict.aligned(probe.check):
        probe.check = checker.verify_hit(probe, seen.hit(q, r), pictures, checker.robust)
    return probe


def _settle_moment(
    checker: Checker,
    seen: _Comparison,
    answer: SegmentMatch,
    probe: Match,
    pictures: list[Picture],
    times: np.ndarray,
) -> bool:
    """Moves a confirmed segment to the moment of a fixed shot its frames show
    (Checker.offset_on_fixed_shot): on a fixed camera every stretch looks alike to the descriptor,
    so the clip lines up with whichever its similarities favour by chance; the pixels where the
    frames differ (the people and vehicles that moved) tell the moment, and the whole segment
    moves with its best pair. Whether it moved."""
    alignment = probe.check.alignment
    if alignment is None:
        return False
    q = answer.segment.best[0]
    start, end = answer.segment.query
    shown = [
        (float(times[j]), _working_gray(pictures[j], probe.mirrored, alignment.query.gray.shape))
        for j in range(len(pictures))
        if start <= times[j] <= end
    ]
    found = checker.offset_on_fixed_shot(probe, shown, float(times[q]))
    if found is None:
        return False
    settled, shift = found
    if settled.time is None or settled.frame_id is None:
        return False
    r = seen.frame_ids.index(settled.frame_id)
    start, end = answer.segment.reference
    answer.segment = replace(answer.segment, reference=(start + shift, end + shift), best=(q, r))
    answer.check = settled.check
    if answer.pair is not None:
        answer.pair = replace(
            answer.pair, reference_time=settled.time, reference_ordinal=settled.ordinal
        )
    return True


def _strays_folded(
    checker: Checker,
    item: Item,
    seen: _Comparison,
    answers: list[SegmentMatch],
    pictures: list[Picture],
    sampled: tuple[np.ndarray, np.ndarray],
) -> list[SegmentMatch]:
    """The segments, with each confirmed stray (at most CLIP.stray_frames aligned pairs) that
    touches a longer confirmed segment of the same reference, no shot starting between them,
    folded into it when keypoints also confirm the stray's best query frame on the longer one's
    line. Both then explain those frames, and the copy is most simply one stretch: on a street
    filmed from one spot the descriptor lines a frame or two up with other moments by chance."""
    times, cuts = sampled
    kept = list(answers)
    for stray in sorted(answers, key=lambda a: a.segment.frames):
        if stray.segment.frames > CLIP.stray_frames or not verdict.verified(stray.check):
            continue
        host = next((a for a in kept if segments.hosts(a, stray, times, cuts)), None)
        if host is None:
            continue
        q = stray.segment.best[0]
        nearest, off = line_frames(host.segment, times[q : q + 1], seen.times)
        r = int(nearest[0])
        if off[0] > ALIGN.tolerance:
            continue
        if verdict.verified(_checked_pair(checker, seen, item, (q, r), pictures).check):
            kept = [segments.union(host, stray) if a is host else a for a in kept if a is not stray]
    return kept


def _working_gray(picture: Picture, mirrored: bool, shape: tuple[int, ...]) -> np.ndarray:
    """A clip frame in grey, in the orientation and at the working size its keypoints were
    matched at."""
    rgb = picture.rgb[:, ::-1] if mirrored else picture.rgb
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    if gray.shape != shape[:2]:
        gray = cv2.resize(gray, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return gray
