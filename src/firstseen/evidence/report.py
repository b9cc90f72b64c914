"""A provenance report: everything a reader needs to check a verdict without the archive.

The report is built once as plain data (`Report.data`, which is also the JSON output) plus the
embedded pictures (`Report.images`); the HTML and the PDF are renderings of the same data.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from firstseen import __version__
from firstseen.archive.records import Item, Sighting
from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError
from firstseen.evidence import pictures
from firstseen.evidence.alignment import clip_picture, svg_uri
from firstseen.evidence.claimreview import claim_review
from firstseen.evidence.credentials import notes, with_summaries
from firstseen.evidence.dates import period
from firstseen.evidence.wording import describe, is_cropped, report_verdict
from firstseen.matching import verdict
from firstseen.matching.answers import clock, match_json, provenance_json
from firstseen.matching.features import LocalFeatures, fast_features, robust_features
from firstseen.matching.results import Match, QueryResult
from firstseen.matching.search import Searcher
from firstseen.matching.tones import tonings
from firstseen.matching.verify import inlier_pairs
from firstseen.media import load_frame_at, load_image, probe, sample_video, video_info
from firstseen.media.files import sha256_of
from firstseen.media.frames import shrink
from firstseen.text import shown as printable_name
from firstseen.tuning import VERDICT

_QUERY_FRAMES = 12  # frames of a video query tried when drawing keypoint matches
_CANDIDATES = 3  # closest non-matching candidates shown


@dataclass(slots=True)
class Report:
    data: dict[str, Any]
    images: dict[str, str] = field(default_factory=dict)  # name -> data: URI (JPEG, SVG)

    @property
    def verdict(self) -> str:
        return self.data["verdict"]["text"]


@dataclass(frozen=True, slots=True)
class Claim:
    date: str | None = None
    url: str | None = None
    text: str | None = None
    reviewer: str = "firstseen"
    review_url: str | None = None


def _query_pictures(path: Path) -> tuple[str, list[np.ndarray], dict[str, Any]]:
    """(kind, pictures to draw from, facts) of the query file."""
    kind = probe(path)
    if kind == "image":
        rgb = load_image(path)
        return kind, [rgb], {"width": rgb.shape[1], "height": rgb.shape[0]}
    info = video_info(path)
    frames = [f.rgb for f in sample_video(path, fps=1.0)][:120]
    if len(frames) > _QUERY_FRAMES:
        picks = np.linspace(0, len(frames) - 1, _QUERY_FRAMES).round().astype(int)
        frames = [frames[i] for i in picks]
    facts = {"width": info.width, "height": info.height, "duration": info.duration}
    return kind, frames, facts


def _source_picture(archive: Archive, match: Match) -> tuple[np.ndarray | None, str]:
    """The matched frame or photo: from the original file when it is still where it was added
    (and the same size), else the archive's stored thumbnail."""
    item = match.item
    path = Path(item.path)
    try:
        if path.is_file() and path.stat().st_size == item.bytes:
            if item.kind == "image":
                rgb = load_image(path)
            else:
                rgb = load_frame_at(path, match.time or 0.0).rgb
            if rgb.shape[:2] == (item.height, item.width):
                return shrink(rgb, 1280), "the original file"
    except (FirstseenError, OSError):
        pass
    thumbnail = archive.thumbnails.read(item.sha256, match.ordinal)
    if thumbnail is None:
        return None, "none: neither the original file nor a thumbnail is archived"
    return thumbnail, "the archive's thumbnail"


def _keypoints(
    queries: list[np.ndarray], source: np.ndarray, match: Match
) -> tuple[int, pictures.Pairs | None, str]:
    """The query picture and inlier keypoint pairs that best show the match, found with the
    detectors the search checks with, the one whose check decided the match first."""
    item = match.item
    best: tuple[int, pictures.Pairs | None, str] = (0, None, "")
    for local in _detectors(match):
        reference = local.extract(source, full_size=(item.width, item.height))
        for index, rgb in enumerate(queries):
            searched = _as_searched(rgb, match.tone)
            flipped = np.ascontiguousarray(searched[:, ::-1]) if match.mirrored else searched
            q, s = inlier_pairs(local.extract(flipped), reference)
            q = q * (rgb.shape[1] / searched.shape[1])
            if match.mirrored and len(q):
                q[:, 0] = rgb.shape[1] - 1 - q[:, 0]
            if len(q) > len(best[1] or ()):
                best = (index, pictures.Pairs(q, s), local.kind.upper())
        if best[1] is not None and len(best[1]) >= VERDICT.min_inliers:
            break
    return best


def _detectors(match: Match) -> list[LocalFeatures]:
    """ORB and SIFT at the settings the search checks with (firstseen.tuning.FEATURES), the
    detector of the check the verdict rests on first, so the pairs drawn are that check's."""
    fast, robust = fast_features(), robust_features()
    alignment = match.check.alignment
    return [robust, fast] if alignment and alignment.query.kind == robust.kind else [fast, robust]


def _as_searched(rgb: np.ndarray, tone: str | None) -> np.ndarray:
    """The query picture toned as the search that found the match toned it (a thermal copy's
    keypoints agree with the source only toned back)."""
    return dict(tonings(rgb)).get(tone, rgb) if tone else rgb


def _timeline(archive: Archive, matches: list[Match], claim: Claim) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for rank, m in enumerate(matches, start=1):
        for s in archive.catalog.sightings(m.item.id):
            entries.append(
                {
                    "kind": "sighting",
                    "match": rank,
                    "published": s.published,
                    "seen_at": s.seen_at,
                    "title": s.title,
                    "url": s.url,
                    "path": s.path,
                    "sha256": m.item.sha256,
                    "earliest": False,
                }
            )

    def key(entry: dict[str, Any]) -> tuple:
        p = period(entry["published"])
        return (
            p is None,
            p.first if p else date.max,
            p.last if p else date.max,
            entry["seen_at"] or "",
        )

    entries.sort(key=key)
    if entries:
        entries[0]["earliest"] = True
    claimed = period(claim.date)
    if claimed is not None:
        entry: dict[str, Any] = {
            "kind": "claim",
            "published": claim.date,
            "url": claim.url,
            "earliest": False,
            "title": "the claimed date",
            "seen_at": None,
        }
        position = sum(
            1 for e in entries if (p := period(e["published"])) and p.first <= claimed.first
        )
        entries.insert(position, entry)
    _place(entries)
    return entries


def _place(entries: list[dict[str, Any]]) -> None:
    """Horizontal positions (0-100) of dated entries on the report's timeline axis."""
    dated = [(e, p) for e in entries if (p := period(e["published"]))]
    if not dated:
        return
    start = min(p.first for _, p in dated).toordinal()
    end = max(p.first for _, p in dated).toordinal()
    for e, p in dated:
        e["x"] = (
            50.0
            if end == start
            else round(4 + 92 * (p.first.toordinal() - start) / (end - start), 2)
        )


def _capture_of(archive: Archive, sighting: Sighting) -> dict[str, Any] | None:
    if not sighting.path.startswith("capture:"):
        return None
    capture_id = sighting.path.split(":", 2)[1]
    try:
        ref, info = archive.captures.load(capture_id)
    except FirstseenError:
        return {"id": capture_id}
    return {
        "id": capture_id,
        "warc": ref.warc.name,
        "warc_sha256": info.get("warc_sha256"),
        "captured_at": info.get("captured_at"),
        "url": info.get("url"),
    }


def _provenance(archive: Archive, item: Item) -> dict[str, Any]:
    sightings = []
    for s in archive.catalog.sightings(item.id):
        entry: dict[str, Any] = {
            "url": s.url,
            "title": s.title,
            "published": s.published,
            "seen_at": s.seen_at,
            "path": s.path,
        }
        if capture := _capture_of(archive, s):
            entry["capture"] = capture
        sightings.append(entry)
    return {
        "item_id": item.id,
        "sha256": item.sha256,
        "kind": item.kind,
        "path": item.path,
        "width": item.width,
        "height": item.height,
        "duration": item.duration,
        "bytes": item.bytes,
        "added_at": item.added_at,
        "sightings": sightings,
    }


def _earliest(timeline: list[dict[str, Any]]) -> str | None:
    return next((e["published"] for e in timeline if e.get("earliest")), None)


def _raw_metadata(result: QueryResult, matches: list[Match]) -> list[dict[str, Any]]:
    """The embedded metadata of the query and each archived file, every field read (escaped,
    cut), for the report's appendix."""
    files = [("the query", result.provenance)]
    files += [(printable_name(Path(m.item.path).name), m.provenance) for m in matches]
    return [
        {
            "file": name,
            "fields": p.metadata.get("raw", {}),
            "omitted": p.metadata.get("raw_omitted", 0),
        }
        for name, p in files
        if p is not None and p.metadata.get("raw")
    ]


def _archive_summary(archive: Archive) -> dict[str, Any]:
    counts, kinds = archive.catalog.counts(), archive.catalog.kinds()
    return {
        "items": counts.items,
        "videos": kinds.get("video", 0),
        "images": kinds.get("image", 0),
        "frames": counts.frames,
        "model": archive.catalog.meta("model"),
    }


def build_report(
    archive: Archive, searcher: Searcher, query: Path, claim: Claim = Claim(), top: int = 5
) -> Report:
    """Searches `query` and gathers the verdict, pictures, timeline and provenance."""
    if not query.is_file():
        raise FirstseenError(f"{query}: no such file")
    claimed = period(claim.date)
    if claim.date and claimed is None:
        raise FirstseenError(f"not a date: {claim.date!r} (use YYYY-MM-DD)")
    name = printable_name(query.name)  # as the report prints it, whatever bytes the file name holds
    result = searcher.search(query, top=top, name=name)
    if result.error:
        raise FirstseenError(f"{query}: {result.error}")
    query_kind, query_pictures, facts = _query_pictures(query)
    sha, size = sha256_of(query)
    report = Report({})
    report.images["query"] = pictures.data_uri(pictures.preview(query_pictures[0]))
    matches = [m for m in result.matches if m.match]
    others = [m for m in result.matches if not m.match][:_CANDIDATES]
    shown = []
    for rank, m in enumerate(matches, start=1):
        source, origin = _source_picture(archive, m)
        entry = match_json(m)
        entry |= {
            "rank": rank,
            "description": describe(m, query_kind, sha),
            "cropped": is_cropped(m),
            "verified": verdict.verified(m.check),
            "source_picture": origin,
            "time_clock": clock(m.time),
        }
        if source is not None:
            index, pairs, features = _keypoints(query_pictures, source, m)
            drawn = query_pictures[index]
            full = (m.item.width, m.item.height)
            figure = pictures.side_by_side(drawn, source, full, m.check.region, pairs)
            report.images[f"match{rank}"] = pictures.data_uri(figure)
            report.images[f"source{rank}"] = pictures.data_uri(
                pictures.preview(pictures.with_region(source, full, m.check.region), 960)
            )
            entry["keypoints_drawn"] = len(pairs) if pairs is not None else 0
            entry["keypoint_features"] = features
        shown.append(with_summaries(entry))
    if query_kind == "video":
        picture = clip_picture(name, query, matches, archive.thumbnails.read)
        if picture is not None:
            report.images["alignment"] = svg_uri(picture)
    timeline = _timeline(archive, matches, claim)
    own = with_summaries(provenance_json(result.provenance))
    data: dict[str, Any] = {
        "title": f"Provenance report: {name}",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "software": {"name": "firstseen", "version": __version__},
        "query": {"name": name, "kind": query_kind, "sha256": sha, "bytes": size, **facts, **own},
        "claim": {"date": claim.date, "url": claim.url, "text": claim.text},
        "archive": _archive_summary(archive),
        "search": {"top": top, "elapsed_ms": round(result.elapsed_ms, 1)},
        "thresholds": {
            "min_inliers": VERDICT.min_inliers,
            "min_correlation": VERDICT.min_correlation,
            "min_agreement": VERDICT.min_agreement,
            "descriptor_alone": searcher.calibration.descriptor_alone,
            "segment_alone": searcher.calibration.segment_alone,
        },
        "matches": shown,
        "candidates": [
            with_summaries(match_json(m) | {"time_clock": clock(m.time)}) for m in others
        ],
        "timeline": timeline,
        "items": [_provenance(archive, m.item) for m in matches + others],
        "notes": notes(own["credentials"], own["metadata"], _earliest(timeline)),
        "appendix": _raw_metadata(result, matches + others),
    }
    data["verdict"] = report_verdict(data, matches, timeline, claimed, query_kind, others, sha)
    data["claim_review"] = claim_review(data, claim)
    report.data = data
    return report
