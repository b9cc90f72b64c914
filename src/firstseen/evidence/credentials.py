"""The sentences about what a file says of itself: its Content Credentials (signed by whom, when,
what editing they record, whether the pixels are still the signed ones) and its embedded
metadata (camera, capture time, place, a thumbnail of other content)."""

from datetime import timedelta
from typing import Any

from firstseen.evidence.dates import period

# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), in plain words.
_SOURCE_TYPES = {
    "digitalCapture": "a camera capture",
    "computationalCapture": "a camera capture processed by the device",
    "negativeFilm": "a scan of a film negative",
    "positiveFilm": "a scan of a film positive",
    "print": "a scan of a print",
    "screenCapture": "a screen capture",
    "trainedAlgorithmicMedia": "made by a generative model",
    "compositeWithTrainedAlgorithmicMedia": "a composite with generated content",
    "algorithmicallyEnhanced": "algorithmically enhanced",
    "algorithmicMedia": "made by an algorithm, not a camera",
    "digitalArt": "digital art",
    "virtualRecording": "a recording of a virtual scene (a game engine)",
    "composite": "a composite of several pictures",
    "compositeCapture": "a composite of several captures",
    "compositeSynthetic": "a composite including synthetic content",
}
# Actions that make or open a file rather than edit it.
_NOT_EDITS = frozenset({"c2pa.created", "c2pa.opened", "c2pa.published", "c2pa.placed"})


def credentials_line(c: dict[str, Any] | None) -> str:
    """One sentence for a file's credentials: `signed by … on …, no edits recorded`."""
    if c is None:
        return "Content Credentials not read"
    state = c.get("state")
    if state == "none":
        return "no Content Credentials"
    if state in ("unreadable", "not_checked", "unavailable"):
        verb = {"unreadable": "unreadable credentials", "not_checked": "credentials not checked"}
        return f"{verb.get(state, 'credentials not read')}: {c.get('reason')}"
    signer = _signed_by(c)
    if state == "invalid":
        if c.get("changed_after_signing"):
            return (
                "signature does not match the pixels: the file was changed after signing "
                f"({signer})"
            )
        return f"invalid Content Credentials ({signer}): failed {', '.join(c['failures'])}"
    trust = (
        "a signer in your trust list"
        if c.get("trusted")
        else "signature valid, but the signer is not in your trust list"
    )
    return f"{signer}, {trust}; {_history(c)}"


def _signed_by(c: dict[str, Any]) -> str:
    who = c.get("signer") or "an unnamed signer"
    if c.get("issuer") and c["issuer"] != who:
        who = f"{who} ({c['issuer']})"
    when = f" on {c['signed_at']}" if c.get("signed_at") else ", not time-stamped"
    return f"signed by {who}{when}"


def _history(c: dict[str, Any]) -> str:
    """What the credentials say was done: the source type, then the edits or their absence."""
    parts = []
    if source := c.get("digital_source_type"):
        parts.append(_SOURCE_TYPES.get(source, source))
    edits = [a for a in c.get("actions", []) if a.get("action") not in _NOT_EDITS]
    if edits:
        named = [_action(a) for a in edits[:4]]
        more = len(edits) - len(named) + int(c.get("actions_omitted", 0))
        parts.append("edits recorded: " + ", ".join(named) + (f" and {more} more" if more else ""))
    else:
        parts.append("no edits recorded")
    if c.get("ingredients"):
        parts.append(f"{len(c['ingredients'])} ingredient(s)")
    if c.get("claim_generator"):
        parts.append(f"written by {c['claim_generator']}")
    return ", ".join(parts)


def _action(a: dict[str, Any]) -> str:
    name = str(a.get("action") or "unnamed").removeprefix("c2pa.").replace("_", " ")
    return f"{name} ({a['software']})" if a.get("software") else name


def metadata_line(m: dict[str, Any] | None) -> str:
    """One sentence for a file's embedded metadata: camera, software, capture time, place."""
    if m is None:
        return "metadata not read"
    state = m.get("state")
    if state == "none":
        return "no embedded metadata"
    if state != "read":
        return f"metadata not read: {m.get('reason')}"
    f = m["fields"]
    parts = []
    if camera := " ".join(x for x in (f.get("camera_make"), f.get("camera_model")) if x):
        parts.append(f"camera {camera}")
    if f.get("captured_at"):
        zone = f" {f['time_zone']}" if f.get("time_zone") else " (no time zone)"
        parts.append(f"captured {f['captured_at'].replace('T', ' ')}{zone}")
    if gps := f.get("gps"):
        parts.append(f"at {gps['latitude']:.5f}, {gps['longitude']:.5f}")
    if f.get("software"):
        parts.append(f"software {f['software']}")
    if (thumb := f.get("thumbnail")) and thumb.get("differs"):
        parts.append("its embedded thumbnail shows other content")
    return "; ".join(parts) or "embedded metadata without camera, date or place"


def with_summaries(data: dict[str, Any]) -> dict[str, Any]:
    """A search answer (matching/answers.py) with a `summary` sentence in each `credentials`
    and `metadata` object, the query's and the matches'."""
    for entry in [data, *data.get("matches", [])]:
        if entry.get("credentials") is not None:
            entry["credentials"]["summary"] = credentials_line(entry["credentials"])
        if entry.get("metadata") is not None:
            entry["metadata"]["summary"] = metadata_line(entry["metadata"])
    return data


def notes(
    credentials: dict[str, Any] | None, metadata: dict[str, Any] | None, earliest: str | None
) -> list[str]:
    """The report's sentences on what the query says of itself, where it bears on the verdict:
    its credentials, a capture date after the archive's earliest sighting, a thumbnail of other
    content."""
    found = []
    if credentials is not None and credentials.get("state") != "none":
        found.append(f"Content Credentials of the query: {credentials_line(credentials)}.")
    fields = (metadata or {}).get("fields") or {}
    captured, seen = period(fields.get("captured_at")), period(earliest)
    # A day's slack: EXIF times are local and often without a zone, sightings are not.
    if captured is not None and seen is not None and captured.first > seen.last + timedelta(1):
        found.append(
            f"The query's metadata says it was captured on {captured.first.isoformat()}, after "
            f"the archive's earliest sighting of it ({earliest}): the capture date is wrong, or "
            "it belongs to a later copy."
        )
    if (fields.get("thumbnail") or {}).get("differs"):
        found.append(
            "The thumbnail embedded in the query's EXIF shows other content than the picture: "
            "the picture was changed after the thumbnail was written, or the metadata was "
            "copied from another file."
        )
    return found
