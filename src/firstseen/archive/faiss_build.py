"""Building the base of a vector index from the catalog: flat while small, IVF-PQ past
`INDEX.approximate_from`, trained on the archive's own vectors and trained again once it has
grown `INDEX.retrain_growth` times; otherwise an existing base is merged with what changed."""

import math
from collections.abc import Iterable

import faiss
import numpy as np

from firstseen.archive.catalog_api import Snapshot
from firstseen.archive.faiss_index import empty_flat
from firstseen.archive.records import VectorChange
from firstseen.tuning import INDEX

# IVF lists: never fewer (small archives) nor more (training cost) than these.
_MIN_LISTS, _MAX_LISTS = 256, 16_384
# The coarse quantizer finds a vector's lists through a graph of this many links per node, not
# by comparing it with every list: adding ten million vectors stays minutes, not hours.
_QUANTIZER_LINKS = 32


def lists_for(n: int) -> int:
    """IVF lists for `n` vectors: INDEX.lists_per_million scaled with sqrt(n), rounded down to
    a power of two (adding costs more per list than searching gains)."""
    wanted = INDEX.lists_per_million * math.sqrt(max(n, 1) / 1e6)
    return int(np.clip(2 ** math.floor(math.log2(max(wanted, 1))), _MIN_LISTS, _MAX_LISTS))


def wants_approximate(n: int, now_approximate: bool) -> bool:
    """Whether `n` vectors call for an approximate base; one that is approximate stays so down
    to half the threshold, so an archive at the threshold does not flip at every change."""
    return n >= INDEX.approximate_from // (2 if now_approximate else 1)


def fits(base: faiss.Index, n: int) -> bool:
    """Whether a base can be merged with changes to hold `n` vectors, rather than built anew:
    the same kind, and an approximate one not outgrown since it was trained."""
    if not isinstance(base, faiss.IndexIVF):
        return not wants_approximate(n, False)
    return wants_approximate(n, True) and lists_for(n) < base.nlist * INDEX.retrain_growth // 2


def merged(
    base: faiss.Index, changes: list[VectorChange], snapshot: Snapshot, kind: str
) -> faiss.Index:
    """A copy of `base` with the logged changes of `kind` applied, vectors read from the
    snapshot (removals first: ids are never reused, so order does not matter otherwise)."""
    fresh = faiss.clone_index(base)
    ranges = [c for c in changes if c.kind == kind]
    removed = [np.arange(c.lo, c.hi + 1, dtype=np.int64) for c in ranges if c.removed]
    if removed:  # one pass over the base, whatever the number of removals
        fresh.remove_ids(faiss.IDSelectorBatch(np.concatenate(removed)))
    for change in ranges:
        if not change.removed:
            _add(fresh, snapshot.vectors_in(kind, change.lo, change.hi))
    return fresh


def built(snapshot: Snapshot, kind: str, dim: int) -> faiss.Index:
    """A base holding every vector of `kind` in the snapshot: flat, or IVF-PQ trained on a
    sample of them."""
    count = snapshot.count(kind)
    base: faiss.Index = empty_flat(dim)
    if wants_approximate(count, False):
        base = _trained(snapshot.sample(kind, INDEX.train_sample), dim, lists_for(count))
    _add(base, snapshot.all_vectors(kind))
    return base


def _trained(sample: np.ndarray, dim: int, lists: int) -> faiss.IndexIVFPQ:
    spec = f"IVF{lists}_HNSW{_QUANTIZER_LINKS},PQ{INDEX.pq_bytes}"
    index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    if not isinstance(index, faiss.IndexIVFPQ):
        raise TypeError(f"faiss made a {type(index).__name__} of {spec}")
    # Polysemous training orders each sub-quantizer's centroids so that codes can be compared by
    # Hamming distance; searches here compare them by table look-ups (ADC) only, and the
    # ordering cost two thirds of the training time (57 of 86 s at 1M).
    index.do_polysemous_training = False  # type: ignore[attr-defined]  # not in faiss's stub
    index.train(np.ascontiguousarray(sample, np.float32))
    return index


def _add(base: faiss.Index, chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
    for ids, vectors in chunks:
        if len(ids):
            base.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids)
