"""Bulk export and import in the exchange format (README, "Exchange format"): the same answers
after a round trip, idempotent and resumable imports, one line per bad file, and frames imported
without thumbnails searched by descriptor and PDQ only."""

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageEnhance
from typer.testing import CliRunner

from firstseen.archive import exchange
from firstseen.archive.bulk_export import export_archive
from firstseen.archive.bulk_import import Importer
from firstseen.archive.records import FrameRecord, Sighting
from firstseen.archive.store import Archive
from firstseen.cli import app
from firstseen.engine import open_searcher
from firstseen.evidence.wording import _evidence_sentence
from firstseen.matching.answers import UNCHECKED, result_json

DIM = 512
MODEL = "synthetic.onnx:1:224:bars"
runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def sha_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def small_archive(root: Path, items: int = 12, model: str = MODEL) -> Archive:
    """Photos (with parts), videos and a hash-only item, written to the catalog directly: no
    model needed."""
    archive = Archive(root)
    archive.catalog.set_meta("model", model)
    rng = np.random.default_rng(len(str(root)))
    for i in range(items):
        video, hashes_only = i % 3 == 1, i % 6 == 5
        count = 4 if video else 1
        frames = [
            FrameRecord(
                k,
                k * 0.5 if video else None,
                rng.bytes(32),
                90,
                np.zeros(0, np.float32) if hashes_only else rng.standard_normal(DIM, np.float32),
                None if video or hashes_only else rng.standard_normal((9, DIM), np.float32),
            )
            for k in range(count)
        ]
        archive.catalog.add_item(
            sha_of(f"{root}{i}"),
            "video" if video else "image",
            f"/media/{i}",
            (64, 48),
            2.0 if video else None,
            1000 + i,
            frames,
            Sighting(f"/media/{i}", url=f"https://example.org/{i}", published="2020-01-02"),
            origin="vpdq" if hashes_only else "media",
        )
    return archive


def catalog_rows(root: Path) -> dict[str, list[tuple]]:
    """The catalog's content, ids aside: what a round trip must keep."""
    with sqlite3.connect(root / "catalog.sqlite") as db:
        return {
            "items": db.execute(
                "SELECT sha256, kind, path, width, height, duration, bytes, added_at, origin"
                " FROM items ORDER BY sha256"
            ).fetchall(),
            "sightings": db.execute(
                "SELECT i.sha256, s.path, s.url, s.title, s.published, s.seen_at FROM sightings s"
                " JOIN items i ON i.id = s.item_id ORDER BY 1, 2, 3, 4, 5"
            ).fetchall(),
            "frames": db.execute(
                "SELECT i.sha256, f.ordinal, f.time, f.pdq, f.pdq_quality, f.vector FROM frames f"
                " JOIN items i ON i.id = f.item_id ORDER BY 1, 2"
            ).fetchall(),
            "parts": db.execute(
                "SELECT i.sha256, f.ordinal, p.id - f.id * 16, p.vector FROM parts p"
                " JOIN frames f ON f.id = p.frame_id JOIN items i ON i.id = f.item_id"
                " ORDER BY 1, 2, 3"
            ).fetchall(),
        }


def test_round_trip_keeps_every_row_and_hash_only_items(tmp_path, capfd):
    source = small_archive(tmp_path / "a")
    manifest = export_archive(source, tmp_path / "export")
    assert manifest.counts == {"items": 12, "sightings": 12, "frames": 24, "parts": 54}
    frames = pq.read_table(tmp_path / "export" / manifest.files["frames"][0])
    hash_only = sha_of(f"{tmp_path / 'a'}5")
    descriptors = frames.filter(pa.compute.equal(frames["sha256"], hash_only))["descriptor"]
    assert descriptors.null_count == len(descriptors) == 1
    counts = Importer(Archive(tmp_path / "b"), tmp_path / "export").run()
    assert (counts.added, counts.frames, counts.known) == (12, 24, 0)
    assert catalog_rows(tmp_path / "b") == catalog_rows(tmp_path / "a")
    imported = Archive(tmp_path / "b")
    assert imported.catalog.meta("model") == MODEL
    assert set(imported.index.ids()) == set(imported.catalog.frame_ids())
    assert set(imported.parts.ids()) == set(imported.catalog.part_ids())
    capfd.readouterr()
    assert imported.thumbnails.read(sha_of(f"{tmp_path / 'a'}0"), 0) is None  # none carried
    assert capfd.readouterr().err == ""  # not a warning per frame checked


def test_import_twice_adds_only_new_sightings(tmp_path):
    export_archive(small_archive(tmp_path / "a"), tmp_path / "export")
    target = tmp_path / "b"
    first = invoke("--archive", target, "import", tmp_path / "export")
    assert first.exit_code == 0, first.output
    before = catalog_rows(target)
    again = invoke("--archive", target, "import", tmp_path / "export")
    assert again.exit_code == 0, again.output
    assert "imported 0 items (0 frames), 12 already in the archive, 0 new sightings" in again.output
    assert catalog_rows(target) == before
    # The same content seen elsewhere: only the new sighting is added.
    other = small_archive(tmp_path / "a", items=0)
    item = other.catalog.find_items("/media/3")[0]
    other.catalog.add_sighting(item.id, Sighting("/elsewhere/3", url="https://example.net/3"))
    export_archive(other, tmp_path / "export2")
    third = Importer(Archive(target), tmp_path / "export2").run()
    assert (third.added, third.known, third.sightings) == (0, 12, 1)
    assert len(catalog_rows(target)["sightings"]) == 13


def test_a_model_or_size_of_vectors_other_than_the_archives_is_refused(tmp_path):
    export_archive(small_archive(tmp_path / "a"), tmp_path / "export")
    small_archive(tmp_path / "other", items=2, model="another.onnx:9:224:bars").close()
    refused = invoke("--archive", tmp_path / "other", "import", tmp_path / "export")
    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and "manifest.json: made with model synthetic.onnx" in lines[0]
    assert "Traceback" not in refused.output
    # A manifest whose size of vectors is not its files'.
    manifest = tmp_path / "export" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(data | {"dim": 256}))
    refused = invoke("--archive", tmp_path / "a", "import", tmp_path / "export")
    assert refused.exit_code == 1
    assert "manifest.json: vectors of 256 numbers" in refused.output  # the archive holds 512
    refused = invoke("--archive", tmp_path / "new", "import", tmp_path / "export")
    assert refused.exit_code == 1
    assert "frames-00000.parquet: column 'descriptor' holds vectors of 512 numbers" in (
        refused.output.replace("\n", "")
    )


def test_a_truncated_or_wrong_file_gets_one_line_naming_it(tmp_path):
    export_archive(small_archive(tmp_path / "a"), tmp_path / "export")
    frames = tmp_path / "export" / "frames-00000.parquet"
    whole = frames.read_bytes()
    frames.write_bytes(whole[: len(whole) // 2])
    truncated = invoke("--archive", tmp_path / "b", "import", tmp_path / "export")
    assert truncated.exit_code == 1
    assert truncated.output.count("\n") == 1 and "Traceback" not in truncated.output
    assert f"{frames}: not a readable Parquet file" in truncated.output.replace("\n", "")
    frames.write_bytes(whole)
    items = tmp_path / "export" / "items.parquet"
    table = pq.read_table(items)
    pq.write_table(table.set_column(2, "width", table["width"].cast(pa.string())), items)
    wrong = invoke("--archive", tmp_path / "b", "import", tmp_path / "export")
    assert wrong.exit_code == 1 and wrong.output.count("\n") == 1
    assert f"{items}: column 'width' is string, not int32" in wrong.output.replace("\n", "")
    assert Archive(tmp_path / "b").catalog.counts() == (0, 0)  # nothing imported


def test_tables_in_different_orders_are_refused_before_anything_is_imported(tmp_path):
    export_archive(small_archive(tmp_path / "a"), tmp_path / "export")
    path = tmp_path / "export" / "sightings.parquet"
    sightings = pq.read_table(path)
    pq.write_table(sightings.take(list(reversed(range(sightings.num_rows)))), path)
    refused = invoke("--archive", tmp_path / "b", "import", tmp_path / "export")
    assert refused.exit_code == 1
    assert "every table must list the items in the items table's order" in refused.output
    assert Archive(tmp_path / "b").catalog.counts() == (0, 0)


def write_export(folder: Path, items: int) -> None:
    """An export as another writer (a GPU worker) makes one: photos with thumbnails."""
    folder.mkdir()
    shas = [sha_of(f"photo {i}") for i in range(items)]
    paths = [f"/worker/{i}.jpg" for i in range(items)]
    rng = np.random.default_rng(1)
    ok, jpeg = cv2.imencode(".jpg", rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    assert ok
    vectors = rng.standard_normal((items, DIM), np.float32)
    tables = {
        "items": {
            "sha256": shas,
            "kind": ["image"] * items,
            "width": [32] * items,
            "height": [24] * items,
            "duration": [None] * items,
            "bytes": [500] * items,
            "added_at": ["2025-01-01T00:00:00+00:00"] * items,
            "origin": ["media"] * items,
            "path": paths,
        },
        "sightings": {
            "sha256": shas,
            "path": paths,
            "url": [None] * items,
            "title": [None] * items,
            "published": [None] * items,
            "seen_at": ["2025-01-01T00:00:00+00:00"] * items,
        },
        "frames": {
            "sha256": shas,
            "ordinal": [0] * items,
            "time": [None] * items,
            "descriptor": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
            "pdq": [rng.bytes(32) for _ in range(items)],
            "pdq_quality": [100] * items,
            "thumbnail": [jpeg.tobytes()] * items,
        },
        "parts": {"sha256": [], "ordinal": [], "slot": [], "descriptor": []},
    }
    files = {}
    for table, columns in tables.items():
        name = f"{table}.parquet"
        schema = exchange.schema(table, DIM)
        pq.write_table(pa.table(columns, schema=schema), folder / name)
        files[table] = [name]
    counts = {"items": items, "frames": items, "parts": 0}
    exchange.write_manifest(folder, exchange.Manifest(MODEL, DIM, counts, files))


def _imported(root: Path) -> int:
    try:
        with sqlite3.connect(root / "catalog.sqlite", timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    except sqlite3.OperationalError:  # not made yet
        return 0


def test_an_import_killed_half_way_resumes_without_duplicates(tmp_path):
    items = 3000  # a transaction takes 256 photos with thumbnails: a dozen of them
    write_export(tmp_path / "export", items)
    root = tmp_path / "archive"
    command = [sys.executable, "-m", "firstseen", "--archive", str(root), "import"]
    command.append(str(tmp_path / "export"))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (root / "catalog.sqlite").exists() and _imported(root) > 0:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the import finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed = _imported(root)
    assert 0 < killed < items
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{killed} already in the archive" in rerun.stderr
    store = Archive(root)
    assert store.catalog.counts() == (items, items)
    assert len(catalog_rows(root)["sightings"]) == items
    folders = {p.name for p in (root / "thumbnails").glob("*/*")}
    assert folders == {i.sha256 for i in store.catalog.items()}  # none left by the kill
    assert not any((root / "thumbnails" / ".staging").iterdir())
    assert set(store.index.ids()) == set(store.catalog.frame_ids())
    store.close()


QUERIES = ("evidence.jpg", "evidence-clip.mp4", "media/rocket.jpg")


def graded_coffee(demo_dir: Path, folder: Path) -> Path:
    """A colour-graded, shrunk copy of a demo photo: close enough for the descriptor alone."""
    photo = Image.open(demo_dir / "media" / "coffee.png").convert("RGB")
    edited = ImageEnhance.Color(photo).enhance(0.7).resize((400, 267))
    edited.save(folder / "coffee.jpg", quality=80)
    return folder / "coffee.jpg"


def answers(searcher, queries: list[Path]) -> list[dict]:
    """The JSON answers, but for how long they took."""
    found = [result_json(searcher.search(q, name=q.name)) for q in queries]
    for answer in found:
        del answer["elapsed_ms"]
    return found


def verdicts(found: list[dict]) -> list[list[tuple]]:
    """What each answer says: which sources, matched or not, where and when."""
    return [
        [(m["path"], m["match"], m["region"], m["time"]) for m in answer["matches"]]
        for answer in found
    ]


def test_export_then_import_answers_the_same(demo_archive, demo_searcher, demo_dir, tmp_path):
    queries = [demo_dir / q for q in QUERIES] + [graded_coffee(demo_dir, tmp_path)]
    export_archive(demo_archive, tmp_path / "export")
    imported = Archive(tmp_path / "imported")
    Importer(imported, tmp_path / "export").run()
    assert catalog_rows(imported.root) == catalog_rows(demo_archive.root)
    found = answers(open_searcher(imported), queries)
    expected = answers(demo_searcher, queries)
    assert any(m["match"] for answer in expected for m in answer["matches"])
    assert verdicts(found) == verdicts(expected)
    # To the last digit against the same archive with its index made from its catalog: the
    # index `add` fills holds the descriptor's float32 vectors, the catalog their float16.
    shutil.copytree(demo_archive.root, tmp_path / "copy", ignore=shutil.ignore_patterns("*.faiss"))
    assert found == answers(open_searcher(Archive(tmp_path / "copy")), queries)


def test_frames_imported_without_thumbnails_are_found_and_say_so(
    demo_archive, demo_searcher, demo_dir, tmp_path
):
    query = graded_coffee(demo_dir, tmp_path)
    with_thumbnails = demo_searcher.search(query).matches[0]
    assert with_thumbnails.item.path.endswith("coffee.png") and with_thumbnails.match
    export = tmp_path / "export"
    assert (
        invoke("--archive", demo_archive.root, "export", export, "--no-thumbnails").exit_code == 0
    )
    assert invoke("--archive", tmp_path / "imported", "import", export).exit_code == 0
    assert not any((tmp_path / "imported" / "thumbnails").glob("*/*"))
    searcher = open_searcher(Archive(tmp_path / "imported"))
    best = searcher.search(query).matches[0]
    assert best.item.path.endswith("coffee.png") and best.match
    assert best.check.inliers == 0 and best.pdq_distance is not None
    assert result_json(searcher.search(query))["matches"][0]["checked"] == UNCHECKED
    assert "no thumbnail" in _evidence_sentence(best)
    assert result_json(demo_searcher.search(query))["matches"][0]["checked"] is None
    clip = searcher.search(demo_dir / "evidence-clip.mp4").matches
    chair = next(m for m in clip if m.item.path.endswith("chair-20-sd-bar.mp4"))
    assert chair.match and not chair.thumbnail and not any(m.thumbnail for m in clip)


def test_reading_a_table_holds_one_batch_not_the_file(tmp_path):
    """A frames file read batch by batch keeps Arrow's memory at a few batches, whatever its
    length (pyarrow's pre-buffering kept every row group read: 21 GB for 10M frames)."""
    dim, rows, groups = 512, 4_096, 24
    path = tmp_path / "frames.parquet"
    schema = exchange.schema("frames", dim)
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, schema) as writer:
        for group in range(groups):
            descriptors = rng.standard_normal((rows, dim)).astype(np.float32)
            columns = {
                "sha256": pa.array([sha_of(f"item{group}")] * rows),
                "ordinal": pa.array(np.arange(rows, dtype=np.int32)),
                "time": pa.array(np.arange(rows, dtype=np.float64)),
                "descriptor": pa.FixedSizeListArray.from_arrays(descriptors.ravel(), dim),
                "pdq": pa.array([bytes(32)] * rows, pa.binary(32)),
                "pdq_quality": pa.array(np.full(rows, 100, np.int32)),
                "thumbnail": pa.nulls(rows, pa.binary()),
            }
            writer.write_table(pa.table([columns[f.name] for f in schema], schema=schema))
    group_bytes = rows * dim * 4
    parquet = exchange.open_table(path, "frames", dim)
    before = pa.total_allocated_bytes()
    most = 0
    for _, batch in exchange.read_batches([(path, parquet)], "frames", dim, rows):
        most = max(most, pa.total_allocated_bytes() - before)
        del batch
    assert most < 4 * group_bytes, f"{most / group_bytes:.1f} row groups held"
