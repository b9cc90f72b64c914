"""Scoring of one system's answers against the ground truth.

µAP follows ISC2021 (facebookresearch/isc2021, isc/metrics.py): every (query, reference, score)
prediction of every query, negatives included, is pooled and ranked by score, ties broken
pessimistically (false before true), and average precision is taken against the number of
positive queries. Recall@1 uses the same pessimistic rank: a tie with a wrong reference is a
miss. The rest are the issue's operational counts, taken from each prediction's match flag.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TIME_TOLERANCE = 2.0


@dataclass
class Prediction:
    ref: str
    score: float
    match: bool
    time: float | None = None
    region: list[float] | None = None
    raw: dict | None = None  # the system's own fields, kept for the per-query dump


@dataclass
class Result:
    preds: list[Prediction]
    elapsed_ms: float | None = None
    error: str | None = None


@dataclass
class Truth:
    """What a query should find: `ref` None for negatives; region in the reference's pixels."""

    ref: str | None
    edit: str = ""
    group: str = ""
    time: float | None = None
    region: list[float] | None = None
    is_crop: bool = False
    from_video: bool = False


@dataclass
class Verdict:
    """Per-query outcome for one system, kept for the JSON dump and the breakdowns."""

    correct: bool = False  # the true reference ranks first (pessimistic ties)
    flagged: bool = False  # the true reference is returned with match=true
    wrong: int = 0  # other references returned with match=true
    time_ok: bool | None = None
    # The moment lies within the stretch the answer says shows the same picture (a still shot).
    stretch_ok: bool | None = None
    iou: float | None = None
    gt_score: float | None = None
    top: dict = field(default_factory=dict)


def same_file(a: str, b: str | None) -> bool:
    return b is not None and (a == b or Path(a).resolve() == Path(b).resolve())


def micro_ap(truths: dict[str, Truth], results: dict[str, Result]) -> float:
    scores: list[float] = []
    labels: list[bool] = []
    for qid, truth in truths.items():
        seen: set[str] = set()
        for p in results[qid].preds if qid in results else []:
            key = str(Path(p.ref).resolve())
            if key in seen:  # ISC rejects duplicate pairs; keep the first (best) one
                continue
            seen.add(key)
            scores.append(p.score)
            labels.append(same_file(p.ref, truth.ref))
    positives = sum(t.ref is not None for t in truths.values())
    if not positives:
        return float("nan")
    order = sorted(range(len(scores)), key=lambda i: (scores[i], not labels[i]), reverse=True)
    y = np.array([labels[i] for i in order], dtype=bool)
    tp = np.cumsum(y)
    precision = tp / np.arange(1, len(y) + 1)
    recall = tp / positives
    gained = np.diff(np.concatenate([[0.0], recall]))
    return float((gained * precision).sum())


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - w * h
    return w * h / union if union > 0 else 0.0


def judge(truth: Truth, result: Result | None) -> Verdict:
    preds = result.preds if result else []
    v = Verdict()
    if preds:
        p = preds[0]
        v.top = {
            "ref": p.ref,
            "score": p.score,
            "match": p.match,
            "time": p.time,
            "region": p.region,
            **({"raw": p.raw} if p.raw else {}),
        }
    if truth.ref is None:
        v.wrong = sum(p.match for p in preds)
        return v
    gt = [p for p in preds if same_file(p.ref, truth.ref)]
    if gt:
        v.gt_score = gt[0].score
        v.flagged = gt[0].match
        v.correct = all(p.score < gt[0].score for p in preds if not same_file(p.ref, truth.ref))
    v.wrong = sum(p.match for p in preds if not same_file(p.ref, truth.ref))
    if truth.from_video and truth.time is not None:
        v.time_ok = bool(
            v.correct and gt[0].time is not None and abs(gt[0].time - truth.time) <= TIME_TOLERANCE
        )
        span = (gt[0].raw or {}).get("time_span") if v.correct else None
        v.stretch_ok = v.time_ok or bool(
            span and span[0] - TIME_TOLERANCE <= truth.time <= span[1] + TIME_TOLERANCE
        )
    if truth.region is not None:
        found = gt[0].region if v.correct else None
        v.iou = iou(found, truth.region) if found else 0.0
    return v


def summarise(
    truths: dict[str, Truth], results: dict[str, Result]
) -> tuple[dict, dict[str, Verdict]]:
    """The headline numbers (raw counts too, for the JSON) and each query's verdict."""
    verdicts = {qid: judge(t, results.get(qid)) for qid, t in truths.items()}
    pos = [q for q, t in truths.items() if t.ref is not None]
    neg = [q for q, t in truths.items() if t.ref is None]
    timed = [q for q in pos if truths[q].from_video and truths[q].time is not None]
    crops = [q for q in pos if truths[q].is_crop]
    elapsed = [r.elapsed_ms for r in results.values() if r.elapsed_ms is not None]
    errors = sum(1 for r in results.values() if r.error)
    missed = sum(not verdicts[q].flagged for q in pos)
    summary = {
        "positives": len(pos),
        "negatives": len(neg),
        "micro_ap": micro_ap(truths, results),
        "recall_at_1": sum(verdicts[q].correct for q in pos) / len(pos) if pos else math.nan,
        "not_flagged": missed,
        "wrong_attributions": sum(verdicts[q].wrong for q in pos),
        "queries_with_wrong_attribution": sum(verdicts[q].wrong > 0 for q in pos),
        "false_match_negatives": sum(verdicts[q].wrong > 0 for q in neg),
        "video_queries": len(timed),
        "video_top1_right": sum(verdicts[q].correct for q in timed),
        "time_within_2s": sum(bool(verdicts[q].time_ok) for q in timed),
        # Issue 17's target counts the flagged ones: a time on an unflagged answer is no claim.
        "video_flagged": sum(verdicts[q].correct and verdicts[q].flagged for q in timed),
        "flagged_time_within_2s": sum(
            bool(verdicts[q].time_ok) and verdicts[q].flagged for q in timed
        ),
        "flagged_stretch_within_2s": sum(
            bool(verdicts[q].stretch_ok) and verdicts[q].flagged for q in timed
        ),
        "crop_queries": len(crops),
        "crop_iou_mean": statistics.fmean(verdicts[q].iou or 0.0 for q in crops) if crops else None,
        "crop_iou_localised": _mean(verdicts[q].iou for q in crops if verdicts[q].correct),
        "median_ms_per_query": statistics.median(elapsed) if elapsed else None,
        "errors": errors,
    }
    return summary, verdicts


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v or 0.0 for v in values]
    return statistics.fmean(vals) if vals else None


def breakdown(
    truths: dict[str, Truth], verdicts: dict[str, Verdict], positive: bool = True
) -> dict:
    """Per edit (positives) or per negative kind: counts of correct / flagged / wrong."""
    rows: dict[str, dict] = defaultdict(
        lambda: {"n": 0, "correct": 0, "flagged": 0, "wrong": 0, "ious": []}
    )
    for qid, t in truths.items():
        if (t.ref is not None) != positive:
            continue
        row = rows[t.edit if positive else t.group]
        v = verdicts[qid]
        row["n"] += 1
        row["correct"] += v.correct
        row["flagged"] += v.flagged
        row["wrong"] += v.wrong > 0
        if v.iou is not None and t.region is not None:
            row["ious"].append(v.iou)
    return {
        k: {
            **{x: y for x, y in r.items() if x != "ious"},
            "iou": statistics.fmean(r["ious"]) if r["ious"] else None,
        }
        for k, r in sorted(rows.items())
    }
