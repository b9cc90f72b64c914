"""Exporting an archive in the exchange format (archive/exchange.py): the catalog read as one
consistent snapshot and written table by table, a row group at a time, so that an archive of
any size is exported in bounded memory; the manifest is written last, so that a folder with a
manifest is a whole export."""

from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from firstseen.archive import exchange
from firstseen.archive.records import ExportBatches
from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError
from firstseen.signals import model_key

# Frames per row group: what an import reads and commits at once.
ROW_GROUP_FRAMES = 65_536
# Thumbnail bytes per row group: about 30 KB a frame would make a full row group 2 GB.
ROW_GROUP_BYTES = 64 << 20
FRAMES_PER_FILE = 16 * ROW_GROUP_FRAMES  # a frames file then stays a few GB at most
_FETCH = 4096  # catalog rows read at once
_TEXT_COLUMNS = ["sha256", "kind", "origin", "path", "url", "title", "published"]


def export_archive(
    archive: Archive,
    folder: Path,
    thumbnails: bool = True,
    advance: Callable[[int], None] = lambda n: None,
) -> exchange.Manifest:
    """Writes the archive's items, sightings, frames (with their thumbnails unless not
    `thumbnails`) and parts into `folder`, which must be new or empty; `advance` is called with
    the frames of each row group written."""
    _new_folder(folder)
    catalog = archive.catalog
    dim = catalog.vector_dim() or archive.dim
    files: dict[str, list[str]] = {table: [] for table in exchange.TABLES}
    counts: dict[str, int] = {}
    with closing(_Tables(catalog.export_rows(_FETCH))) as read:
        for table in exchange.TABLES:
            batches = _batches(archive, table, dim, thumbnails, read.rows(table))
            if table == "frames":
                batches = _counted(batches, advance)
            counts[table] = _write(folder, table, dim, batches, files[table])
    manifest = exchange.Manifest(_model(archive), dim, counts, files)
    exchange.write_manifest(folder, manifest)
    return manifest


class _Tables:
    """The catalog's export rows (`CatalogStore.export_rows`) handed out table by table."""

    def __init__(self, stream: ExportBatches) -> None:
        self._stream = stream
        self._next = next(stream, None)

    def rows(self, table: str) -> Iterator[list[tuple[Any, ...]]]:
        """The next batches of rows while they are `table`'s (none if it has none)."""
        while self._next is not None and self._next[0] == table:
            yield self._next[1]
            self._next = next(self._stream, None)

    def close(self) -> None:
        """Ends the catalog's snapshot, however far the export got."""
        self._stream.close()


def _new_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.iterdir()):
            raise FirstseenError(f"{folder}: not empty: export into a new folder")
    except OSError as exc:
        raise FirstseenError(f"{folder}: {exc.strerror or exc}") from None


def _model(archive: Archive) -> str:
    """The model the archive's vectors were made with: as it recorded it, else (no vectors
    yet) the one its settings name."""
    recorded = archive.catalog.meta("model")
    if recorded:
        return recorded
    try:
        return model_key(archive.settings.model, archive.settings.descriptor_size)
    except OSError as exc:
        raise FirstseenError(f"cannot name the archive's model: {exc}") from None


def _counted(
    batches: Iterator[pa.RecordBatch], advance: Callable[[int], None]
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield batch
        advance(batch.num_rows)


def _write(
    folder: Path, table: str, dim: int, batches: Iterator[pa.RecordBatch], names: list[str]
) -> int:
    """Writes the batches, one row group each, into the table's files (frames split every
    FRAMES_PER_FILE rows); records the files in `names`, returns the rows written."""
    schema = exchange.schema(table, dim)
    writer: pq.ParquetWriter | None = None
    rows = in_file = 0
    try:
        for batch in _or_empty(batches, schema):
            if writer is None or (table == "frames" and in_file >= FRAMES_PER_FILE):
                if writer is not None:
                    writer.close()
                names.append(_file_name(table, len(names)))
                writer = pq.ParquetWriter(
                    folder / names[-1],
                    schema,
                    use_dictionary=[c for c in _TEXT_COLUMNS if c in schema.names],
                )
                in_file = 0
            writer.write_batch(batch, row_group_size=max(1, batch.num_rows))
            rows += batch.num_rows
            in_file += batch.num_rows
    except OSError as exc:
        raise FirstseenError(f"{folder}: {exc.strerror or exc} while writing the {table}") from None
    finally:
        if writer is not None:
            writer.close()
    return rows


def _file_name(table: str, number: int) -> str:
    return f"frames-{number:05d}.parquet" if table == "frames" else f"{table}.parquet"


def _or_empty(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The batches, or one empty batch where there are none: every table has a file."""
    empty = True
    for batch in batches:
        empty = False
        yield batch
    if empty:
        yield pa.RecordBatch.from_pylist([], schema=schema)


def _batches(
    archive: Archive,
    table: str,
    dim: int,
    thumbnails: bool,
    read: Iterator[list[tuple[Any, ...]]],
) -> Iterator[pa.RecordBatch]:
    """The table's rows as read from the catalog, a row group at a time."""
    schema = exchange.schema(table, dim)
    pending: list[tuple[Any, ...]] = []
    held = 0  # thumbnail bytes pending
    for rows in read:
        if table == "frames":
            rows = [_frame(archive, row, thumbnails) for row in rows]
            held += sum(len(row[-1] or b"") for row in rows)
        elif table == "parts":
            rows = [
                (sha, ordinal, slot, _floats(vector, dim)) for sha, ordinal, slot, vector in rows
            ]
        pending += rows
        if len(pending) >= ROW_GROUP_FRAMES or held >= ROW_GROUP_BYTES:
            yield _batch(pending, schema, dim)
            pending, held = [], 0
    if pending:
        yield _batch(pending, schema, dim)


def _frame(archive: Archive, row: tuple[Any, ...], thumbnails: bool) -> tuple[Any, ...]:
    """A frame's catalog row as the format lists it: its thumbnail's bytes read in."""
    sha, ordinal, time, vector, pdq, quality = row
    picture = archive.thumbnails.read_jpeg(sha, ordinal) if thumbnails and vector else None
    return sha, ordinal, time, vector, pdq, quality, picture


def _floats(vector: bytes, dim: int) -> bytes:
    if len(vector) != 2 * dim:
        raise FirstseenError(f"a stored vector holds {len(vector) // 2} numbers, not {dim}")
    return vector


def _batch(rows: list[tuple[Any, ...]], schema: pa.Schema, dim: int) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    arrays = []
    for field, values in zip(schema, columns, strict=True):
        if field.name == "descriptor":
            arrays.append(_vectors(values, dim))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _vectors(blobs: tuple[bytes, ...], dim: int) -> pa.Array:
    """Stored float16 vectors as the format's float32 ones; an empty one (a hash-only frame)
    as null."""
    valid = np.array([len(b) > 0 for b in blobs], dtype=bool)
    floats = np.zeros((len(blobs), dim), dtype=np.float32)
    if valid.any():
        joined = b"".join(_floats(b, dim) for b in blobs if b)
        floats[valid] = np.frombuffer(joined, np.float16).reshape(-1, dim)
    return pa.FixedSizeListArray.from_arrays(pa.array(floats.ravel()), dim, mask=pa.array(~valid))
