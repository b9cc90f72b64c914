"""The embedded vector index: a base kept in one FAISS file, plus what changed since it was
written, held in memory.

The base is exact (a flat index) while that is cheap, and approximate past
`INDEX.approximate_from` vectors (IVF with PQ codes, built by faiss_build.py), whose shortlist
is re-scored exactly from the catalog's float16 vectors, so scores are the same either way.
Changes since the base are a small flat index of added vectors and a set of removed base ids,
which searches skip; the base file is rewritten only when enough has changed (index_sync.py
decides), so adding one photo to ten million frames touches that photo's vectors only.

A file that cannot be read opens as an empty index with `damage` saying why: the catalog has
every vector, so the caller rebuilds it. Every operation holds a lock, so a search running beside
a change sees the index before or after it, never in between.
"""

import struct
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from firstseen.archive.durable import replace_file
from firstseen.archive.index_api import Stamp
from firstseen.archive.rescore import Exact, best, rescored
from firstseen.tuning import INDEX

# Written after the FAISS data, which FAISS reads without looking past its end: the catalog's
# identity (32 hex characters), the revision, and a mark that says the trailer is there.
_MARK = b"firstseen-stamp1"
_TRAILER = struct.Struct(f"<32sq{len(_MARK)}s")


def read_stamp(path: Path) -> Stamp | None:
    """The stamp of an index file; None if it has none (missing, or written before stamps)."""
    try:
        with path.open("rb") as stream:
            stream.seek(-_TRAILER.size, 2)
            catalog, revision, mark = _TRAILER.unpack(stream.read(_TRAILER.size))
    except (OSError, struct.error):
        return None
    return Stamp(catalog.decode("ascii", "replace"), revision) if mark == _MARK else None


def write_index(path: Path, index: faiss.Index, stamp: Stamp) -> None:
    """Writes `index` whole or not at all (archive/durable.py), stamped."""
    trailer = _TRAILER.pack(stamp.catalog.encode("ascii"), stamp.revision, _MARK)
    replace_file(path, faiss.serialize_index(index), trailer)


def empty_flat(dim: int) -> faiss.IndexIDMap2:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def read_base(path: Path, dim: int) -> tuple[faiss.Index | None, str | None]:
    """(the index in a file, None) or (None, why it cannot be used)."""
    try:
        read = faiss.read_index(str(path))
    except RuntimeError as exc:
        return None, str(exc).strip().splitlines()[-1]
    if not isinstance(read, faiss.IndexIDMap2 | faiss.IndexIVF):
        return None, f"it holds a {type(read).__name__}, not vectors by id"
    if read.d != dim:
        raise ValueError(f"{path} holds {read.d}-d vectors, the model gives {dim}")
    return read, None


def base_ids(base: faiss.Index) -> np.ndarray:
    """Every id a base holds: the id map of a flat one, the inverted lists of an IVF one."""
    if isinstance(base, faiss.IndexIVF):
        return lists_ids(base, range(base.nlist))
    if isinstance(base, faiss.IndexIDMap2):
        return faiss.vector_to_array(base.id_map).astype(np.int64)
    raise TypeError(f"a {type(base).__name__} is not a base")


def lists_ids(base: faiss.IndexIVF, lists: Iterable[int]) -> np.ndarray:
    """The ids held in some inverted lists of an approximate base."""
    held = base.invlists
    if held is None:
        return np.zeros(0, np.int64)
    found = [
        faiss.rev_swig_ptr(held.get_ids(n), held.list_size(n)).copy()
        for n in lists
        if held.list_size(n)
    ]
    return np.concatenate(found).astype(np.int64) if found else np.zeros(0, np.int64)


@contextmanager
def threads(count: int) -> Iterator[None]:
    """FAISS's OpenMP threads for what runs inside, on the calling thread only: OpenMP keeps the
    setting per thread, so the searches of other threads keep theirs."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def flat_search(
    index: faiss.Index, queries: np.ndarray, k: int, params: faiss.SearchParameters | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """An exhaustive search; of one query vector (most of a still's first pass) on the calling
    thread alone: on two threads FAISS took twice the CPU for it and no less time (2 cores:
    20k vectors 2.0 ms wall and 4.0 CPU against 1.6 and 1.6 on one thread, 250k 46 and 91
    against 40 and 40; benchmarks/flat_threads.py). Several vectors share the threads, which
    halves their wall time."""
    with threads(1 if len(queries) == 1 else faiss.omp_get_max_threads()):
        return index.search(queries, k, params=params)


class FaissIndex:
    """A base (flat or IVF-PQ, from a file) and the changes since it, searched as one."""

    def __init__(self, path: Path, dim: int, exact: Exact) -> None:
        self.path = path
        self.dim = dim
        self._exact = exact
        self._lock = threading.RLock()
        self.stamp: Stamp | None = None
        self.damage: str | None = None
        base = None
        if path.exists():
            base, self.damage = read_base(path, dim)
            if base is not None:
                self.stamp = read_stamp(path)
        self._set_base(base if base is not None else empty_flat(dim), self.stamp)

    def _set_base(self, base: faiss.Index, stamp: Stamp | None) -> None:
        with self._lock:
            self._base = base
            self.stamp = stamp
            self._recent = empty_flat(self.dim)
            self._added: set[int] = set()  # ids added since the base, held by _recent
            self._dropped: set[int] = set()  # ids added since the base and removed since
            self._gone: set[int] = set()  # ids of the base removed since
            self._skip: faiss.IDSelector | None = None

    def replace_base(self, base: faiss.Index, stamp: Stamp) -> None:
        """Swaps in a base that holds everything up to `stamp` (a compaction, or a newer file
        written by another process); the changes held since are dropped with the old one."""
        self._set_base(base, stamp)

    @property
    def approximate(self) -> bool:
        return isinstance(self._base, faiss.IndexIVF)

    @property
    def pending(self) -> int:
        """Vectors added or removed since the base."""
        return len(self._added) + len(self._dropped) + len(self._gone)

    def base_size(self) -> int:
        return int(self._base.ntotal)

    @property
    def base(self) -> faiss.Index:
        return self._base

    def gone_ids(self) -> np.ndarray:
        with self._lock:
            return np.fromiter(self._gone, np.int64, len(self._gone))

    def add(self, ids: np.ndarray, vectors: np.ndarray, span: np.ndarray | None = None) -> None:
        """Adds vectors under new ids; ids already added are skipped, and a removed base id
        coming back (a removal undone) is simply no longer skipped. `span` names ids the same
        change added that are gone since (the log's range), so that removing them later does
        not count them out of the base."""
        with self._lock:
            if span is not None:
                self._dropped.update(set(span.tolist()) - set(ids.tolist()) - self._added)
            self._dropped -= set(ids.tolist())
            keep = [n for n, i in enumerate(ids.tolist()) if i not in self._added]
            returning = {int(ids[n]) for n in keep} & self._gone
            if returning:
                self._gone -= returning
                self._skip = None
                keep = [n for n in keep if int(ids[n]) not in returning]
            if keep:
                fresh = np.asarray(ids, dtype=np.int64)[keep]
                self._recent.add_with_ids(
                    np.ascontiguousarray(np.asarray(vectors)[keep], np.float32), fresh
                )
                self._added.update(fresh.tolist())

    def remove(self, ids: np.ndarray) -> None:
        """Removes ids: from the recent vectors if they were added since the base, else by
        skipping them in the base from now on."""
        with self._lock:
            wanted = np.asarray(ids, dtype=np.int64)
            recent = [i for i in wanted.tolist() if i in self._added]
            if recent:
                # faiss's wrapper takes an id array; its stub names only IDSelector.
                self._recent.remove_ids(np.array(recent, np.int64))  # type: ignore[arg-type]
                self._added -= set(recent)
                self._dropped |= set(recent)
            base = set(wanted.tolist()) - self._dropped - self._gone
            if base:
                self._gone |= base
                self._skip = None

    def __len__(self) -> int:
        with self._lock:
            return int(self._base.ntotal) - len(self._gone) + int(self._recent.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            held = base_ids(self._base)
            if self._gone:
                held = held[~np.isin(held, np.fromiter(self._gone, np.int64))]
            recent = faiss.vector_to_array(self._recent.id_map).astype(np.int64)
            return np.concatenate([held, recent])

    def held_vectors(self, ids: np.ndarray) -> np.ndarray:
        """The vectors held under `ids`, from the recent ones or an exact base (for checking
        them against the catalog; an approximate base holds codes, not vectors)."""
        with self._lock:
            return np.stack(
                [
                    (self._recent if int(i) in self._added else self._base).reconstruct(int(i))
                    for i in ids
                ]
            )

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, np.float32)
        with self._lock:
            k = max(1, min(k, len(self)))
            if not len(self):
                empty = np.full((len(queries), 1), -1, dtype=np.int64)
                return np.zeros(empty.shape, np.float32), empty
            scores, ids = self._search_base(queries, k)
            if self._recent.ntotal:
                more_scores, more_ids = flat_search(self._recent, queries, k)
                scores = np.concatenate([scores, more_scores], axis=1)
                ids = np.concatenate([ids, more_ids], axis=1)
        return best(scores, ids, k)

    def _search_base(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if not self._base.ntotal:
            shape = (len(queries), k)
            return np.full(shape, -np.inf, np.float32), np.full(shape, -1, np.int64)
        base = self._base
        if not isinstance(base, faiss.IndexIVF):
            return flat_search(base, queries, k, self._params())
        # FAISS splits a search by query vectors, so one vector would keep one core busy and
        # leave the others idle; a few vectors are searched in turn, each over all the threads.
        few = len(queries) < INDEX.split_lists_below * faiss.omp_get_max_threads()
        base.parallel_mode = 1 if few else 0
        _, shortlist = base.search(queries, max(k, INDEX.shortlist), params=self._params())
        return rescored(queries, shortlist, k, self._exact)

    def _params(self) -> faiss.SearchParameters | None:
        if self._skip is None and self._gone:
            self._keep = faiss.IDSelectorBatch(np.fromiter(self._gone, np.int64))
            self._skip = faiss.IDSelectorNot(self._keep)  # which does not keep _keep alive
        params: faiss.SearchParameters
        if self.approximate:
            ivf = faiss.SearchParametersIVF()
            ivf.nprobe = INDEX.nprobe
            params = ivf
        elif self._skip is None:
            return None
        else:
            params = faiss.SearchParameters()
        if self._skip is not None:
            params.sel = self._skip
        return params
