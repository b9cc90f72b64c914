"""Segments of a clip after their check: what a segment moved to its moment explains or
continues (matching/clip.py moves them), and the strays a longer segment may take in. Copying is
one to one: a stretch of the query shows one stretch of a reference."""

from dataclasses import replace

import numpy as np

from firstseen.matching import verdict
from firstseen.matching.results import SegmentMatch
from firstseen.tuning import ALIGN


def joined(answers: list[SegmentMatch], moved: list[SegmentMatch]) -> list[SegmentMatch]:
    """The segments once some were moved to their moment (`moved`): those a moved one's stretch
    of the query holds are dropped (copying is one to one: that stretch shows nothing else), and
    each pair that touch in the query and lie on one line (the same speed, offsets within
    ALIGN.tolerance), one of them moved, are made one: the longer one's line, check and frame
    pair over both stretches. A fixed shot's clip split where the descriptor lined one stretch up
    elsewhere is whole again."""
    settled = {id(answer) for answer in moved}  # SegmentMatch compares by value
    kept = [
        answer
        for answer in answers
        if id(answer) in settled or not any(within(answer, other) for other in moved)
    ]
    result: list[SegmentMatch] = []
    for answer in sorted(kept, key=lambda a: a.segment.query[0]):
        last = result[-1] if result else None
        if last is not None and settled & {id(last), id(answer)} and on_one_line(last, answer):
            result[-1] = union(last, answer)
            settled.add(id(result[-1]))
        else:
            result.append(answer)
    return result


def hosts(host: SegmentMatch, stray: SegmentMatch, times: np.ndarray, cuts: np.ndarray) -> bool:
    """Whether `host` is a longer confirmed segment that `stray` touches in the query with no
    shot starting between them."""
    if host is stray or host.segment.frames <= stray.segment.frames:
        return False
    if not verdict.verified(host.check):
        return False
    first, second = sorted((host.segment, stray.segment), key=lambda s: s.query[0])
    if second.query[0] - first.query[1] > ALIGN.max_gap:
        return False
    between = (times > first.query[1]) & (times <= second.query[0])
    return not bool(cuts[between].any())


def within(answer: SegmentMatch, other: SegmentMatch) -> bool:
    """Whether `answer`'s stretch of the query lies inside `other`'s."""
    start, end = answer.segment.query
    return other.segment.query[0] <= start and end <= other.segment.query[1]


def on_one_line(a: SegmentMatch, b: SegmentMatch) -> bool:
    """Whether two segments, in query order, touch (or overlap) in the query and put it on the
    same reference times within ALIGN.tolerance over both stretches."""
    first, second = a.segment, b.segment
    if second.query[0] - first.query[1] > ALIGN.max_gap:
        return False
    ends = np.array([first.query[0], max(first.query[1], second.query[1])])
    apart = first.offset + first.speed * ends - (second.offset + second.speed * ends)
    return bool(np.abs(apart).max() <= ALIGN.tolerance)


def union(a: SegmentMatch, b: SegmentMatch) -> SegmentMatch:
    """Both segments' stretches of the query as one, on the line of the one with more aligned
    pairs, with its check and frame pair."""
    longer = a if a.segment.frames >= b.segment.frames else b
    line = longer.segment
    start = min(a.segment.query[0], b.segment.query[0])
    end = max(a.segment.query[1], b.segment.query[1])
    frames = a.segment.frames + b.segment.frames
    similarity = (
        a.segment.similarity * a.segment.frames + b.segment.similarity * b.segment.frames
    ) / frames
    offset = line.offset
    segment = replace(
        line,
        query=(start, end),
        reference=(offset + line.speed * start, offset + line.speed * end),
        similarity=similarity,
        frames=frames,
    )
    return replace(longer, segment=segment)
