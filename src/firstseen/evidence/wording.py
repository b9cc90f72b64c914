"""The report's sentences: what a match is (a cropped frame, a mirrored copy, footage), what
confirms it, how its dates stand to the claimed one, and the verdict they add up to."""

from pathlib import Path

from firstseen.archive.records import Item, Sighting
from firstseen.evidence.dates import Period, period, relation
from firstseen.matching import verdict
from firstseen.matching.align import Segment
from firstseen.matching.answers import clock, clock_span
from firstseen.matching.results import Match
from firstseen.matching.tones import FALSE_COLOUR, FALSE_COLOUR_INVERTED, INVERTED
from firstseen.tuning import VERDICT

_CROPPED = 0.9  # a region covering less of the source than this is called a crop
# How a copy found toned back (matching/tones.py) is described: a thermal look's "black-hot" is
# a negative, its colour ramp a false colouring of the source's brightness.
_TONE_WORDS = {
    INVERTED: "tone-inverted",
    FALSE_COLOUR: "false-coloured",
    FALSE_COLOUR_INVERTED: "false-coloured and tone-inverted",
}


def is_cropped(match: Match) -> bool:
    region = match.check.region
    if region is None:
        return False
    share = region[2] * region[3] / max(1, match.item.width * match.item.height)
    return share < _CROPPED


def _name(item: Item, sighting: Sighting | None = None) -> str:
    s = sighting or item.first_seen
    return f"'{s.title}'" if s.title else (s.url or Path(item.path).name)


def describe(match: Match, query_kind: str, query_sha256: str | None = None) -> str:
    """'a cropped frame (00:12)', 'a mirrored copy', 'footage (its 00:00-00:05 copies ...)'."""
    if query_sha256 == match.item.sha256:
        return "an identical copy (the same file, by SHA-256)"
    adjectives = [
        w
        for w, on in (
            ("cropped", is_cropped(match)),
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
        same = f"; or any frame from {clock_span(span, ' to ')}" if span else ""
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
            f"{match.calibration.segment_alone} that unrelated footage does not reach); "
            f"{_unchecked(match)}"
        )
    return (
        f"The match rests on the descriptor similarity alone ({match.normalised:.3f} after "
        f"background correction, above the {match.calibration.descriptor_alone} that unrelated "
        f"pictures do not reach); {_unchecked(match)}"
    )


def _unchecked(match: Match) -> str:
    """Why local features did not settle it: they could not tell, or, for a frame imported
    without its thumbnail, had nothing to look at."""
    if match.thumbnail:
        return "local features could neither confirm nor contradict it."
    pdq = match.pdq_distance
    hashed = f"; its PDQ hash is {pdq} bits from the query's" if pdq is not None else ""
    return (
        "the archive holds no thumbnail of the source's frame (it was imported without one), so"
        f" local features could not check it{hashed}."
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


def report_verdict(
    data, matches: list[Match], timeline, claimed: Period | None, kind: str, others, sha: str
):
    """The report's verdict: whether anything matched, the sentences saying what and why, and
    how the earliest sighting stands to the claimed date (`relation`)."""
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
    what = describe(best, kind, sha)
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
