"""What reading a file's own claims may cost and show: its Content Credentials (C2PA manifest,
media/credentials.py) and its embedded metadata (EXIF, XMP, IPTC, media/embedded.py)."""

from dataclasses import dataclass

from firstseen.tuning.knobs import BUDGET, MEASURED, ROUND, knob


@dataclass(frozen=True, slots=True)
class Provenance:
    """Bounds on reading what a file says of itself; when its thumbnail is another picture."""

    max_file_bytes: int = knob(
        256 << 20,
        "largest file whose credentials are validated (the whole file is hashed to check them)",
        f"{BUDGET}: about a second of hashing on one core",
    )
    max_manifest_mb: int = knob(
        16,
        "largest manifest store c2pa may decompress, in MB",
        f"{BUDGET}: far above a camera's or editor's manifest (a few kB to a few hundred kB)",
    )
    max_anchors_bytes: int = knob(
        4 << 20,
        "largest trust list (PEM file of CA certificates) read from the settings",
        f"{BUDGET}: the C2PA trust list holds a few dozen certificates, well under 1 MB",
    )
    items_kept: int = knob(
        256,
        "archived items whose credentials and metadata a searcher keeps in memory",
        f"{BUDGET}: more than a page of answers at a few kB each",
    )
    max_listed: int = knob(
        32,
        "actions, ingredients or failed checks listed per manifest; the rest are counted",
        f"{ROUND}: an editing history longer than this is summarised, not read",
    )
    field_chars: int = knob(
        300,
        "characters kept of one metadata value; longer ones are cut and marked",
        f"{BUDGET}: a caption or a maker's note may hold megabytes",
    )
    raw_fields: int = knob(
        400,
        "metadata fields kept for the report's appendix; the rest are counted",
        f"{BUDGET}: a camera writes 100-300 EXIF fields",
    )
    thumbnail_side: int = knob(
        32,
        "side of the grey square an embedded thumbnail and its picture are compared at",
        f"{ROUND}: fine enough to tell two scenes apart, coarse enough to ignore JPEG noise",
    )
    thumbnail_differs: float = knob(
        0.8,
        "correlation of the two squares under which the thumbnail shows other content",
        f"{MEASURED}: a phone photo's own EXIF thumbnail scores 0.999; against 180 unrelated"
        " pictures of ../shared/data it scored 0.63 at most",
    )
