"""Loads the models an archive was built with, once per process."""

import os
from functools import partial

from firstseen.archive.store import Archive
from firstseen.config import Settings
from firstseen.errors import FirstseenError
from firstseen.evidence.replay import captured_copy
from firstseen.matching import verdict
from firstseen.matching.background import Background
from firstseen.matching.provenance import ProvenanceReader
from firstseen.matching.search import Searcher
from firstseen.signals import OnnxDescriptor, model_key


def open_descriptor(archive: Archive, threads: int | None = None) -> OnnxDescriptor:
    """The descriptor the archive's settings name; refuses one whose vectors differ from those
    already in the archive. `threads` per inference (default: one per core)."""
    settings = archive.settings
    try:
        descriptor = OnnxDescriptor(settings.model, settings.descriptor_size, threads=threads)
        key = model_key(settings.model, settings.descriptor_size)
    except (OSError, RuntimeError, ValueError) as exc:
        raise FirstseenError(f"cannot load the descriptor model: {exc}") from exc
    archive.claim_model(key, descriptor.dim)
    return descriptor


def open_searcher(
    archive: Archive, threads: int | None = None, budget: float | None = None
) -> Searcher:
    """A searcher using `threads` cores (default: all) for each inference and for checking
    several reference frames at once; `budget` for a still's fallbacks, else the settings'."""
    descriptor = open_descriptor(archive, threads)
    key = model_key(archive.settings.model, archive.settings.descriptor_size)
    background = Background.for_descriptor(descriptor, key)
    workers = threads or os.cpu_count() or 1
    return Searcher(
        archive,
        descriptor,
        background,
        calibration(archive.settings),
        workers=workers,
        provenance=provenance_reader(archive),
        budget=archive.settings.fallback_budget if budget is None else budget,
    )


def provenance_reader(archive: Archive) -> ProvenanceReader:
    """Reads what files say of themselves with the archive's trust list, captured items from
    their capture's WARC."""
    return ProvenanceReader(
        archive.settings.trust_anchors, partial(captured_copy, archive.captures)
    )


def calibration(settings: Settings) -> verdict.Calibration:
    """The descriptor-alone thresholds: SSCD's for the packaged SSCD, none for another model,
    either replaced by those the settings give."""
    default = verdict.SSCD if settings.model is None else verdict.KEYPOINTS_ONLY
    still, segment = settings.descriptor_alone, settings.segment_alone
    return verdict.Calibration(
        default.descriptor_alone if still is None else still,
        default.segment_alone if segment is None else segment,
    )
