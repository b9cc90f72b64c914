"""Importing an archive export (archive/exchange.py): batches of whole items, each committed in
one transaction with its thumbnails, so that an import that is stopped or killed keeps what it
committed and the same command resumes it.

Everything that can be checked before a row is written is: the manifest, the model and the
vectors' size against the archive's, every file's columns, and that every table lists its items
in the items table's order. Content the archive already holds (the same SHA-256) only gains the
sightings it did not have, so importing twice changes nothing. The vectors go to the catalog
and its vector log; the indexes catch up from there (archive/store.py).
"""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from firstseen.archive import exchange
from firstseen.archive.bulk_rows import Batch, Block, batch_of
from firstseen.archive.catalog_bulk import BulkOutcome
from firstseen.archive.media_api import StagedThumbnails
from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError

# Frames per transaction: large enough that a commit costs little beside the rows, small enough
# that a batch's vectors (2 KB a frame as read) stay a few hundred MB.
FRAMES_PER_BATCH = 65_536
# Items per transaction whose thumbnails are carried: each holds a staging folder, and an open
# lock file, until its transaction commits.
STAGED_ITEMS = 256
_READ_ROWS = 16_384  # rows read from a file at once

Files = list[tuple[Path, pq.ParquetFile]]


@dataclass(slots=True)
class ImportCounts:
    """Items added (with their frames), items already archived, sightings recorded."""

    added: int = 0
    frames: int = 0
    known: int = 0
    sightings: int = 0

    def add(self, outcome: BulkOutcome) -> None:
        self.added += outcome.added
        self.frames += outcome.frames
        self.known += outcome.known
        self.sightings += outcome.sightings


class ItemOrder:
    """Each item's place in the items table, found by its key (exchange.item_keys)."""

    def __init__(self, keys: np.ndarray, path: Path) -> None:
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]
        self.count = len(keys)
        twice = np.flatnonzero(self._keys[1:] == self._keys[:-1])
        if len(twice):
            raise FirstseenError(
                f"{path}: the item whose SHA-256 begins {int(self._keys[twice[0]]):016x}"
                " is listed twice"
            )

    def places(self, keys: np.ndarray) -> np.ndarray:
        """The items' places in the items table; -1 for those it does not list."""
        if not self.count:
            return np.full(len(keys), -1, dtype=np.int64)
        found = np.minimum(np.searchsorted(self._keys, keys), self.count - 1)
        return np.where(self._keys[found] == keys, self._order[found], -1)

    def check(self, files: Files, table: str) -> None:
        """Every row names a listed item, and the items come in the items table's order, each
        one's rows together: what lets an import read the tables side by side."""
        last = -1
        for path, sha, keys in exchange.read_keys(files, _READ_ROWS):
            places = self.places(keys)
            if (places < 0).any():
                missing = sha[int(np.argmin(places))].as_py()
                raise FirstseenError(f"{path}: item {missing} is not in the items table")
            back = np.flatnonzero(np.diff(np.concatenate([[last], places])) < 0)
            if len(back):
                raise FirstseenError(
                    f"{path}: the {table} of item {sha[int(back[0])].as_py()} come after those"
                    " of a later item: every table must list the items in the items table's"
                    " order, each item's rows together"
                )
            last = int(places[-1]) if len(places) else last


class _Rows:
    """One table read in the items' order, handed out a run of items at a time."""

    def __init__(
        self,
        batches: Iterator[tuple[Path, pa.RecordBatch]],
        schema: pa.Schema,
        place: Callable[[pa.RecordBatch], np.ndarray],
    ) -> None:
        self._batches, self._schema, self._place = batches, schema, place
        self._held: list[tuple[Path, pa.RecordBatch, np.ndarray]] = []
        self._done = False

    def _read(self) -> None:
        for path, batch in self._batches:
            if batch.num_rows:
                self._held.append((path, batch, self._place(batch)))
                return
        self._done = True

    def fill(self, rows: int) -> int:
        """Reads until `rows` are held or the table ends; returns how many are held."""
        while not self._done and sum(len(p) for *_, p in self._held) < rows:
            self._read()
        return sum(len(p) for *_, p in self._held)

    def place(self, row: int) -> int:
        """The item place of the `row`th row held."""
        for _, _, places in self._held:
            if row < len(places):
                return int(places[row])
            row -= len(places)
        raise IndexError(row)

    def carries(self, column: str) -> bool:
        """Whether any row held has a value in `column`."""
        return any(b.column(column).null_count < b.num_rows for _, b, _ in self._held)

    def take(self, until: int) -> Block:
        """The rows of the items before place `until` (those before were taken already)."""
        while not self._done and (not self._held or self._held[-1][2][-1] < until):
            self._read()
        taken: list[tuple[Path, pa.RecordBatch, np.ndarray]] = []
        while self._held:
            path, batch, places = self._held[0]
            cut = int(np.searchsorted(places, until))
            if cut:
                taken.append((path, batch.slice(0, cut), places[:cut]))
            if cut < len(places):
                self._held[0] = (path, batch.slice(cut), places[cut:])
                break
            self._held.pop(0)
        rows = pa.Table.from_batches([b for _, b, _ in taken], schema=self._schema)
        places = np.concatenate([p for *_, p in taken]) if taken else np.zeros(0, np.int64)
        return Block(rows, places, [(path, len(p)) for path, _, p in taken])


class Importer:
    """One export folder, checked, and imported into one archive."""

    def __init__(self, archive: Archive, folder: Path) -> None:
        """Checks the manifest, the model and every file; raises FirstseenError naming the
        file and what is wrong before anything is imported."""
        self.archive = archive
        self.manifest = exchange.read_manifest(folder)
        self.dim = self.manifest.dim
        manifest = folder / exchange.MANIFEST
        self._check_size(manifest)
        self._files: dict[str, Files] = {
            table: [
                (folder / name, exchange.open_table(folder / name, table, self.dim))
                for name in self.manifest.files[table]
            ]
            for table in exchange.TABLES
        }
        keys = [k for _, _, k in exchange.read_keys(self._files["items"], _READ_ROWS)]
        items_path = folder / (self.manifest.files["items"] or ["items"])[0]
        self._order = ItemOrder(
            np.concatenate(keys) if keys else np.zeros(0, np.uint64), items_path
        )
        for table in exchange.TABLES[1:]:
            self._order.check(self._files[table], table)
        self._claim(manifest)

    def _check_size(self, manifest: Path) -> None:
        held = self.archive.catalog.vector_dim()
        if held is not None and held != self.dim:
            raise FirstseenError(
                f"{manifest}: vectors of {self.dim} numbers; {self.archive.root} holds vectors"
                f" of {held}: import into a new archive"
            )

    def _claim(self, manifest: Path) -> None:
        """The vectors must be the archive's model's: an empty archive takes the export's."""
        catalog, model = self.archive.catalog, self.manifest.model
        try:
            self.archive.claim_model(model, self.dim)
        except FirstseenError:
            raise FirstseenError(
                f"{manifest}: made with model {model}, but {self.archive.root} holds vectors of"
                f" model {catalog.meta('model')}: import into a new archive"
            ) from None

    @property
    def frames(self) -> int:
        """Frames in the export, for a progress bar."""
        return sum(f.metadata.num_rows for _, f in self._files["frames"])

    def run(self, advance: Callable[[int], None] = lambda n: None) -> ImportCounts:
        """Imports every item, a batch at a time, calling `advance` with the frames of each.
        The next batch is read and checked on a thread while the last one commits."""
        counts = ImportCounts()
        batches = self._batches()
        with ThreadPoolExecutor(1, "firstseen-import") as reader:
            ahead = reader.submit(next, batches, None)
            while (batch := ahead.result()) is not None:
                ahead = reader.submit(next, batches, None)
                counts.add(self._commit(batch))
                advance(len(batch.bulk.frames))
        return counts

    def _batches(self) -> Iterator[Batch]:
        """The export's items, a batch at a time, as the catalog takes them."""
        tables = {
            table: self._rows(table, self._item_place if table == "items" else self._places)
            for table in exchange.TABLES
        }
        done, self._next_item = 0, 0
        while done < self._order.count:
            until = self._cut(tables["frames"], done)
            blocks = {table: rows.take(until) for table, rows in tables.items()}
            yield batch_of(blocks, done, self.dim)
            done = until

    def _rows(self, table: str, place: Callable[[pa.RecordBatch], np.ndarray]) -> _Rows:
        batches = exchange.read_batches(self._files[table], table, self.dim, _READ_ROWS)
        return _Rows(batches, exchange.schema(table, self.dim), place)

    def _item_place(self, batch: pa.RecordBatch) -> np.ndarray:
        start, self._next_item = self._next_item, self._next_item + batch.num_rows
        return np.arange(start, self._next_item)

    def _places(self, batch: pa.RecordBatch) -> np.ndarray:
        return self._order.places(exchange.item_keys(batch.column("sha256")))

    def _cut(self, frames: _Rows, done: int) -> int:
        """Where the batch starting at item place `done` ends: after the item of its
        FRAMES_PER_BATCH-th frame, and within STAGED_ITEMS items where thumbnails come."""
        held = frames.fill(FRAMES_PER_BATCH)
        until = frames.place(FRAMES_PER_BATCH - 1) + 1 if held >= FRAMES_PER_BATCH else None
        until = self._order.count if until is None else until
        if frames.carries("thumbnail"):
            until = min(until, done + STAGED_ITEMS)
        return max(until, done + 1)

    def _commit(self, batch: Batch) -> BulkOutcome:
        """One transaction, with the thumbnails of the items new to the archive staged first
        and moved into place as it commits."""
        carried = list(batch.thumbnails)
        known = self.archive.catalog.known_items(carried) if carried else {}
        thumbnails = self.archive.thumbnails
        with ExitStack() as stack:
            staged: list[StagedThumbnails] = []
            for sha, pictures in batch.thumbnails.items():
                if sha in known:  # it keeps its own
                    continue
                one = stack.enter_context(thumbnails.stage(sha))
                for ordinal, data in pictures:
                    one.write_jpeg(ordinal, data)
                staged.append(one)
            with thumbnails.placing_all(staged):
                return self.archive.catalog.add_bulk(batch.bulk)
