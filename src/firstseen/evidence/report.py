"""A provenance report: everything a reader needs to check a verdict without the archive.

The report is built once as plain data (`Report.data`, which is also the JSON output) plus the
embedded pictures (`Report.images`); the HTML and the PDF are renderings of the same data.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from firstseen import __version__
from firstseen.archive.catalog import Item, Sighting
from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError
from firstseen.evidence import pictures
from firstseen.evidence.captures import CaptureStore
from firstseen.evidence.claimreview import claim_review
from firstseen.evidence.dates import Period, period, relation
from firstseen.matching import verdict
from firstseen.matching.align import Segment
from firstseen.matching.features import LocalFeatures, fast_features, robust_features
from firstseen.matching.results import Match
from firstseen.matching.search import Searcher
from firstseen.matching.tones import FALSE_COLOUR, FALSE_COLOUR_INVERTED, INVERTED, tonings
from firstseen.matching.verify import inlier_pairs
from firstseen.media import load_frame_at, load_image, probe, sample_video, video_info
from firstseen.media.frames import shrink
from firstseen.outputs.render import clock, clock_span, match_json
from firstseen.text import shown as printable_name
from firstseen.tuning import VERDICT

_CROPPED = 0.9  # a region covering less of the source than this is called a crop
_QUERY_FRAMES = 12  # frames of a video query tried when drawing keypoint matches
_CANDIDATES = 3  # closest non-matching candidates shown
# How a copy found toned back (matching/tones.py) is described: a thermal look's "black-hot" is
# a negative, its colour ramp a false colouring of the source's brightness.
_TONE_WORDS = {
    INVERTED: "tone-inverted",
    FALSE_COLOUR: "false-coloured",
    FALSE_COLOUR_INVERTED: "false-coloured and tone-inverted",
}


@dataclass(slots=True)
class Report:
    data: dict[str, Any]
    images: dict[str, str] = field(default_factory=dict)  # name -> data: URI (JPEG)

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


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


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
    return archive.thumbnails.read(item.sha256, match.ordinal), "the archive's thumbnail"


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


def _is_cropped(match: Match) -> bool:
    region = match.check.region
    if region is None:
        return False
    share = region[2] * region[3] / max(1, match.item.width * match.item.height)
    return share < _CROPPED


def _name(item: Item, sighting: Sighting | None = None) -> str:
    s = sighting or item.first_seen
    return f"'{s.title}'" if s.title else (s.url or Path(item.path).name)


def _what(match: Match, query_kind: str, query_sha256: str | None = None) -> str:
    """'a cropped frame (00:12)', 'a mirrored copy', 'footage (its 00:00-00:05 copies ...)'."""
    if query_sha256 == match.item.sha256:
        return "an identical copy (the same file, by SHA-256)"
    adjectives = [
        w
        for w, on in (
            ("cropped", _is_cropped(match)),
            ("mirrored", match.mirrored),
            (_TONE_WORDS.get(match.tone or ""), match.tone),
        )
        if on and w
    ]
    adjective = " and ".join(adjectives)
    if match.item.kind == "video":
        if query_kind == "video":
            stretches = [_stretch(s.segment) for s in match.segments if s.match]
            where = "; ".join(stretches) or f"from {clock(match.time)}"
            return f"{adjective + ' ' if adjective else ''}footage ({where})"
        span = match.time_span
        same = f"; the same picture from {clock_span(span, ' to ')}" if span else ""
        noun = f"frame ({clock(match.time)}{same})"
    else:
        noun = "copy"
    return f"a {adjective + ' ' if adjective else ''}{noun}"


def _stretch(segment: Segment) -> str:
    """'its 00:04–00:10 copies 00:06–00:14 of the source, played 1.25x as fast'."""
    (qs, qe), (rs, re) = segment.query, segment.reference
    text = f"its {clock(qs)}–{clock(qe)} copies {clock(rs)}–{clock(re)} of the source"
    if abs(segment.speed - 1) >= 0.05:
        text += f", played {segment.speed:.2f}x as fast"
    return text


def _dated(published: str | None, claim: Period | None) -> tuple[str, str | None]:
    """', published 2019-07-30, 4 years ... before the claimed date' and the relation kind."""
    if not published:
        return ", with no known publication date", None
    source = period(published)
    if claim is None or source is None:
        return f", published {published}", None
    kind, words = relation(source, claim)
    return f", published {published}, {words}", kind


def _evidence_sentence(match: Match) -> str:
    check = match.check
    if verdict.verified(check):
        return (
            f"Local features confirm it: {check.inliers} keypoint matches agree on one geometric "
            f"mapping, the overlapping content correlates at {check.correlation:.3f} and "
            f"{check.agreement:.0%} of its textured blocks agree (thresholds: "
            f"{VERDICT.min_inliers} matches, correlation {VERDICT.min_correlation}, "
            f"{VERDICT.min_agreement:.0%} of blocks)."
        )
    if match.segments:
        return (
            "The match rests on the descriptors alone: the query's frames line up in time with "
            f"the source's (segment score {match.segments[0].segment.score:.3f}, above the "
            f"{match.calibration.segment_alone} that unrelated footage does not reach); local "
            "features could neither confirm nor contradict it."
        )
    return (
        f"The match rests on the descriptor similarity alone ({match.normalised:.3f} after "
        f"background correction, above the {match.calibration.descriptor_alone} that unrelated "
        "pictures do not reach); local features could neither confirm nor contradict it."
    )


def _closest_sentence(closest: Match) -> str:
    check = closest.check
    if verdict.contradicted(check):
        return (
            f"the closest candidate, {_name(closest.item)}, lines up with it ({check.inliers} "
            f"keypoint matches) but its content differs (correlation {check.correlation:.3f}, "
            f"{check.agreement:.0%} of blocks agree): another moment or view, not a copy"
        )
    if closest.featureless:  # set only where the descriptor alone would have decided
        return (
            f"the closest candidate, {_name(closest.item)}, scores {closest.score:.3f}, but the "
            "query is black or flat: it shows nothing that could tie it to one source, and no "
            "keypoints confirm it"
        )
    return (
        f"the closest candidate, {_name(closest.item)}, scores {closest.score:.3f} (normalised "
        f"similarity {closest.normalised:.3f}, {check.inliers} agreeing keypoints), below what a "
        "match needs"
    )


def _timeline(archive: Archive, matches: list[Match], claim: Claim) -> list[dict[str, Any]]:
    entries = []
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
        entry = {
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
        ref, info = CaptureStore(archive.root).load(capture_id)
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
        entry = {
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


def _archive_summary(archive: Archive) -> dict[str, Any]:
    items = archive.catalog.items()
    return {
        "items": len(items),
        "videos": sum(i.kind == "video" for i in items),
        "images": sum(i.kind == "image" for i in items),
        "frames": sum(i.frames for i in items),
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
    sha, size = _sha256(query)
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
            "description": _what(m, query_kind, sha),
            "cropped": _is_cropped(m),
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
        shown.append(entry)
    timeline = _timeline(archive, matches, claim)
    data: dict[str, Any] = {
        "title": f"Provenance report: {name}",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "software": {"name": "firstseen", "version": __version__},
        "query": {"name": name, "kind": query_kind, "sha256": sha, "bytes": size, **facts},
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
        "candidates": [match_json(m) | {"time_clock": clock(m.time)} for m in others],
        "timeline": timeline,
        "items": [_provenance(archive, m.item) for m in matches + others],
    }
    data["verdict"] = _verdict(data, matches, timeline, claimed, query_kind, others, sha)
    data["claim_review"] = claim_review(data, claim)
    report.data = data
    return report


def _verdict(
    data, matches: list[Match], timeline, claimed: Period | None, kind: str, others, sha: str
):
    archive = data["archive"]
    if not matches:
        searched = (
            f"Searched {archive['items']} archived items ({archive['videos']} videos, "
            f"{archive['images']} images; {archive['frames']} indexed frames), comparing the "
            f"{kind} and its mirror image with every frame and photo"
        )
        if archive["items"] == 0:
            text = f"No archived item matches this {kind}: the archive is empty."
        elif others:
            closest = others[0]
            text = (
                f"No archived item matches this {kind}. {searched}; {_closest_sentence(closest)}."
                f" This shows only that the {kind} is not a copy of anything in this archive, "
                "not that it is original."
            )
        else:
            text = f"No archived item matches this {kind}. {searched}."
        return {"match": False, "relation": None, "text": text}
    best = matches[0]
    dated, kind_of = _dated(best.item.first_seen.published, claimed)
    what = _what(best, kind, sha)
    sentences = [f"This {kind} is {what} of {_name(best.item)}{dated}."]
    if kind == "video" and not what.startswith("an identical"):
        sentences[0] = f"This video shows {what} of {_name(best.item)}{dated}."
    sentences.append(_evidence_sentence(best))
    sightings = [e for e in timeline if e["kind"] == "sighting"]
    earliest = sightings[0] if sightings else None
    first = best.item.first_seen
    if earliest and (earliest["url"], earliest["published"]) != (first.url, first.published):
        words, kind_of = _dated(earliest["published"], claimed)
        title = (
            f"'{earliest['title']}'" if earliest["title"] else earliest["url"] or earliest["path"]
        )
        sentences.append(
            f"Of the {len(sightings)} sightings of matching content in the archive, the earliest is"
            f" {title}{words}."
        )
    elif len(sightings) > 1:
        sentences.append(f"It is the earliest of {len(sightings)} sightings of matching content.")
    if kind_of == "before":
        sentences.append(f"The {kind} therefore existed before the date claimed for it.")
    elif kind_of in ("after", "same"):
        sentences.append(
            "The archive holds no sighting of it before the claimed date, so this does not "
            "contradict the claim."
        )
    return {"match": True, "relation": kind_of, "text": " ".join(sentences), "earliest": earliest}
