"""One archive served to many threads: searches beside adds and removals, changes made by another
process (the CLI) while the server runs, removals waiting for searches in flight."""

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from firstseen.archive.ingest import Ingester
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.server import ServerSettings, Service


def edited(path, tmp_path, name):
    """A cropped, shrunk, recompressed copy of a picture."""
    picture = Image.open(path).convert("RGB")
    w, h = picture.size
    picture = picture.crop((w // 8, h // 8, w * 7 // 8, h * 7 // 8)).resize(
        (w * 3 // 5, h * 3 // 5)
    )
    out = tmp_path / name
    picture.save(out, "JPEG", quality=75)
    return out


@pytest.fixture
def service(tmp_path, demo_searcher):
    served = Service(Archive(tmp_path / "archive"), ServerSettings(token="t"), demo_searcher)
    yield served
    served.close()


def consistent(archive: Archive) -> bool:
    return sorted(archive.index.ids()) == sorted(archive.catalog.frame_ids())


def test_searches_beside_adds_and_removals(service, demo_dir, tmp_path):
    media = demo_dir / "media"
    kept = {}
    for name in ("bridge.jpg", "rocket.jpg", "retina.jpg"):
        kept[name] = service.add_now(media / name, Sighting(name)).item_id
    queries = [
        (edited(media / n, tmp_path, f"q-{n}"), kept[n]) for n in ("bridge.jpg", "rocket.jpg")
    ]
    churn = [media / n for n in ("coffee.png", "chelsea.png", "hubble_deep_field.jpg")]
    problems = []

    def search(round_: int) -> None:
        query, expected = queries[round_ % 2]
        result = service.search_now(query, 3, query.name)
        if result.error or not result.matches or result.matches[0].item.id != expected:
            problems.append((query.name, result.error, [m.item.id for m in result.matches]))
        elif not result.matches[0].match:
            problems.append((query.name, "no match"))

    def write() -> None:
        for round_ in range(2):
            for photo in churn:
                added = service.add_now(photo, Sighting(f"{round_}-{photo.name}"))
                assert added.status == "added", added.reason
                assert service.remove_now(added.item_id) is not None

    with ThreadPoolExecutor(4) as pool:
        writer = pool.submit(write)
        list(pool.map(search, range(12)))
        writer.result()
    assert problems == []
    assert sorted(i.id for i in service.archive.catalog.items()) == sorted(kept.values())
    assert consistent(service.archive)


def test_server_catches_up_with_another_process(service, demo_dir, tmp_path, demo_searcher):
    media = demo_dir / "media"
    archive = service.archive
    assert service.search_now(media / "coffee.png", 3, "q").matches == []

    cli = Archive(archive.root)  # another process: the CLI adding while the server runs
    coffee = Ingester(cli, demo_searcher.descriptor).add(media / "coffee.png", Sighting("c.png"))
    cli.close()
    found = service.search_now(edited(media / "coffee.png", tmp_path, "c.jpg"), 3, "q")
    assert found.matches[0].item.id == coffee.item_id and found.matches[0].match
    generation = archive.generation

    # Removing the newest item and adding another: the server must not answer with the old
    # item's vectors or cached features, and the new item never takes the old one's ids.
    cli = Archive(archive.root)
    cli.remove(cli.catalog.item(coffee.item_id))
    cat = Ingester(cli, demo_searcher.descriptor).add(media / "chelsea.png", Sighting("cat.png"))
    cli.close()
    assert cat.item_id != coffee.item_id
    found = service.search_now(edited(media / "chelsea.png", tmp_path, "cat.jpg"), 3, "q")
    assert found.matches[0].item.path == "cat.png" and found.matches[0].match
    assert archive.generation > generation
    assert not archive.refresh()  # nothing new since
    again = service.search_now(edited(media / "coffee.png", tmp_path, "c2.jpg"), 3, "q")
    assert not any(m.match for m in again.matches)
    assert consistent(archive)


def test_removal_waits_for_searches_in_flight_and_blocks_none(service, demo_dir):
    archive = service.archive
    item_id = service.add_now(demo_dir / "media" / "rocket.jpg", Sighting("r.jpg")).item_id
    frames = [f.frame_id for f in archive.catalog.item_frames(item_id)]
    removed = threading.Event()

    def remove() -> None:
        archive.remove(archive.catalog.item(item_id))
        removed.set()

    with archive.reading():  # a search in flight, which may hold the item's frame ids
        remover = threading.Thread(target=remove)
        remover.start()
        # the frames leave the index at once, so searches starting now cannot find them ...
        for _ in range(200):
            if not set(frames) & set(archive.index.ids()):
                break
            time.sleep(0.01)
        assert not set(frames) & set(archive.index.ids())

        # ... and they start without waiting, while the rows stay for the search in flight
        def search_now() -> bool:
            with archive.reading():
                return True

        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(search_now).result(timeout=10)
        assert not removed.is_set()
        assert archive.catalog.item(item_id) is not None
        assert archive.thumbnails.has(archive.catalog.item(item_id).sha256, 0)
    remover.join(10)
    assert removed.is_set()
    assert archive.catalog.item(item_id) is None and consistent(archive)


def test_index_snapshot_while_adding(service, demo_dir, tmp_path):
    """Saving writes a complete index file even while items are being added."""
    media = demo_dir / "media"
    photos = [media / n for n in ("bridge.jpg", "rocket.jpg", "coffee.png", "chelsea.png")]

    def add(photo):
        data = io.BytesIO()
        Image.open(photo).convert("RGB").save(data, "PNG")
        copy = tmp_path / f"copy-{photo.stem}.png"
        copy.write_bytes(data.getvalue())
        return service.add_now(copy, Sighting(copy.name)).status

    with ThreadPoolExecutor(2) as pool:
        saves = [pool.submit(service.archive.save) for _ in range(4)]
        statuses = list(pool.map(add, photos))
        for save in saves:
            save.result()
    assert statuses == ["added"] * 4
    service.archive.save()
    reopened = Archive(service.archive.root)
    assert len(reopened.index) == len(service.archive.index) == 4
    reopened.close()
