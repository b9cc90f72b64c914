"""The JSON contract of search results, and the tables people read.

The fields `query`, `error`, `matches[].{path, kind, time, score, match, region, url, title,
published}` and, for video queries, `matches[].segments[].{query, reference, score, match}` are a
stable contract; the others may grow.

Tables and lines print what the archive holds (paths, titles, URLs) as text: never as Rich
markup, with control characters escaped (`cell`), whatever a file name or a page put there.
"""

import math
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from firstseen.archive.catalog import Item
from firstseen.matching.align import Segment
from firstseen.matching.duplicates import SharedFootage
from firstseen.matching.results import Match, QueryResult, SegmentMatch
from firstseen.text import printable


def cell(value: str | None) -> Text:
    """Stored or given text for a table cell or a line: shown, not obeyed."""
    return Text(printable(value or ""))


def _name(path: str) -> Text:
    return cell(Path(path).name)


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
        "reference_size": [m.item.width, m.item.height],
        "segments": [segment_json(s) for s in m.segments],
    }


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
    }


def span(segment: Segment) -> str:
    """A query stretch and the source stretch it copies: `00:12–00:19 ← source 01:03–01:10`."""
    (qs, qe), (rs, re) = segment.query, segment.reference
    return f"{clock(qs)}–{clock(qe)} ← source {clock(rs)}–{clock(re)}"


def result_json(r: QueryResult) -> dict[str, Any]:
    return {
        "query": r.query,
        "error": r.error,
        "matches": [match_json(m) for m in r.matches],
        "elapsed_ms": round(r.elapsed_ms, 1),
    }


def results_table(r: QueryResult) -> Group:
    """A compact table that fits an 80-column terminal, then the provenance of each match."""
    table = Table(title=cell(r.query), title_justify="left", expand=False)
    for column in ("verdict", "source", "time", "region x,y wxh", "score", "published"):
        table.add_column(column, overflow="fold")
    for m in r.matches:
        region = ""
        if m.check.region:
            x, y, w, h = m.check.region
            region = f"{x},{y} {w}x{h}"
        table.add_row(
            "[bold green]MATCH[/]" if m.match else "[dim]no[/]",
            _name(m.item.path),
            clock_span(m.time_span) if m.time_span else clock(m.time),
            region,
            f"{m.score:.3f}",
            cell(m.item.first_seen.published),
        )
    lines = []
    for m in r.matches:
        for s in m.segments:
            verdict = ("MATCH", "bold green") if s.match else ("no", "dim")
            lines.append(
                Text.assemble(
                    _name(m.item.path),
                    f"  {span(s.segment)}  ",
                    verdict,
                    f" {s.score:.3f}",
                )
            )
    for m in r.matches:
        if m.match:
            first = m.item.first_seen
            where = f" at {clock(m.time)}" if m.time is not None else ""
            if m.time_span:
                where += f" (the same picture from {clock_span(m.time_span, ' to ')})"
            lines.append(
                Text.assemble(
                    ("MATCH ", "bold green"),
                    cell(
                        f"{m.item.path}{where}: {first.title or 'untitled'}, "
                        f"published {first.published or 'on an unknown date'}"
                        + (f", {first.url}" if first.url else "")
                    ),
                )
            )
    return Group(table, *lines)


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


def shared_table(found: list[SharedFootage]) -> Table:
    table = Table()
    for column in ("verdict", "video a", "video b", "shared stretches (a ← b)", "score"):
        table.add_column(column, overflow="fold")
    for f in found:
        spans = [span(s.segment).replace(" ← source ", " ← ") for s in f.segments if s.match]
        table.add_row(
            "[bold green]MATCH[/]" if f.match else "[dim]no[/]",
            _name(f.a.path),
            _name(f.b.path),
            "\n".join(spans or [span(f.segments[0].segment).replace(" ← source ", " ← ")]),
            f"{f.score:.3f}",
        )
    return table


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


def items_table(items: list[Item]) -> Table:
    table = Table()
    for column in ("id", "kind", "path", "frames", "size", "published", "title"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            str(item.id),
            item.kind,
            cell(item.path),
            str(item.frames),
            f"{item.width}x{item.height}",
            cell(item.first_seen.published),
            cell(item.first_seen.title),
        )
    return table
