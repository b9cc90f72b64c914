"""Scoring of video answers: VSC2022's matching-track metric, boundary errors, false matches.

Segment µAP follows the definition of facebookresearch/vsc2022 `vsc/metrics.py` (`match_metric`,
itself the VCSL protocol made global): every predicted segment pair (query interval, reference
interval, score) of every query, negatives included, is pooled and ranked by score; predictions
with equal scores enter together. After each score group, on each axis (query time, reference
time):

- intersection = for every (query, reference) video pair, the length of the union of its
  predicted intervals on that axis intersected with the union of its ground-truth intervals on
  that axis, counting only ground-truth segments whose 2-D box (query x reference interval)
  overlaps some prediction of the pair so far; summed over pairs;
- total predicted = sum over pairs of the length of the union of predicted intervals;
- precision = intersection / total predicted, recall = intersection / total ground-truth length
  (union per pair, summed).

Precision and recall of the two axes are combined by geometric mean, and AP = sum of
precision x recall gained over the ranking. Predictions for a pair with no ground truth add to
"total predicted" only. The pairwise µAP is VSC's auxiliary metric: each (query, reference) pair
scored by its best segment, AP against the pairs that share any copied time (ties pessimistic).

Operational counts use each segment's `match` flag (the anchor flags all of its segments):
ground-truth segments *found* (a flagged prediction on the right reference whose box overlaps
the ground-truth box), the boundary error of each found segment (mean of the absolute errors of
its four ends, in seconds, against the overlapping flagged prediction with the largest box
overlap; *within 1 s* means all four ends are), flagged segments on negatives, flagged segments
on a reference the query does not copy (*wrong file*), and flagged segments on the right file
whose box overlaps no ground truth (*misplaced*).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BOUNDARY_TOLERANCE = 1.0


@dataclass(frozen=True)
class Seg:
    """A ground-truth or predicted segment pair, times in seconds."""

    query: str
    ref: str
    qs: float
    qe: float
    rs: float
    re: float
    score: float = 1.0
    match: bool = True

    @property
    def pair(self) -> tuple[str, str]:
        return (self.query, self.ref)

    def overlap_area(self, other: Seg) -> float:
        q = min(self.qe, other.qe) - max(self.qs, other.qs)
        r = min(self.re, other.re) - max(self.rs, other.rs)
        return max(q, 0.0) * max(r, 0.0)

    def overlaps(self, other: Seg) -> bool:
        return self.overlap_area(other) > 0.0

    def interval(self, axis: int) -> tuple[float, float]:
        return (self.qs, self.qe) if axis == 0 else (self.rs, self.re)


def canonical(path: str) -> str:
    return str(Path(path).resolve())


# ---------------------------------------------------------------- interval arithmetic


def union(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted, disjoint; touching intervals merge."""
    out: list[tuple[float, float]] = []
    for a, b in sorted((min(a, b), max(a, b)) for a, b in intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def length(intervals: Iterable[tuple[float, float]]) -> float:
    return sum(b - a for a, b in union(intervals))


def intersection(a: Iterable[tuple[float, float]], b: Iterable[tuple[float, float]]) -> float:
    """|A n B| = |A| + |B| - |A u B|."""
    a, b = list(a), list(b)
    return length(a) + length(b) - length(a + b)


# ---------------------------------------------------------------- VSC2022 matching track


@dataclass
class _Pair:
    gts: list[Seg] = field(default_factory=list)
    preds: list[Seg] = field(default_factory=list)
    inter: list[float] = field(default_factory=lambda: [0.0, 0.0])
    total: list[float] = field(default_factory=lambda: [0.0, 0.0])

    def add(self, pred: Seg) -> tuple[list[float], list[float]]:
        """Add one prediction; the change in intersection and predicted length per axis."""
        self.preds.append(pred)
        live = [g for g in self.gts if any(g.overlaps(p) for p in self.preds)]
        d_inter, d_total = [0.0, 0.0], [0.0, 0.0]
        for axis in (0, 1):
            p = [x.interval(axis) for x in self.preds]
            inter = intersection(p, [g.interval(axis) for g in live])
            total = length(p)
            d_inter[axis], d_total[axis] = inter - self.inter[axis], total - self.total[axis]
            self.inter[axis], self.total[axis] = inter, total
        return d_inter, d_total


@dataclass
class SegmentAP:
    ap: float
    precisions: list[float]
    recalls: list[float]
    scores: list[float]


def segment_ap(gts: Sequence[Seg], preds: Sequence[Seg]) -> SegmentAP:
    """VSC2022 matching-track µAP over pooled predictions (see the module docstring)."""
    pairs: dict[tuple[str, str], _Pair] = defaultdict(_Pair)
    for g in gts:
        pairs[g.pair].gts.append(g)
    gt_total = [0.0, 0.0]
    for p in pairs.values():
        for axis in (0, 1):
            gt_total[axis] += length(g.interval(axis) for g in p.gts)
    if not gt_total[0] or not gt_total[1]:
        return SegmentAP(float("nan"), [], [], [])
    ranked = sorted(preds, key=lambda s: s.score, reverse=True)
    inter, total = [0.0, 0.0], [0.0, 0.0]
    recall = ap = 0.0
    out = SegmentAP(0.0, [], [], [])
    i = 0
    while i < len(ranked):
        score = ranked[i].score
        while i < len(ranked) and ranked[i].score == score:
            d_inter, d_total = pairs[ranked[i].pair].add(ranked[i])
            for axis in (0, 1):
                inter[axis] += d_inter[axis]
                total[axis] += d_total[axis]
            i += 1
        r = math.sqrt(max(inter[0], 0.0) / gt_total[0] * max(inter[1], 0.0) / gt_total[1])
        p = math.sqrt(
            (inter[0] / total[0] if total[0] > 0 else 0.0)
            * (inter[1] / total[1] if total[1] > 0 else 0.0)
        )
        if r > recall:
            ap += p * (r - recall)
            out.precisions.append(p)
            out.recalls.append(r)
            out.scores.append(score)
        recall = r
    out.ap = ap
    return out


def pair_ap(gts: Sequence[Seg], preds: Sequence[Seg]) -> float:
    """VSC2022's auxiliary pairwise µAP: a pair's score is its best segment's; ties are broken
    pessimistically (wrong pairs first)."""
    truth = {g.pair for g in gts}
    if not truth:
        return float("nan")
    best: dict[tuple[str, str], float] = {}
    for p in preds:
        best[p.pair] = max(p.score, best.get(p.pair, -math.inf))
    ranked = sorted(best.items(), key=lambda kv: (kv[1], kv[0] not in truth), reverse=True)
    y = np.array([k in truth for k, _ in ranked], dtype=bool)
    if not len(y):
        return 0.0
    precision = np.cumsum(y) / np.arange(1, len(y) + 1)
    return float((precision * y).sum() / len(truth))


# ---------------------------------------------------------------- operating point


@dataclass
class Found:
    """A ground-truth segment and the flagged prediction that best overlaps it (or None)."""

    gt: Seg
    pred: Seg | None

    @property
    def errors(self) -> list[float] | None:
        if self.pred is None:
            return None
        g, p = self.gt, self.pred
        return [abs(p.qs - g.qs), abs(p.qe - g.qe), abs(p.rs - g.rs), abs(p.re - g.re)]

    @property
    def mean_error(self) -> float | None:
        e = self.errors
        return statistics.fmean(e) if e else None

    @property
    def within(self) -> bool:
        e = self.errors
        return e is not None and max(e) <= BOUNDARY_TOLERANCE


def find(gts: Sequence[Seg], preds: Sequence[Seg]) -> list[Found]:
    flagged: dict[tuple[str, str], list[Seg]] = defaultdict(list)
    for p in preds:
        if p.match:
            flagged[p.pair].append(p)
    out = []
    for g in gts:
        cands = [(g.overlap_area(p), p) for p in flagged[g.pair]]
        cands = [c for c in cands if c[0] > 0]
        out.append(Found(g, max(cands, key=lambda c: c[0])[1] if cands else None))
    return out


def stray(gts: Sequence[Seg], preds: Sequence[Seg]) -> tuple[list[Seg], list[Seg]]:
    """Flagged predictions on a reference the query does not copy (including every flagged
    prediction of a negative), and flagged ones on the right reference that overlap no ground
    truth box."""
    truth: dict[tuple[str, str], list[Seg]] = defaultdict(list)
    for g in gts:
        truth[g.pair].append(g)
    wrong, misplaced = [], []
    for p in preds:
        if not p.match:
            continue
        if p.pair not in truth:
            wrong.append(p)
        elif not any(g.overlaps(p) for g in truth[p.pair]):
            misplaced.append(p)
    return wrong, misplaced


def summarise(
    gts: Sequence[Seg],
    preds: Sequence[Seg],
    queries: Sequence[str],
    negatives: Sequence[str],
) -> dict:
    """The headline numbers for one system over one set of queries."""
    qset = set(queries)
    gts = [g for g in gts if g.query in qset]
    preds = [p for p in preds if p.query in qset]
    found = find(gts, preds)
    hits = [f for f in found if f.pred is not None]
    wrong, misplaced = stray(gts, preds)
    neg = set(negatives)
    return {
        "queries": len(qset),
        "negatives": len(neg & qset),
        "gt_segments": len(gts),
        "gt_seconds": sum(g.qe - g.qs for g in gts),
        "segment_ap": segment_ap(gts, preds).ap,
        "pair_ap": pair_ap(gts, preds),
        "found": len(hits),
        "boundary_mean": statistics.fmean(f.mean_error or 0.0 for f in hits) if hits else None,
        "boundary_median": statistics.median(f.mean_error or 0.0 for f in hits) if hits else None,
        "within_1s": sum(f.within for f in hits),
        "false_match_negatives": len({p.query for p in wrong if p.query in neg}),
        "false_segments_negatives": sum(p.query in neg for p in wrong),
        "wrong_file": sum(p.query not in neg for p in wrong),
        "wrong_file_queries": len({p.query for p in wrong if p.query not in neg}),
        "misplaced": len(misplaced),
    }


# ---------------------------------------------------------------- toy checks


def self_check() -> None:
    """The metric on toy inputs whose answers are known; raises AssertionError if wrong."""

    def close(a: float, b: float) -> bool:
        return abs(a - b) < 1e-9

    gt = [Seg("q1", "r1", 0, 10, 20, 30)]
    assert close(segment_ap(gt, [Seg("q1", "r1", 0, 10, 20, 30, 0.9)]).ap, 1.0)
    # half the copied time, all of it right: precision 1, recall 0.5
    assert close(segment_ap(gt, [Seg("q1", "r1", 0, 5, 20, 25, 0.9)]).ap, 0.5)
    # a prediction twice as long on both axes: precision 0.5 at recall 1
    assert close(segment_ap(gt, [Seg("q1", "r1", 0, 20, 20, 40, 0.9)]).ap, 0.5)
    # the wrong reference scores nothing; ranked above the right one it halves precision
    assert close(segment_ap(gt, [Seg("q1", "r2", 0, 10, 20, 30, 0.9)]).ap, 0.0)
    two = [Seg("q1", "r2", 0, 10, 20, 30, 0.9), Seg("q1", "r1", 0, 10, 20, 30, 0.8)]
    assert close(segment_ap(gt, two).ap, 0.5)
    # right reference, disjoint box (wrong part of the video): no recall
    assert close(segment_ap(gt, [Seg("q1", "r1", 0, 10, 50, 60, 0.9)]).ap, 0.0)
    # a compilation: two ground-truth segments, found one after the other
    gt2 = [Seg("q1", "r1", 0, 5, 10, 15), Seg("q1", "r2", 5, 10, 0, 5)]
    both = [Seg("q1", "r1", 0, 5, 10, 15, 0.9), Seg("q1", "r2", 5, 10, 0, 5, 0.8)]
    assert close(segment_ap(gt2, both).ap, 1.0)
    # a negative's prediction ranked first: precision 0.5 for the one true segment after it
    neg = [Seg("n1", "r1", 0, 10, 20, 30, 0.95), Seg("q1", "r1", 0, 10, 20, 30, 0.9)]
    assert close(segment_ap(gt, neg).ap, 0.5)
    # equal scores enter together
    tie = [Seg("n1", "r1", 0, 10, 20, 30, 0.9), Seg("q1", "r1", 0, 10, 20, 30, 0.9)]
    assert close(segment_ap(gt, tie).ap, 0.5)
    assert close(pair_ap(gt, [Seg("q1", "r1", 0, 1, 0, 1, 0.5)]), 1.0)
    assert close(pair_ap(gt, tie), 0.5)
    # boundaries and stray flags
    f = find(gt, [Seg("q1", "r1", 0.5, 10, 20, 31.5, 0.9)])[0]
    assert f.errors == [0.5, 0.0, 0.0, 1.5] and not f.within and close(f.mean_error or 0, 0.5)
    wrong, misplaced = stray(gt, [Seg("q1", "r2", 0, 1, 0, 1), Seg("q1", "r1", 0, 1, 50, 51)])
    assert len(wrong) == 1 and len(misplaced) == 1
    s = summarise(
        gt,
        [Seg("q1", "r1", 0, 10, 20, 30, 0.9), Seg("n1", "r1", 0, 3, 0, 3, 0.1)],
        ["q1", "n1"],
        ["n1"],
    )
    assert s["false_match_negatives"] == 1 and s["found"] == 1 and s["within_1s"] == 1
