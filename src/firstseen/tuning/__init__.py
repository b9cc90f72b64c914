"""Every threshold and budget of matching in one place, each with a one-line reason and where its
value came from (`knobs.SOURCES`): one frozen dataclass per stage, and one instance of each that
the pipeline reads. `python -m firstseen.tuning` writes docs/thresholds.md from them.

Nothing here imports the rest of firstseen, so every layer (media, signals, archive, matching,
evidence) may import it.
"""

from firstseen.tuning.checks import Content, Features, Verdict, Verify
from firstseen.tuning.describe import Background, Bars, Hashes, Parts, Retrieval
from firstseen.tuning.knobs import markdown
from firstseen.tuning.provenance import Provenance
from firstseen.tuning.still import Check, Insets, Moment, Regions, Tones
from firstseen.tuning.storage import Index, VectorStore
from firstseen.tuning.video import Align, Clip, Duplicates, Shots

BARS = Bars()
PARTS = Parts()
BACKGROUND = Background()
RETRIEVAL = Retrieval()
HASHES = Hashes()
FEATURES = Features()
VERIFY = Verify()
CONTENT = Content()
VERDICT = Verdict()
CHECK = Check()
MOMENT = Moment()
REGIONS = Regions()
INSETS = Insets()
TONES = Tones()
CLIP = Clip()
ALIGN = Align()
DUPLICATES = Duplicates()
SHOTS = Shots()
INDEX = Index()
VECTOR_STORE = VectorStore()
PROVENANCE = Provenance()

# In the order a query meets them; the names the pipeline imports them by.
STAGES: dict[str, object] = {
    "SHOTS": SHOTS,
    "BARS": BARS,
    "PARTS": PARTS,
    "BACKGROUND": BACKGROUND,
    "RETRIEVAL": RETRIEVAL,
    "HASHES": HASHES,
    "CHECK": CHECK,
    "FEATURES": FEATURES,
    "VERIFY": VERIFY,
    "CONTENT": CONTENT,
    "VERDICT": VERDICT,
    "MOMENT": MOMENT,
    "REGIONS": REGIONS,
    "INSETS": INSETS,
    "TONES": TONES,
    "CLIP": CLIP,
    "ALIGN": ALIGN,
    "DUPLICATES": DUPLICATES,
    "INDEX": INDEX,
    "VECTOR_STORE": VECTOR_STORE,
    "PROVENANCE": PROVENANCE,
}


def thresholds_page() -> str:
    """docs/thresholds.md as it should read."""
    return markdown(STAGES)
