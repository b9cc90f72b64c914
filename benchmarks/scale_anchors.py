"""The scale benchmark's anchors over the very vectors firstseen searches: raw SSCD (exact inner
product over the archive's float16 descriptors, FAISS flat) and PDQ (exact Hamming distance over
the archive's hashes). Each item scores as its best frame, as in anchors.py; the query is
described by firstseen's own descriptor and hashed by its own PDQ, so that only the search differs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from metrics import Prediction, Result

from firstseen.archive.catalog import Catalog
from firstseen.media import load_image
from firstseen.signals import OnnxDescriptor, pdq_hash

SSCD_MATCH = 0.75  # as anchors.py: raw SSCD's published copy threshold
PDQ_MATCH = 31  # as anchors.py: PDQ's recommended Hamming distance
MOST_FRAMES = 600  # no item has more frames than this (the distractors' length; references fewer)
TOP = 5
# Frames fetched per query: with at most MOST_FRAMES frames an item, TOP items are among them.
FETCH = (TOP - 1) * MOST_FRAMES + 1
READ_ROWS = 65_536  # Parquet rows read at a time


class FlatAnchors:
    """Both anchors' indexes over the same frames; `owners[i]` is frame i's item name."""

    def __init__(self, dim: int) -> None:
        self.sscd = faiss.IndexScalarQuantizer(
            dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        self.pdq = faiss.IndexBinaryFlat(256)
        self.names: list[str] = []
        self.owners: list[np.ndarray] = []
        self._owner: np.ndarray | None = None

    def add(self, names: list[str], owners: np.ndarray, vectors: np.ndarray, pdq: np.ndarray):
        """Frames of the items `names`; owners index into names."""
        self.owners.append(owners + len(self.names))
        self.names.extend(names)
        self.sscd.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.pdq.add(np.ascontiguousarray(pdq, dtype=np.uint8))
        self._owner = None

    def add_archive(self, archive: Path) -> None:
        """A (small) archive's described frames, read through its catalog."""
        catalog = Catalog(archive / "catalog.sqlite")
        try:
            ids = catalog.frame_ids()
            info = catalog.frames_info(ids)
            paths = {item.id: item.path for item in catalog.items()}
            vectors = catalog.vectors(ids)
        finally:
            catalog.close()
        item_ids = sorted(paths)
        where = {item: i for i, item in enumerate(item_ids)}
        owners = np.array([where[info[int(f)].item_id] for f in ids])
        pdq = np.frombuffer(b"".join(info[int(f)].pdq for f in ids), np.uint8).reshape(-1, 32)
        self.add([paths[i] for i in item_ids], owners, vectors, pdq)

    def add_exchange(self, folder: Path, manifest: dict) -> None:
        """An exchange-format directory's frames, read a batch at a time."""
        items = pq.read_table(folder / manifest["files"]["items"][0], columns=["sha256", "path"])
        shas, base = items.column("sha256"), len(self.names)
        self.names.extend(items.column("path").to_pylist())
        for batch in _batches(folder, manifest["files"]["frames"]):
            owners = pc.index_in(batch.column("sha256"), value_set=shas).to_numpy() + base
            vectors = batch.column("descriptor").flatten().to_numpy().reshape(batch.num_rows, -1)
            hashes = batch.column("pdq")
            pdq = np.frombuffer(hashes.buffers()[1], np.uint8)
            pdq = pdq[hashes.offset * 32 : (hashes.offset + len(hashes)) * 32].reshape(-1, 32)
            self.owners.append(owners)
            self.sscd.add(np.ascontiguousarray(vectors, dtype=np.float32))
            self.pdq.add(pdq)
        self._owner = None

    @property
    def owner(self) -> np.ndarray:
        if self._owner is None:
            self._owner = np.concatenate(self.owners)
        return self._owner

    def search(self, descriptor: OnnxDescriptor, paths: list[Path]) -> dict[str, dict[str, Result]]:
        """Per anchor, query path -> result; times cover reading, describing or hashing, and the
        scan, as a deployment of either would spend."""
        out: dict[str, dict[str, Result]] = {"SSCD flat ≥0.75": {}, "PDQ ≤31": {}}
        for path in paths:
            t0 = time.perf_counter()
            rgb = load_image(path)
            vector = descriptor.describe([rgb])
            scores, frames = self.sscd.search(vector, min(FETCH, self.sscd.ntotal))
            preds = self._best(frames[0], scores[0], lambda s: s >= SSCD_MATCH)
            out["SSCD flat ≥0.75"][str(path)] = Result(preds, (time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            rgb = load_image(path)
            code = np.frombuffer(pdq_hash(rgb).bits, np.uint8)[None]
            dist, frames = self.pdq.search(code, min(FETCH, self.pdq.ntotal))
            preds = self._best(frames[0], 256.0 - dist[0], lambda s: 256 - s <= PDQ_MATCH)
            out["PDQ ≤31"][str(path)] = Result(preds, (time.perf_counter() - t0) * 1000)
        return out

    def _best(self, frames: np.ndarray, scores: np.ndarray, match) -> list[Prediction]:
        """The TOP items by their best frame, from frames sorted best first."""
        preds: list[Prediction] = []
        seen: set[int] = set()
        for frame, score in zip(frames, scores, strict=True):
            if frame < 0:  # FAISS pads with -1 when fewer frames exist
                break
            item = int(self.owner[frame])
            if item in seen:
                continue
            seen.add(item)
            preds.append(Prediction(self.names[item], float(score), bool(match(score))))
            if len(preds) == TOP:
                break
        return preds


def _batches(folder: Path, files: list[str]) -> Iterator:
    for name in files:
        yield from pq.ParquetFile(folder / name).iter_batches(
            READ_ROWS, columns=["sha256", "descriptor", "pdq"]
        )
