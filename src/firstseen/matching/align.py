"""Temporal alignment: which stretches of a query video copy which stretches of a reference.

Input is the matrix of normalised descriptor similarities between the query's sampled frames and
one reference's frames. A copied stretch shows up as similar pairs on a line
`reference time = speed × query time + offset`; speed covers re-uploads played from 0.5× to 2×,
and dropped frames or a variable frame rate only move points along the line. Lines are found by
Hough voting: for each speed of a geometric grid, every candidate pair votes for its offset; the
strongest line is refined by least squares on its own pairs, cut into runs where it is
uninterrupted, and its pairs are taken out before the next line is looked for. So a compilation
yields one segment per piece, and a piece of a long source yields a segment of that length only.

Boundaries come from the fitted line, not from the sampled frames: a query boundary lies halfway
between the last sample that matched and the first that did not, or on the cut when the sample
opens a new shot (pieces of a compilation are joined by cuts, and shot starts are always
sampled); the reference boundary is its image on the line.
"""

from dataclasses import dataclass, replace

import numpy as np

from firstseen.tuning import ALIGN


def _speeds(steps: int) -> np.ndarray:
    """Speeds from 0.5× to 2×, `steps` to each doubling."""
    return 2.0 ** (np.arange(-steps, steps + 1) / steps)


_SPEEDS = _speeds(ALIGN.speed_steps)  # voted
_FINE_SPEEDS = _speeds(ALIGN.fine_speed_steps)  # the refinement's grid


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the query and the stretch of the reference it copies (seconds)."""

    query: tuple[float, float]
    reference: tuple[float, float]
    speed: float  # reference seconds per query second
    similarity: float  # mean normalised similarity of the aligned frame pairs
    frames: int  # aligned frame pairs
    best: tuple[int, int]  # (query, reference) frame indices of the most similar pair, or the
    # one keypoints confirmed (matching/clip.py)

    @property
    def offset(self) -> float:
        """The segment's line: reference time = speed × query time + this."""
        return self.reference[0] - self.speed * self.query[0]

    @property
    def score(self) -> float:
        """Mean similarity, discounted for very short evidence: one frame pair could be chance,
        three in a line hardly."""
        return self.similarity * (1.0 - ALIGN.short_discount ** min(self.frames, ALIGN.full_pairs))


def align(
    sims: np.ndarray,
    query_times: np.ndarray,
    reference_times: np.ndarray,
    query_length: float,
    reference_length: float,
    query_cuts: np.ndarray | None = None,
) -> list[Segment]:
    """Segments of the query copied from the reference, best first.

    `sims[i, j]` is the normalised similarity of query frame i (at `query_times[i]`) and reference
    frame j; the lengths (seconds) bound the segments; `query_cuts[i]` is true when query frame i
    opens a new shot.
    """
    cuts = np.zeros(len(query_times), bool) if query_cuts is None else query_cuts
    pairs = _candidate_pairs(sims)
    if not len(pairs):
        return []
    q, r = query_times[pairs[:, 0]], reference_times[pairs[:, 1]]
    weight = sims[pairs[:, 0], pairs[:, 1]]
    free = np.ones(len(pairs), bool)
    segments: list[Segment] = []
    while len(segments) < ALIGN.max_segments and free.any():
        line = _strongest_line(q, r, weight, free)
        if line is None:
            break
        near = free & (np.abs(r - (line[0] * q + line[1])) <= ALIGN.tolerance)
        rows = np.unique(pairs[near, 0])
        speed, offset = _refine(sims, (query_times, reference_times), rows, *line)
        on_line = free & (np.abs(r - (speed * q + offset)) <= ALIGN.tolerance)
        for whole in _runs(pairs, q, weight, on_line):
            for run in _split_at_steps(whole, pairs, weight, cuts):
                segment = _segment(
                    run,
                    pairs,
                    q,
                    weight,
                    query_times,
                    cuts,
                    (speed, offset),
                    (query_length, reference_length),
                )
                segments.append(segment)
                # Copying is one to one: once a stretch is explained, other pairs of its query
                # frames or of its reference frames (the same static shot at other times) no
                # longer vote.
                free &= (q < segment.query[0]) | (q > segment.query[1])
                free &= (r < segment.reference[0]) | (r > segment.reference[1])
        # The voted pairs go too, so every round makes progress even if refining moved the line.
        free &= ~(on_line | near)
    return sorted(segments, key=lambda s: -s.score)


def regrown(
    segment: Segment,
    sims: np.ndarray,
    times: tuple[np.ndarray, np.ndarray],
    lengths: tuple[float, float],
    query_cuts: np.ndarray,
) -> Segment:
    """`segment`, put on its line by other evidence (the moment of a fixed shot), over the query
    frames around it that vote for that line: each query frame's reference frame on the line
    within ALIGN.tolerance at ALIGN.pair_min or more, up to a cut or the first frame that does
    not, with the boundaries `align` would draw. Its best pair stays its own. `times` are the
    query's and the reference's frame times, `lengths` their durations."""
    query_times, reference_times = times
    nearest, off = line_frames(segment, query_times, reference_times)
    on_line = sims[np.arange(len(query_times)), nearest]
    votes = (off <= ALIGN.tolerance) & (on_line >= ALIGN.pair_min)
    inside = np.flatnonzero((query_times >= segment.query[0]) & (query_times <= segment.query[1]))
    if not len(inside):
        return segment
    first, last = int(inside.min()), int(inside.max())
    while first > 0 and votes[first - 1] and not query_cuts[first]:
        first -= 1
    while last + 1 < len(query_times) and votes[last + 1] and not query_cuts[last + 1]:
        last += 1
    run = [j for j in range(first, last + 1) if votes[j]]
    if not run:
        return segment
    grown = spanned(run, (segment.speed, segment.offset), sims, times, lengths, query_cuts)
    return replace(grown, best=segment.best)


def spanned(
    frames: list[int],
    line: tuple[float, float],
    sims: np.ndarray,
    times: tuple[np.ndarray, np.ndarray],
    lengths: tuple[float, float],
    query_cuts: np.ndarray,
) -> Segment:
    """A segment over query frames `frames` (indices, in order) on `line` (speed, offset) that
    other evidence set (keypoints, the moment of a fixed shot), whatever their similarities,
    with the boundaries `align` would draw; its best pair the most similar on the line. `times`
    are the query's and the reference's frame times, `lengths` their durations."""
    query_times, reference_times = times
    nearest, _ = _on_line(line, query_times, reference_times)
    rows = np.arange(len(query_times))
    pairs = np.stack([rows, nearest], axis=1)
    return _segment(
        list(frames),
        pairs,
        query_times,
        sims[rows, nearest],
        query_times,
        query_cuts,
        line,
        lengths,
    )


def line_frames(
    segment: Segment, query_times: np.ndarray, reference_times: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each query frame's reference frame nearest the segment's line, and how far (seconds) that
    frame lies off the line there."""
    return _on_line((segment.speed, segment.offset), query_times, reference_times)


def _on_line(
    line: tuple[float, float], query_times: np.ndarray, reference_times: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`line_frames` for a line given as (speed, offset)."""
    speed, offset = line
    targets = speed * query_times + offset
    nearest = np.abs(reference_times[None, :] - targets[:, None]).argmin(axis=1)
    return nearest, np.abs(reference_times[nearest] - targets)


def _candidate_pairs(sims: np.ndarray) -> np.ndarray:
    """(query frame, reference frame) pairs: each query frame's most similar reference frames,
    when similar enough to mean something."""
    k = min(ALIGN.pairs_per_frame, sims.shape[1])
    best = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(sims.shape[0]), k)
    cols = best.ravel()
    keep = sims[rows, cols] >= ALIGN.pair_min
    return np.stack([rows[keep], cols[keep]], axis=1)


def _strongest_line(
    q: np.ndarray, r: np.ndarray, weight: np.ndarray, free: np.ndarray
) -> tuple[float, float] | None:
    """(speed, offset) with the most similarity on it, one vote per pair and speed."""
    best, found = ALIGN.min_votes, None
    qf, rf, wf = q[free], r[free], weight[free]
    for speed in _SPEEDS:
        offsets = rf - speed * qf
        order = np.argsort(offsets)
        sorted_offsets, sorted_weight = offsets[order], wf[order]
        cumulative = np.concatenate([[0.0], np.cumsum(sorted_weight)])
        # Votes within ±tolerance of each pair's own offset, by two binary searches.
        lo = np.searchsorted(sorted_offsets, sorted_offsets - ALIGN.tolerance, "left")
        hi = np.searchsorted(sorted_offsets, sorted_offsets + ALIGN.tolerance, "right")
        votes = (cumulative[hi] - cumulative[lo]) * (1 - ALIGN.speed_prior * abs(np.log2(speed)))
        top = int(np.argmax(votes))
        if votes[top] > best:
            members = slice(lo[top], hi[top])
            offset = float(np.average(sorted_offsets[members], weights=sorted_weight[members]))
            best, found = float(votes[top]), (float(speed), offset)
    return found


def _refine(
    sims: np.ndarray,
    times: tuple[np.ndarray, np.ndarray],
    rows: np.ndarray,
    speed: float,
    offset: float,
) -> tuple[float, float]:
    """The line through the query frames `rows` along which the similarity is highest on
    average, reading the matrix between reference samples by linear interpolation: a line that
    passes between the samples of a moving shot loses, one through them wins, and on a static
    shot, where every line scores alike, the speed prior keeps normal speed. Searched on a fine
    grid of speeds (3 % apart) and offsets (0.1 s) around the voted line's centre."""
    query_times, reference_times = times
    if len(reference_times) < 2:
        return speed, offset
    q = query_times[rows]
    centre_q, centre_r = float(q.mean()), float(speed * q.mean() + offset)
    steps = np.arange(-ALIGN.tolerance, ALIGN.tolerance + 1e-9, ALIGN.offset_step)
    best, found = -np.inf, (speed, offset)
    for candidate in _FINE_SPEEDS:
        offsets = centre_r - candidate * centre_q + steps
        r = candidate * q[None, :] + offsets[:, None]
        right = np.clip(np.searchsorted(reference_times, r), 1, len(reference_times) - 1)
        t0, t1 = reference_times[right - 1], reference_times[right]
        share = np.clip((r - t0) / np.maximum(t1 - t0, 1e-6), 0.0, 1.0)
        value = sims[rows, right - 1] * (1 - share) + sims[rows, right] * share
        # Off the ends of the reference nothing is copied.
        value[
            (r < reference_times[0] - ALIGN.reference_lead)
            | (r > reference_times[-1] + ALIGN.reference_tail)
        ] = 0.0
        means = value.mean(axis=1) * (1 - ALIGN.fine_prior * abs(np.log2(candidate)))
        top = int(np.argmax(means))
        if means[top] > best:
            best, found = float(means[top]), (float(candidate), float(offsets[top]))
    return found


def _one_per_frame(pairs: np.ndarray, weight: np.ndarray, on: np.ndarray) -> list[int]:
    """Indices of the most similar selected pair of each query frame."""
    chosen: dict[int, int] = {}
    for index in np.flatnonzero(on):
        frame = int(pairs[index, 0])
        if frame not in chosen or weight[index] > weight[chosen[frame]]:
            chosen[frame] = int(index)
    return list(chosen.values())


def _runs(pairs: np.ndarray, q: np.ndarray, weight: np.ndarray, on_line: np.ndarray):
    """Pair indices of each uninterrupted stretch of the line, one pair per query frame."""
    ordered = sorted(_one_per_frame(pairs, weight, on_line), key=lambda i: q[i])
    run: list[int] = []
    for index in ordered:
        if run and q[index] - q[run[-1]] > ALIGN.max_gap:
            yield run
            run = []
        run.append(index)
    if run:
        yield run


def _split_at_steps(
    run: list[int], pairs: np.ndarray, weight: np.ndarray, cuts: np.ndarray
) -> list[list[int]]:
    """The run (pair indices in query order) split at each shot start where the similarity along
    the line steps: the pairs on one side average less than ALIGN.cut_step of the other's, and
    each side spans two sampled frames or more (a lone frame after a cut, a transition or an end
    card, is too little to tell). A copy set into other footage starts at a cut, and the footage
    before it may line up weakly on the same line (another shot of the same terrain); the step,
    not the line, tells where the copy begins. The largest step is split first, then each side
    again."""
    frames = pairs[run, 0]
    sides = {  # at each shot start inside the run with two frames or more on each side
        k: (weight[run[:k]].mean(), weight[run[k:]].mean())
        for k in range(1, len(run))
        if cuts[frames[k]] and frames[k] - frames[0] >= 2 and frames[-1] - frames[k] + 1 >= 2
    }
    steps = [k for k, (a, b) in sides.items() if min(a, b) < ALIGN.cut_step * max(a, b)]
    if not steps:
        return [run]
    k = max(steps, key=lambda i: abs(sides[i][0] - sides[i][1]))
    return _split_at_steps(run[:k], pairs, weight, cuts) + _split_at_steps(
        run[k:], pairs, weight, cuts
    )


def _segment(
    run: list[int],
    pairs: np.ndarray,
    q: np.ndarray,
    weight: np.ndarray,
    query_times: np.ndarray,
    cuts: np.ndarray,
    line: tuple[float, float],
    lengths: tuple[float, float],
) -> Segment:
    (speed, offset), (query_length, reference_length) = line, lengths
    first, last = q[run[0]], q[run[-1]]
    before = np.flatnonzero(query_times < first)
    after = np.flatnonzero(query_times > last)
    # On a cut; else halfway to the neighbouring samples that did not match; else the clip's ends.
    opening = np.flatnonzero(query_times == first)
    if len(opening) and cuts[opening[0]]:
        start = first
    else:
        start = (first + query_times[before].max()) / 2 if len(before) else 0.0
    if len(after):
        following = after[np.argmin(query_times[after])]
        end = query_times[following] if cuts[following] else (last + query_times[following]) / 2
    else:
        end = query_length
    # Neither stretch may run past the ends of its video: clip both together along the line.
    start = max(start, -offset / speed)
    end = max(min(end, (reference_length - offset) / speed), start)
    r_start = min(max(speed * start + offset, 0.0), reference_length)
    r_end = min(max(speed * end + offset, r_start), reference_length)
    top = max(run, key=lambda i: weight[i])
    return Segment(
        query=(round(float(start), 2), round(float(end), 2)),
        reference=(round(float(r_start), 2), round(float(r_end), 2)),
        speed=round(speed, 3),
        similarity=float(np.mean(weight[run])),
        frames=len(run),
        best=(int(pairs[top, 0]), int(pairs[top, 1])),
    )


def distinctness(
    sims: np.ndarray, query_times: np.ndarray, reference_times: np.ndarray, segment: Segment
) -> float:
    """How far the segment's aligned pairs stand above what the same query frames reach with
    the rest of the reference (the mean, over its query frames, of the best similarity near the
    line less the median over all reference frames). A copy peaks on its line; another
    recording that merely looks alike all along (another map of the same game, mostly road and
    sky) is about as similar everywhere."""
    (start, end), offset = segment.query, segment.reference[0]
    gaps = []
    for row in np.flatnonzero((query_times >= start) & (query_times <= end)):
        expected = offset + segment.speed * (query_times[row] - start)
        near = np.abs(reference_times - expected) <= ALIGN.tolerance
        if near.any():
            gaps.append(float(sims[row, near].max() - np.median(sims[row])))
    return float(np.mean(gaps)) if gaps else 0.0
