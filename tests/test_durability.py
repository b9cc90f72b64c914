"""The archive under faults: a full disk, a kill, a stale writer, a damaged file. Whatever
happens, the catalog stays the truth and no file the archive wrote is left half-written, stale
or unknown to it."""

import errno
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import suppress
from pathlib import Path

import faiss
import numpy as np
import pytest

from firstseen.archive.captures import CaptureStore
from firstseen.archive.faiss_index import FaissIndex
from firstseen.archive.ingest import Ingester
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.engine import open_descriptor
from firstseen.errors import FirstseenError

ROOT = Path(__file__).resolve().parents[1]


def add(archive: Archive, path: Path) -> int:
    result = Ingester(archive, open_descriptor(archive)).add(path, Sighting(str(path)))
    assert result.status == "added", result.reason
    return result.item_id


def leftovers(root: Path) -> list[str]:
    """Temporary files a writer left in the archive."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".tmp" in p.name)


def thumbnail_folders(root: Path) -> set[str]:
    """Names of the entries where thumbnail folders live (the SHA-256 of their items)."""
    return {entry.name for entry in (root / "thumbnails").glob("*/*")}


def catalog_shas(root: Path) -> set[str]:
    with sqlite3.connect(root / "catalog.sqlite") as db:
        return {r[0] for r in db.execute("SELECT sha256 FROM items WHERE origin = 'media'")}


def index_agrees_with_catalog(archive: Archive) -> None:
    """Every frame id holds exactly the catalog's vector for it (not only the right ids)."""
    ids = archive.catalog.frame_ids()
    assert sorted(archive.index.ids()) == sorted(ids)
    np.testing.assert_allclose(
        archive.index.held_vectors(ids), archive.catalog.vectors(ids), atol=2e-3
    )


class DiskFull:
    """A disk with `room` bytes left: `os.write` writes what fits, then fails as a full disk
    does (numpy's `tofile` never even asks it: it loses a tail without saying so)."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.write = os.write

    def __call__(self, fd: int, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = self.write(fd, memoryview(data)[: self.room])
        self.room -= written
        return written


def test_a_save_that_runs_out_of_space_keeps_the_previous_index(
    tmp_path, demo_dir, monkeypatch, caplog
):
    root = tmp_path / "archive"
    store = Archive(root)
    add(store, demo_dir / "media" / "coffee.png")
    store.close()
    before = {name: (root / name).read_bytes() for name in ("vectors.faiss", "parts.faiss")}

    store = Archive(root)
    rocket = add(store, demo_dir / "media" / "rocket.jpg")
    monkeypatch.setattr(os, "write", DiskFull(room=1000))
    with caplog.at_level(logging.WARNING):
        assert not store.save()  # a server carries on, and says why
    assert "no space left on device while saving" in caplog.text
    with pytest.raises(FirstseenError) as failed:
        store.write_indexes()  # for a command to say why
    message = str(failed.value)
    assert f"no space left on device while saving {root / 'vectors.faiss'}" in message
    assert "the previous vectors.faiss is kept" in message and "\n" not in message
    assert not store.close()  # the catalog is closed all the same
    monkeypatch.undo()
    assert {name: (root / name).read_bytes() for name in before} == before
    assert leftovers(root) == []

    # With room again, the index catches up with the catalog by itself.
    reopened = Archive(root)
    assert rocket in {i.id for i in reopened.catalog.items()}
    index_agrees_with_catalog(reopened)
    reopened.close()


def test_a_full_disk_fails_a_thumbnail_and_the_file_alone(tmp_path, demo_dir, monkeypatch):
    store = Archive(tmp_path / "archive")
    ingester = Ingester(store, open_descriptor(store))
    monkeypatch.setattr(os, "write", DiskFull(room=3000))
    video = demo_dir / "media" / "doorknob-hd-no-bar.mp4"
    result = ingester.add(video, Sighting(str(video)))
    monkeypatch.undo()
    assert result.status == "failed"
    assert result.reason.startswith("no space left on device while saving")
    assert store.catalog.counts() == (0, 0)
    assert thumbnail_folders(store.root) == set() and leftovers(store.root) == []
    assert ingester.add(video, Sighting(str(video))).status == "added"
    store.close()


def test_a_capture_record_that_cannot_be_saved_keeps_the_previous_one(tmp_path, monkeypatch):
    store = CaptureStore(tmp_path / "archive")
    store.root.mkdir(parents=True)
    path = store.save("c1", {"url": "https://a.example/", "items": [1]})
    before = path.read_bytes()
    monkeypatch.setattr(os, "write", DiskFull(room=10))
    with pytest.raises(FirstseenError, match="no space left on device while saving"):
        store.save("c1", {"url": "https://a.example/", "items": [1, 2, 3]})
    monkeypatch.undo()
    assert path.read_bytes() == before and leftovers(store.root) == []


def test_a_damaged_index_file_is_rebuilt_from_the_catalog(tmp_path, demo_dir):
    root = tmp_path / "archive"
    store = Archive(root)
    add(store, demo_dir / "media" / "coffee.png")
    store.close()
    data = (root / "vectors.faiss").read_bytes()
    (root / "vectors.faiss").write_bytes(data[: len(data) // 2])  # as numpy's tofile left it
    (root / "parts.faiss").write_bytes(b"")
    reopened = Archive(root)
    index_agrees_with_catalog(reopened)
    assert len(reopened.parts) == 9
    reopened.close()
    assert faiss.read_index(str(root / "vectors.faiss")).ntotal == 1  # repaired on disk too


def test_an_index_file_without_ids_is_damage_to_rebuild(tmp_path):
    """A FAISS file holding vectors without ids (left by another tool) cannot be checked against
    the catalog: it opens empty, with the reason, for the archive to rebuild it."""
    path = tmp_path / "vectors.faiss"
    faiss.write_index(faiss.IndexFlatIP(4), str(path))
    index = FaissIndex(path, 4, exact=lambda ids: (ids, np.zeros((len(ids), 4), np.float32)))
    assert index.damage is not None and "IndexFlatIP" in index.damage
    assert len(index) == 0 and len(index.ids()) == 0


def test_an_index_holding_an_id_twice_or_a_wrong_vector_is_rebuilt(tmp_path, demo_dir):
    root = tmp_path / "archive"
    store = Archive(root)
    add(store, demo_dir / "media" / "coffee.png")
    (frame_id,) = store.catalog.frame_ids()
    store.index.add(np.array([frame_id]), np.ones((1, 512), np.float32) / np.sqrt(512))
    store.close()  # stamped as reflecting the catalog, yet wrong
    reopened = Archive(root)
    index_agrees_with_catalog(reopened)
    assert len(reopened.index) == 1
    reopened.index.remove(np.array([frame_id]))
    reopened.index.add(np.array([frame_id]), np.ones((1, 512), np.float32) / np.sqrt(512))
    reopened.close()
    again = Archive(root)
    index_agrees_with_catalog(again)
    again.close()


def test_a_stale_writer_cannot_leave_old_vectors_under_new_ids(tmp_path, demo_dir):
    """A server holds the index; the CLI removes the newest item and adds another; the server
    stops without a request between and saves what it holds."""
    root = tmp_path / "archive"
    server = Archive(root)
    add(server, demo_dir / "media" / "rocket.jpg")
    coffee = add(server, demo_dir / "media" / "coffee.png")
    server.save()
    coffee_frames = set(server.catalog.frame_ids())

    cli = Archive(root)
    cli.remove(cli.catalog.item(coffee))
    cat = add(cli, demo_dir / "media" / "chelsea.png")
    cli.close()
    server.close()  # writes the index as it was before the CLI's changes

    reopened = Archive(root)
    assert cat != coffee  # an id never names other content
    assert not coffee_frames & {f.frame_id for f in reopened.catalog.item_frames(cat)}
    index_agrees_with_catalog(reopened)
    assert len(reopened.parts) == len(reopened.catalog.part_ids()) == 18
    reopened.close()


# The catalog as firstseen made it before ids were kept unique (item and frame ids reused).
_OLD_SCHEMA = """
CREATE TABLE items (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'video')), path TEXT NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, duration REAL, bytes INTEGER NOT NULL,
    added_at TEXT NOT NULL);
CREATE TABLE frames (id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE, ordinal INTEGER NOT NULL,
    time REAL, pdq BLOB NOT NULL, pdq_quality INTEGER NOT NULL, vector BLOB NOT NULL,
    UNIQUE (item_id, ordinal));
CREATE TABLE sightings (id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE, path TEXT NOT NULL,
    url TEXT, title TEXT, published TEXT, seen_at TEXT NOT NULL,
    UNIQUE (item_id, path, url, title, published));
CREATE TABLE parts (id INTEGER PRIMARY KEY,
    frame_id INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE, vector BLOB NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def test_an_archive_from_before_unique_ids_is_migrated_and_its_index_checked(tmp_path):
    """Such an archive may already hold a removed item's vector under a reused frame id; its
    rows survive the migration, the index is rebuilt, and ids are never reused after."""
    root = tmp_path / "archive"
    root.mkdir()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with sqlite3.connect(root / "catalog.sqlite") as db:
        db.executescript(_OLD_SCHEMA)
        for n in (1, 2):
            db.execute(
                "INSERT INTO items VALUES (?, ?, 'image', ?, 8, 8, NULL, 10, '2024-01-01')",
                (n, f"{n:064x}", f"p{n}.jpg"),
            )
            db.execute(
                "INSERT INTO frames VALUES (?, ?, 0, NULL, ?, 100, ?)",
                (n, n, b"\0" * 32, vectors[n].astype(np.float16).tobytes()),
            )
            db.execute(
                "INSERT INTO sightings VALUES (?, ?, ?, NULL, NULL, NULL, '2024-01-01')",
                (n, n, f"p{n}.jpg"),
            )
            db.execute(
                "INSERT INTO parts VALUES (?, ?, ?)",
                (n * 16, n, vectors[n].astype(np.float16).tobytes()),
            )
    stale = faiss.IndexIDMap2(faiss.IndexFlatIP(512))  # frame 2 holds a removed item's vector
    stale.add_with_ids(np.stack([vectors[1], vectors[0]]), np.array([1, 2], dtype=np.int64))
    faiss.write_index(stale, str(root / "vectors.faiss"))

    store = Archive(root)
    assert [(i.id, i.path, i.frames) for i in store.catalog.items()] == [
        (1, "p1.jpg", 1),
        (2, "p2.jpg", 1),
    ]
    index_agrees_with_catalog(store)
    assert sorted(store.parts.ids()) == [16, 32]
    store.remove(store.catalog.item(2))
    third = store.catalog.add_item(
        "f" * 64, "image", "p3.jpg", (8, 8), None, 10, [], Sighting("p3.jpg")
    )
    assert third == 3
    with sqlite3.connect(root / "catalog.sqlite") as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        (frames_sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'frames'").fetchone()
        assert "AUTOINCREMENT" in frames_sql
    store.close()


def test_a_failed_add_leaves_no_thumbnails(tmp_path, demo_dir, monkeypatch):
    """A video that stops short, and a file whose insert fails at the last step: neither
    leaves a thumbnail the catalog does not know."""
    store = Archive(tmp_path / "archive")
    ingester = Ingester(store, open_descriptor(store))
    video = demo_dir / "media" / "doorknob-hd-no-bar.mp4"
    truncated = tmp_path / "truncated.mp4"
    data = video.read_bytes()
    truncated.write_bytes(data[: len(data) * 9 // 10])
    assert ingester.add(truncated, Sighting(str(truncated))).status == "failed"

    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store.catalog, "add_item", refuse)
    assert ingester.add(video, Sighting(str(video))).status == "failed"
    monkeypatch.undo()
    assert thumbnail_folders(store.root) == set() and leftovers(store.root) == []
    photo = demo_dir / "media" / "rocket.jpg"
    assert ingester.add(photo, Sighting(str(photo))).status == "added"
    assert thumbnail_folders(store.root) == catalog_shas(store.root)
    store.close()


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses names that are not UTF-8")
def test_a_name_that_is_not_utf8_leaves_no_thumbnails_the_catalog_does_not_know(tmp_path, demo_dir):
    folder = tmp_path / "media"
    folder.mkdir()
    odd = Path(os.fsdecode(bytes(folder) + b"/caf\xe9.png"))
    odd.write_bytes((demo_dir / "media" / "coffee.png").read_bytes())
    store = Archive(tmp_path / "archive")
    Ingester(store, open_descriptor(store)).add(odd, Sighting(str(odd)))
    assert thumbnail_folders(store.root) == catalog_shas(store.root)
    prefixes = [p for p in (store.root / "thumbnails").iterdir() if not p.name.startswith(".")]
    assert len(prefixes) == store.catalog.counts().items  # no empty folder either
    store.close()


_KILLED_ADD = """
import os, sys
from pathlib import Path
import firstseen.archive.ingest as ingest
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.engine import open_descriptor

hashed = ingest.pdq_hash
calls = []

def die_on_the_third(rgb):
    calls.append(1)
    if len(calls) == 3:
        os._exit(9)  # killed: no cleanup of any kind runs
    return hashed(rgb)

ingest.pdq_hash = die_on_the_third
archive = Archive(Path(sys.argv[1]))
ingest.Ingester(archive, open_descriptor(archive)).add(Path(sys.argv[2]), Sighting("v.mp4"))
"""


@pytest.mark.slow  # the model loads in another process, out of conftest.py's sight
def test_a_killed_add_leaves_nothing_the_catalog_does_not_know(tmp_path, demo_dir):
    root = tmp_path / "archive"
    video = demo_dir / "media" / "doorknob-hd-no-bar.mp4"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_ADD), str(root), str(video)],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == 9, killed.stderr
    store = Archive(root)  # opening sweeps what the killed writer left
    assert store.catalog.counts() == (0, 0)
    assert list((root / "thumbnails").rglob("*.jpg")) == []
    assert leftovers(root) == []
    add(store, video)
    assert thumbnail_folders(root) == catalog_shas(root)
    store.close()


def test_a_removal_killed_half_way_leaves_its_thumbnails_or_none(tmp_path, demo_dir):
    """Killed after the catalog forgot the item: its thumbnails go at the next open."""
    root = tmp_path / "archive"
    store = Archive(root)
    item = store.catalog.item(add(store, demo_dir / "media" / "rocket.jpg"))
    store.close()
    script = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from firstseen.archive.store import Archive
        archive = Archive(Path(sys.argv[1]))
        forget = archive.catalog.remove_item
        def forget_then_die(item_id):
            forget(item_id)
            os._exit(9)
        archive.catalog.remove_item = forget_then_die
        archive.remove(archive.catalog.item(int(sys.argv[2])))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    killed = subprocess.run(
        [sys.executable, "-c", script, str(root), str(item.id)], env=env, capture_output=True
    )
    assert killed.returncode == 9, killed.stderr
    store = Archive(root)
    assert store.catalog.items() == []
    assert list((root / "thumbnails").rglob("*.jpg")) == []
    store.close()


def _mounted_tmpfs(path: Path, size: str) -> None:
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])
    if mounted.returncode:
        pytest.skip("cannot mount a tmpfs here")


@pytest.mark.slow  # the model loads in another process, out of conftest.py's sight
@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"),
    reason="mounting a small tmpfs needs root on Linux",
)
def test_a_real_full_disk(tmp_path, demo_dir):
    """The hostile trial's reproduction: add two photos and a video on a 256 KiB tmpfs, then
    search there, then free space: one line per problem, no traceback, nothing damaged."""
    disk = tmp_path / "small"
    _mounted_tmpfs(disk, "256k")
    try:
        root = disk / "A"
        command = [sys.executable, "-m", "firstseen", "--archive", str(root)]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        media = demo_dir / "media"
        files = [media / "coffee.png", media / "rocket.jpg", media / "doorknob-hd-no-bar.mp4"]

        def run(*args: str) -> subprocess.CompletedProcess:
            done = subprocess.run(
                [*command, *args], env=env, capture_output=True, text=True, timeout=300
            )
            assert "Traceback" not in done.stderr, done.stderr
            return done

        added = run("add", *map(str, files))
        assert added.returncode != 0
        assert "no space left on device" in added.stderr.lower(), added.stderr
        assert leftovers(root) == []
        for name in ("vectors.faiss", "parts.faiss"):
            if (root / name).exists():
                faiss.read_index(str(root / name))  # whole, or not there at all

        filler = disk / "filler"
        with filler.open("wb", buffering=0) as stream, suppress(OSError):
            while True:
                stream.write(b"\0" * 4096)
        found = run("search", str(media / "rocket.jpg"))
        assert leftovers(root) == []
        assert found.returncode in (0, 1) and "requested and" not in found.stderr

        filler.unlink()
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        assert run("add", *map(str, files)).returncode == 0
        found = run("search", str(media / "rocket.jpg"), "-f", "json")
        assert found.returncode == 0 and '"match": true' in found.stdout
        store = Archive(root)
        assert store.catalog.counts().items == 3
        index_agrees_with_catalog(store)
        assert thumbnail_folders(root) == catalog_shas(root)
        store.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)])
