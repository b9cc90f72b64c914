"""The exchange format (version 1): an archive's content as a folder of Parquet files and a
manifest, how a fleet of GPU workers, a backup or a migration hands its work over (README,
"Exchange format").

Four tables, each keyed by the item's SHA-256: items, sightings, frames and parts. Every table
lists its items in the same order, each item's rows together, so that an import joins them
while reading, a batch of items at a time, never the whole archive. Readers ignore columns they
do not know; a missing column, a column of another type, vectors of another size or a file that
is not Parquet at all is refused in one line naming the file.
"""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from firstseen.errors import FirstseenError

FORMAT = "firstseen-archive"
VERSION = 1
MANIFEST = "manifest.json"
TABLES = ("items", "sightings", "frames", "parts")

_SHA = r"^[0-9a-f]{64}$"
# Text and bytes may come as Arrow's 64-bit-offset kinds too (what polars writes).
_ALSO = {pa.string(): pa.large_string(), pa.binary(): pa.large_binary()}


def columns(table: str, dim: int) -> dict[str, pa.DataType]:
    """The columns a table must have, by name, with their types."""
    vector = pa.list_(pa.float32(), dim)
    return {
        "items": {
            "sha256": pa.string(),
            "kind": pa.string(),
            "width": pa.int32(),
            "height": pa.int32(),
            "duration": pa.float64(),
            "bytes": pa.int64(),
            "added_at": pa.string(),
            "origin": pa.string(),
            "path": pa.string(),
        },
        "sightings": {
            "sha256": pa.string(),
            "path": pa.string(),
            "url": pa.string(),
            "title": pa.string(),
            "published": pa.string(),
            "seen_at": pa.string(),
        },
        "frames": {
            "sha256": pa.string(),
            "ordinal": pa.int32(),
            "time": pa.float64(),
            "descriptor": vector,
            "pdq": pa.binary(32),
            "pdq_quality": pa.int32(),
            "thumbnail": pa.binary(),
        },
        "parts": {
            "sha256": pa.string(),
            "ordinal": pa.int32(),
            "slot": pa.int8(),
            "descriptor": vector,
        },
    }[table]


# Columns that may hold nulls; every other one must not.
NULLABLE = {
    "items": {"duration"},
    "sightings": {"url", "title", "published"},
    "frames": {"time", "descriptor", "thumbnail"},
    "parts": set(),
}


def schema(table: str, dim: int) -> pa.Schema:
    return pa.schema(
        [pa.field(n, t, nullable=n in NULLABLE[table]) for n, t in columns(table, dim).items()]
    )


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the folder holds: whose vectors (`model`, `dim`), how many rows, in which files."""

    model: str
    dim: int
    counts: dict[str, int]
    files: dict[str, list[str]]
    created: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": self.model,
            "dim": self.dim,
            "descriptor": "float32",
            "created": self.created or datetime.now(UTC).replace(microsecond=0).isoformat(),
            "counts": self.counts,
            "files": self.files,
        }


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Written last, so that a folder with a manifest is a complete export."""
    text = json.dumps(manifest.as_json(), indent=2) + "\n"
    (folder / MANIFEST).write_text(text, encoding="utf-8")


def read_manifest(folder: Path) -> Manifest:
    """The folder's manifest, checked; raises FirstseenError naming it and what is wrong."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FirstseenError(f"{path}: no such file (not an exported archive)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FirstseenError(f"{path}: not a readable manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FirstseenError(f"{path}: not a firstseen archive export (format is not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise FirstseenError(
            f"{path}: format version {data.get('version')!r}; this firstseen reads {VERSION}"
        )
    if data.get("descriptor") != "float32":
        raise FirstseenError(f"{path}: descriptors are {data.get('descriptor')!r}, not float32")
    model, dim, files = data.get("model"), data.get("dim"), data.get("files")
    if not isinstance(model, str) or not model:
        raise FirstseenError(f"{path}: no model named")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0:
        raise FirstseenError(f"{path}: dim is {dim!r}, not a positive whole number")
    if not isinstance(files, dict) or not all(
        isinstance(files.get(t), list) and all(isinstance(n, str) for n in files[t]) for t in TABLES
    ):
        raise FirstseenError(f"{path}: files must list the {', '.join(TABLES)} files")
    given = data.get("counts")
    counts = given if isinstance(given, dict) else {}
    return Manifest(model, dim, counts, {t: files[t] for t in TABLES}, str(data.get("created")))


def open_table(path: Path, table: str, dim: int) -> pq.ParquetFile:
    """A table's file, its columns checked against the format; raises FirstseenError naming the
    file and the reason (not Parquet, truncated, a column missing or of another type)."""
    try:
        # Without pre-buffering: with it, pyarrow keeps every row group read so far until the
        # file is closed (2 KB a frame: 21 GB for a 10M-frame import).
        parquet = pq.ParquetFile(path, pre_buffer=False)
        found = parquet.schema_arrow
    except (OSError, pa.ArrowException) as exc:
        raise FirstseenError(f"{path}: not a readable Parquet file ({exc})") from None
    for name, wanted in columns(table, dim).items():
        index = found.get_field_index(name)
        if index < 0:
            raise FirstseenError(f"{path}: no column {name!r} (a {table} table needs it)")
        kind = found.field(index).type
        if kind == wanted or _ALSO.get(wanted) == kind:
            continue
        if pa.types.is_fixed_size_list(wanted) and pa.types.is_fixed_size_list(kind):
            raise FirstseenError(
                f"{path}: column {name!r} holds vectors of {kind.list_size} numbers of"
                f" {kind.value_type}; the manifest says {dim} of float"
            )
        raise FirstseenError(f"{path}: column {name!r} is {kind}, not {wanted}")
    return parquet


def read_batches(
    parquets: Sequence[tuple[Path, pq.ParquetFile]], table: str, dim: int, rows: int
) -> Iterator[tuple[Path, pa.RecordBatch]]:
    """The table's required columns, `rows` at a time, file after file, in the format's types;
    a file that breaks while read raises FirstseenError naming it."""
    wanted = schema(table, dim)
    for path, parquet in parquets:
        try:
            for batch in parquet.iter_batches(batch_size=rows, columns=wanted.names):
                checked = pa.RecordBatch.from_arrays(
                    [batch.column(f.name).cast(f.type) for f in wanted],
                    schema=wanted,
                )
                _check_values(path, checked, table)
                yield path, checked
        except (OSError, pa.ArrowException) as exc:
            raise FirstseenError(f"{path}: cannot be read ({exc})") from None


def read_keys(
    parquets: Sequence[tuple[Path, pq.ParquetFile]], rows: int
) -> Iterator[tuple[Path, pa.Array, np.ndarray]]:
    """Each table row's SHA-256, checked, and its key (`item_keys`), reading that column only."""
    for path, parquet in parquets:
        try:
            for batch in parquet.iter_batches(batch_size=rows, columns=["sha256"]):
                sha = batch.column("sha256").cast(pa.string())
                _check_sha(path, sha)
                yield path, sha, item_keys(sha)
        except (OSError, pa.ArrowException) as exc:
            raise FirstseenError(f"{path}: cannot be read ({exc})") from None


def _check_values(path: Path, batch: pa.RecordBatch, table: str) -> None:
    """Values the catalog cannot hold: nulls where none may be, malformed SHA-256s."""
    for name in batch.schema.names:
        if name not in NULLABLE[table] and batch.column(name).null_count:
            raise FirstseenError(f"{path}: column {name!r} has empty values")
    _check_sha(path, batch.column("sha256"))


def _check_sha(path: Path, sha: pa.Array) -> None:
    if sha.null_count:
        raise FirstseenError(f"{path}: column 'sha256' has empty values")
    good = pc.match_substring_regex(sha, _SHA)
    if not pc.all(good).as_py():
        bad = sha[pc.index(good, False).as_py()].as_py()
        raise FirstseenError(f"{path}: {bad!r} is not a SHA-256 (64 lowercase hex digits)")


def item_keys(sha256: pa.Array) -> np.ndarray:
    """The first 16 hex digits of each SHA-256 (checked ones), as a number: what an import
    keeps in memory per item to put every table's rows in the items' order."""
    fixed = sha256.cast(pa.binary(64))
    start = fixed.offset * 64
    digits = np.frombuffer(fixed.buffers()[1], np.uint8)[start : start + 64 * len(fixed)]
    digits = digits.reshape(-1, 64)
    nibbles = digits[:, :16].astype(np.uint64) - ord("0")
    nibbles[nibbles > 9] -= ord("a") - ord("0") - 10
    return (nibbles << (np.arange(15, -1, -1, dtype=np.uint64) * 4)).sum(axis=1, dtype=np.uint64)
