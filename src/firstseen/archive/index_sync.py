"""One vector index (of frames, or of parts of photos) kept in step with the catalog.

The catalog is the truth; the index file is a cache of it at one revision (its stamp). Opening
replays the catalog's vector log after that revision into memory; a running process catches up
with other processes' writes the same way (`catch_up`), so a CLI `add` beside a server costs the
server that item's vectors only. The file is rewritten (`compact`) only when enough has changed
since it was written (`INDEX.replay_most`, or at every save while the index is small), from a
snapshot of the catalog, so it always holds exactly one revision. A file from another catalog,
damaged, from before the log, or that fails the spot check is rebuilt from the catalog.
"""

import logging
from pathlib import Path

import faiss
import numpy as np

from firstseen.archive.catalog_api import CatalogStore, Snapshot
from firstseen.archive.faiss_build import built, fits, merged
from firstseen.archive.faiss_index import (
    FaissIndex,
    base_ids,
    lists_ids,
    read_base,
    read_stamp,
    write_index,
)
from firstseen.archive.index_api import Stamp
from firstseen.archive.index_replay import logged_changes, replay, replayable
from firstseen.tuning import INDEX

log = logging.getLogger(__name__)

# Ids of the base checked against the catalog on open: enough to catch a wrong file, cheap at
# any size.
_CHECKED = 32
# Largest difference from the catalog's float16 copy of a unit vector that is only rounding.
_ROUNDING = 2e-3
# An approximate base's vector is checked to lie in one of this many lists nearest to the
# catalog's copy (the quantizer's graph may not find the very nearest when adding).
_NEAR_LISTS = 8


class SyncedIndex:
    """A `FaissIndex` at `path` for vectors of `kind`, and the catalog revision it reflects."""

    def __init__(self, path: Path, kind: str, catalog: CatalogStore, dim: int) -> None:
        self.path = path
        self.kind = kind
        self.catalog = catalog
        self.dim = dim
        self.index = self._fresh()
        self.revision = 0
        self.changed = False  # set when a catch-up removed or replaced anything

    def _fresh(self) -> FaissIndex:
        return FaissIndex(
            self.path, self.dim, lambda ids: self.catalog.stored_vectors(self.kind, ids)
        )

    def open(self) -> None:
        """Loads the file, replays the log after its stamp and spot-checks it; rebuilds from
        the catalog (and writes the file) if it cannot be used."""
        index = self.index
        if index.damage:
            log.warning(
                "archive: %s is damaged (%s): rebuilt from the catalog",
                self.path.name,
                index.damage,
            )
        stamp = index.stamp
        if index.damage is None and stamp is not None and replayable(stamp, self.catalog):
            self.revision = stamp.revision
            self.catch_up()
            if self._agrees():
                return
        self.compact(rebuild=True)

    def catch_up(self) -> bool:
        """Applies what the catalog's log holds after the index's revision; True if anything
        was applied. Too much to hold in memory is merged into a new base instead."""
        revision = self.catalog.vectors_revision()
        if revision == self.revision:
            return False
        changes = logged_changes(self.catalog, self.kind, self.revision, revision)
        if self.index.pending + sum(c.hi - c.lo + 1 for c in changes) > INDEX.replay_most:
            self._reload_or_compact()
            return True
        self.changed |= replay(self.catalog, self.kind, changes, self.index)
        self.revision = revision
        return bool(changes)

    def _reload_or_compact(self) -> None:
        """Takes the file another process wrote since, if it is newer; else writes one."""
        stamp = read_stamp(self.path)
        current = self.index.stamp
        newer = current is None or (stamp is not None and stamp.revision > current.revision)
        if stamp is not None and newer and replayable(stamp, self.catalog):
            base, damage = read_base(self.path, self.dim)
            if base is not None and damage is None:
                self.index.replace_base(base, stamp)
                self.revision = stamp.revision
                self.changed = True
                self.catch_up()
                return
        self.compact()

    def save(self) -> None:
        """Rewrites the file if it is due (`due`), or writes the base in memory where writing
        it failed before; raises SaveError if it cannot be written."""
        if self.due():
            self.compact()
            return
        on_disk, held = read_stamp(self.path), self.index.stamp
        if held and (
            on_disk is None or on_disk.catalog != held.catalog or on_disk.revision < held.revision
        ):
            write_index(self.path, self.index.base, held)

    def due(self) -> bool:
        """Whether the file should be rewritten now: missing or not this catalog's, a base of
        the wrong kind for the size, a small index that changed, or more changes held in
        memory than a cold open should replay."""
        if self.index.stamp is None or read_stamp(self.path) is None:
            return True
        pending = self.index.pending
        if pending and not fits(self.index.base, len(self.index)):
            return True  # grown past (or shrunk below) what the base's kind is for
        return bool(pending) and (
            len(self.index) < INDEX.rewrite_below or pending >= INDEX.replay_most
        )

    def compact(self, rebuild: bool = False) -> None:
        """Writes a new base holding the catalog at its current revision, merged from the
        current base and the log, or built from every stored vector (`rebuild`, or when the
        base no longer fits the size); raises SaveError if the file cannot be written, after
        the new base is in use all the same."""
        snapshot = self.catalog.snapshot()
        try:
            stamp = Stamp(self.catalog.identity, snapshot.revision)
            base = self._base_for(snapshot, rebuild)
        finally:
            snapshot.close()
        self.index.replace_base(base, stamp)
        self.revision = stamp.revision
        self.changed = True
        on_disk = read_stamp(self.path)
        if on_disk and on_disk.catalog == stamp.catalog and on_disk.revision >= stamp.revision:
            return  # another process wrote this revision or a later one meanwhile
        write_index(self.path, base, stamp)

    def _base_for(self, snapshot: Snapshot, rebuild: bool) -> faiss.Index:
        current = self.index
        stamp = current.stamp
        if not rebuild and stamp is not None and replayable(stamp, self.catalog):
            changes = snapshot.changes(stamp.revision)
            added = sum(c.hi - c.lo + 1 for c in changes if c.kind == self.kind and not c.removed)
            if fits(current.base, current.base_size() + added):
                return merged(current.base, changes, snapshot, self.kind)
        return built(snapshot, self.kind, self.dim)

    def _agrees(self) -> bool:
        """Whether the base holds each id once and, for a spot sample of them, the catalog's
        vector (exactly, for a flat base; in one of its nearest lists, for an approximate one)."""
        base = self.index.base
        if isinstance(base, faiss.IndexIVF):
            held = lists_ids(base, np.linspace(0, base.nlist - 1, _CHECKED).astype(int).tolist())
        else:
            held = base_ids(base)
            if len(np.unique(held)) != len(held):
                return False
        held = np.sort(held[~np.isin(held, self.index.gone_ids())])
        if not len(held):
            return True
        spread = held[np.linspace(0, len(held) - 1, _CHECKED).astype(int)]
        sample = np.union1d(held[-_CHECKED:], spread)
        found, vectors = self.catalog.stored_vectors(self.kind, sample)
        if len(found) != len(sample):
            return False
        if isinstance(base, faiss.IndexIVF):
            return _in_near_lists(base, found, vectors)
        return bool(np.all(np.abs(self.index.held_vectors(found) - vectors) <= _ROUNDING))


def _in_near_lists(base: faiss.IndexIVF, ids: np.ndarray, vectors: np.ndarray) -> bool:
    """Whether each id is held in one of the lists nearest to its catalog vector."""
    centroids = base.quantizer.reconstruct_n(0, base.nlist)
    near = np.argsort(-(vectors @ centroids.T), axis=1)[:, :_NEAR_LISTS]
    for i, lists in zip(ids.tolist(), near.tolist(), strict=True):
        if i not in set(lists_ids(base, lists).tolist()):
            return False
    return True
