"""The JSON contract of search answers, one definition for the CLI, the HTTP API and the reports.

The fields `query`, `error`, `matches[].{path, kind, time, score, match, region, url, title,
published}` and, for video queries, `matches[].segments[].{query, reference, score, match}` are a
stable contract; the others may grow. Times in a video are given in seconds, and written for
people as `clock` writes them. `credentials` and `metadata` (the query's at the top, each
archived file's on its match) are what the file says about itself: media/credentials.py and
media/embedded.py give their states and fields; the raw metadata is left to the report.
"""

import copy
import math
from typing import Any

from firstseen.archive.records import Item
from firstseen.matching.duplicates import SharedFootage
from firstseen.matching.provenance import Provenance
from firstseen.matching.results import FramePair, Match, QueryResult, SegmentMatch

# `checked` of a match whose frame has no thumbnail archived (imported without one): keypoints
# could not check it; null where they could.
UNCHECKED = "descriptor and PDQ only: no thumbnail archived"


def clock(seconds: float | None) -> str:
    """mm:ss (or h:mm:ss) for a time in a video; empty for stills."""
    if seconds is None:
        return ""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def clock_span(span: tuple[float, float], between: str = "–") -> str:
    """Two times in a video, as `clock` writes them."""
    return f"{clock(span[0])}{between}{clock(span[1])}"


def match_json(m: Match) -> dict[str, Any]:
    first = m.item.first_seen
    return {
        "path": m.item.path,
        "kind": m.item.kind,
        "time": None if m.time is None else round(m.time, 3),
        "time_span": [round(t, 3) for t in m.time_span] if m.time_span else None,
        "score": round(m.score, 4),
        "match": m.match,
        "region": list(m.check.region) if m.check.region else None,
        "url": first.url,
        "title": first.title,
        "published": first.published,
        "item_id": m.item.id,
        "sha256": m.item.sha256,
        "similarity": round(m.similarity, 4),
        "normalised_similarity": round(m.normalised, 4),
        "inliers": m.check.inliers,
        "correlation": round(m.check.correlation, 3),
        "agreement": round(m.check.agreement, 3),
        "mirrored": m.mirrored,
        "tone": m.tone,
        "pdq_distance": m.pdq_distance,
        "checked": None if m.thumbnail else UNCHECKED,
        "reference_size": [m.item.width, m.item.height],
        "segments": [segment_json(s) for s in m.segments],
        **provenance_json(m.provenance),
    }


def provenance_json(p: Provenance | None) -> dict[str, Any]:
    """`credentials` and `metadata` of a file (null where none was read), the metadata without
    its raw set: copies, since readings are kept for later answers (matching/provenance.py) and
    an answer may be added to (evidence/credentials.with_summaries)."""
    if p is None:
        return {"credentials": None, "metadata": None}
    metadata = {k: v for k, v in p.metadata.items() if k not in ("raw", "raw_omitted")}
    return {"credentials": copy.deepcopy(p.credentials), "metadata": copy.deepcopy(metadata)}


def segment_json(s: SegmentMatch) -> dict[str, Any]:
    """One aligned stretch of a video query (seconds); `query`, `reference`, `score` and `match`
    are part of the contract."""
    return {
        "query": list(s.segment.query),
        "reference": list(s.segment.reference),
        "score": round(s.score, 4),
        "match": s.match,
        "speed": s.segment.speed,
        "frames": s.segment.frames,
        "similarity": round(s.segment.similarity, 4),
        "distinct": round(s.distinct, 4) if math.isfinite(s.distinct) else None,
        "region": list(s.check.region) if s.check.region else None,
        "pair": None if s.pair is None else pair_json(s.pair),
    }


def pair_json(p: FramePair) -> dict[str, Any]:
    """A segment's most similar frame pair: the query's time, the reference's time and frame."""
    return {
        "query_time": round(p.query_time, 3),
        "reference_time": round(p.reference_time, 3),
        "reference_frame": p.reference_ordinal,
    }


def result_json(r: QueryResult) -> dict[str, Any]:
    return {
        "query": r.query,
        "error": r.error,
        "matches": [match_json(m) for m in r.matches],
        "elapsed_ms": round(r.elapsed_ms, 1),
        "budget_reached": r.budget_reached,
        **provenance_json(r.provenance),
    }


def shared_json(f: SharedFootage) -> dict[str, Any]:
    """Two archived videos sharing footage; segment `query` times are `a`'s, `reference` `b`'s."""
    return {
        "a": f.a.path,
        "b": f.b.path,
        "a_id": f.a.id,
        "b_id": f.b.id,
        "score": round(f.score, 4),
        "match": f.match,
        "segments": [segment_json(s) for s in f.segments],
    }


def item_json(item: Item) -> dict[str, Any]:
    first = item.first_seen
    return {
        "id": item.id,
        "sha256": item.sha256,
        "kind": item.kind,
        "path": item.path,
        "width": item.width,
        "height": item.height,
        "duration": item.duration,
        "bytes": item.bytes,
        "frames": item.frames,
        "added_at": item.added_at,
        "origin": item.origin,
        "url": first.url,
        "title": first.title,
        "published": first.published,
    }
