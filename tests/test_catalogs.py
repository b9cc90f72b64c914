"""The catalog behind its seam, on both backends: the embedded SQLite catalog and the catalog on
PostgreSQL (a local server started by conftest.py). The same calls give the same answers; content
is archived once however many writers add it at once; the vector log, replayed after any revision,
never misses a change; and an archive on PostgreSQL keeps its indexes in step across processes."""

import dataclasses
import functools
import hashlib
import random
import threading
from collections.abc import Callable, Iterator

import numpy as np
import psycopg
import pytest

from firstseen.archive import pg_local
from firstseen.archive.catalog import AlreadyArchived, Catalog, CatalogError
from firstseen.archive.catalog_api import CatalogStore
from firstseen.archive.ingest import Ingester
from firstseen.archive.metadata import read_meta_csv
from firstseen.archive.parts import part_id
from firstseen.archive.pg_catalog import PgCatalog
from firstseen.archive.pg_schema import MIGRATIONS
from firstseen.archive.records import BulkItems, FrameRecord, Item, Sighting
from firstseen.archive.store import Archive
from firstseen.engine import open_descriptor, open_searcher
from firstseen.errors import FirstseenError
from firstseen.matching.answers import result_json

DIM = 8
# The published dates the catalog may hold, at every precision it accepts.
_DATES = ["2019", "2019-05", "2019-05-03", "2019-05-30", "2020", "2020-01-01", "2018-12-31"]

Opener = Callable[[], CatalogStore]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def photo_frames(rng: np.random.Generator, parts: bool = True) -> list[FrameRecord]:
    return [
        FrameRecord(0, None, rng.bytes(32), 90, unit(rng, 1)[0], unit(rng, 9) if parts else None)
    ]


def video_frames(rng: np.random.Generator, n: int = 3) -> list[FrameRecord]:
    return [FrameRecord(k, k * 0.5, rng.bytes(32), 80, v) for k, v in enumerate(unit(rng, n))]


def hash_frames(rng: np.random.Generator) -> list[FrameRecord]:
    return [
        FrameRecord(k, float(k), rng.bytes(32), 70 + k, np.zeros(0, np.float32)) for k in range(2)
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def open_catalog(request, tmp_path) -> Iterator[Opener]:
    """Opens the catalog under test, once more for each further connection (another process,
    another machine): SQLite in a temporary directory, or a new PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "catalog.sqlite"

        def opener() -> CatalogStore:
            return Catalog(path)

    else:
        url = request.getfixturevalue("pg_url")

        def opener() -> CatalogStore:
            return PgCatalog(url)

    opened: list[CatalogStore] = []

    def open_one() -> CatalogStore:
        opened.append(opener())
        return opened[-1]

    yield open_one
    for catalog in opened:
        catalog.close()


def add(catalog: CatalogStore, name: str, kind: str, frames: list[FrameRecord], **seen) -> int:
    origin = "vpdq" if frames and not len(frames[0].vector) else "media"
    sighting = Sighting(f"/m/{name}", **seen)
    duration = None if kind == "image" else 1.5
    return catalog.add_item(
        sha(name), kind, sighting.path, (64, 48), duration, 1000, frames, sighting, origin
    )


def test_items_sightings_frames_and_parts_read_back(open_catalog):
    catalog = open_catalog()
    rng = np.random.default_rng(0)
    photo_rows = photo_frames(rng)
    photo = add(catalog, "photo", "image", photo_rows, url="https://e.example/p", title="A Photo")
    video_rows = video_frames(rng)
    video = add(catalog, "video", "video", video_rows, published="2020-05-01")
    hashes = add(catalog, "hashes", "video", hash_frames(rng))
    assert catalog.add_sighting(video, Sighting("/other", published="2019"))
    assert not catalog.add_sighting(video, Sighting("/other", published="2019"))

    assert [i.id for i in catalog.items()] == [photo, video, hashes]
    item = catalog.item(video)
    assert (item.sha256, item.kind, item.frames, item.duration) == (sha("video"), "video", 3, 1.5)
    assert item.first_seen.published == "2019"  # the earliest, not the first recorded
    assert [s.path for s in catalog.sightings(video)] == ["/other", "/m/video"]
    assert catalog.item(10_000) is None and catalog.item_id(sha("video")) == video
    assert [i.id for i in catalog.find_items(sha("photo")[:8].upper())] == [photo]
    assert [i.id for i in catalog.find_items("/other")] == [video]
    assert [i.id for i in catalog.find_items(str(hashes))] == [hashes]

    frames = catalog.item_frames(video)
    assert [(f.ordinal, f.time) for f in frames] == [(0, 0.0), (1, 0.5), (2, 1.0)]
    assert [f.ordinal for f in catalog.frames_between(video, 0.4, 1.0)] == [1, 2]
    ids = [f.frame_id for f in frames]
    info = catalog.frames_info(ids)
    assert [(info[i].item_id, info[i].ordinal, info[i].pdq) for i in ids] == [
        (video, f.ordinal, f.pdq) for f in video_rows
    ]
    expected = np.stack([f.vector for f in video_rows])
    np.testing.assert_allclose(catalog.vectors(ids[::-1]), expected[::-1], atol=1e-3)  # float16
    assert catalog.item_frames(hashes) == []
    assert [(f.item_id, f.ordinal, f.time) for f in catalog.hash_only_frames(71)] == [
        (hashes, 1, 1.0)
    ]

    (photo_frame,) = catalog.item_frames(photo)
    parts = [part_id(photo_frame.frame_id, slot) for slot in range(9)]
    assert sorted(catalog.part_ids(photo).tolist()) == parts == sorted(catalog.part_ids().tolist())
    np.testing.assert_allclose(catalog.part_vectors(parts), photo_rows[0].parts, atol=1e-3)
    assert catalog.add_parts(photo_frame.frame_id, unit(rng, 9)) == []  # stored already

    assert catalog.counts() == (3, 6) and catalog.kinds() == {"image": 1, "video": 2}
    assert sorted(catalog.frame_ids().tolist()) == sorted([photo_frame.frame_id, *ids])
    assert catalog.vector_dim() == DIM and catalog.has_described_frames()
    assert catalog.photos_without_parts() == []
    assert [i.id for i in catalog.page(kind="video").items] == [video, hashes]
    assert [i.id for i in catalog.page(text="a photo").items] == [photo]  # any case
    assert catalog.page(published_from="2019", published_to="2019").total == 1
    assert catalog.page(limit=1, offset=1) == (catalog.page().items[1:2], 3)
    catalog.set_meta("model", "m")
    assert catalog.meta("model") == "m" and catalog.meta("other") is None


def test_removal_takes_frames_parts_and_sightings_and_ids_are_never_reused(open_catalog):
    catalog = open_catalog()
    rng = np.random.default_rng(1)
    kept = add(catalog, "kept", "video", video_frames(rng))
    gone = add(catalog, "gone", "image", photo_frames(rng))
    frame = catalog.item_frames(gone)[0].frame_id
    before = catalog.vectors_revision()
    assert catalog.remove_item(gone) == [frame]
    assert catalog.item(gone) is None and catalog.sightings(gone) == []
    assert catalog.counts() == (1, 3) and not len(catalog.part_ids())
    assert [(c.kind, c.lo, c.hi, c.removed) for c in catalog.vector_changes(before)] == [
        ("frames", frame, frame, True),
        ("parts", part_id(frame, 0), part_id(frame, 8), True),
    ]
    again = add(catalog, "gone", "image", photo_frames(rng))
    assert again > gone and catalog.item_frames(again)[0].frame_id > frame
    assert catalog.item(kept) is not None


def _race(openers: list[Callable[[], int]]) -> list[int | AlreadyArchived]:
    """Runs the calls at once, each on a thread of its own; what each returned or raised."""
    start = threading.Barrier(len(openers))
    results: list[int | AlreadyArchived] = [0] * len(openers)

    def run(place: int) -> None:
        start.wait()
        try:
            results[place] = openers[place]()
        except AlreadyArchived as exc:
            results[place] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(openers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_content_added_by_two_writers_at_once_is_archived_once(open_catalog):
    """Two connections (two machines) add the same content at the same moment: one commits it,
    the other is told which item it is, and no frame is stored twice."""
    writers = [open_catalog(), open_catalog()]
    rng = np.random.default_rng(2)
    for n in range(8):
        frames = video_frames(rng)
        same = functools.partial(add, name=f"same {n}", kind="video", frames=frames)
        results = _race([functools.partial(same, w) for w in writers])
        added = [r for r in results if isinstance(r, int)]
        refused = [r for r in results if isinstance(r, AlreadyArchived)]
        assert len(added) == 1 and len(refused) == 1, results
        assert refused[0].item_id == added[0]
    assert writers[0].counts() == (8, 24)
    changes = writers[1].vector_changes(0)
    assert len(changes) == 8 and len({c.revision for c in changes}) == 8


def test_the_log_replayed_after_any_revision_misses_no_change(open_catalog):
    """Two writers add and remove at once while a reader catches up by "the log after the
    revision I hold", as an index does: what it gathered is the whole log, each commit under
    its own revision, numbered in the order they committed."""
    writers = [open_catalog(), open_catalog()]
    reader = open_catalog()
    done = threading.Event()
    gathered = []

    def write(catalog: CatalogStore, seed: int) -> None:
        rng = np.random.default_rng(seed)
        for n in range(20):
            item = add(catalog, f"{seed} {n}", "image", photo_frames(rng, parts=n % 2 == 0))
            if n % 5 == 4:
                catalog.remove_item(item)

    def read() -> None:
        held = 0
        while True:
            finished = done.is_set()
            changes = reader.vector_changes(held)
            gathered.extend(changes)
            held = max([held, *(c.revision for c in changes)])
            if finished:
                return

    threads = [threading.Thread(target=write, args=(w, n)) for n, w in enumerate(writers)]
    follower = threading.Thread(target=read)
    for thread in [*threads, follower]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    follower.join()
    everything = reader.vector_changes(0)
    assert gathered == everything
    revisions = sorted({c.revision for c in everything})
    assert (
        revisions
        == list(range(1, 2 * (20 + 4) + 1))
        == list(range(1, reader.vectors_revision() + 1))
    )


def test_a_bulk_write_adds_what_is_new_and_exports_it_back(open_catalog):
    catalog = open_catalog()
    rng = np.random.default_rng(3)
    add(catalog, "known", "image", photo_frames(rng, parts=False))
    vectors = [v.astype(np.float16).tobytes() for v in unit(rng, 4)]
    bulk = BulkItems(
        items=[
            (sha("known"), "image", "/m/known", 64, 48, None, 1000, "2021-01-01", "media"),
            (sha("b1"), "video", "/b/1", 32, 32, 2.0, 10, "2021-01-02", "media"),
            (sha("b2"), "image", "/b/2", 32, 32, None, 20, "2021-01-03", "media"),
        ],
        frame_item=np.array([1, 1, 2]),
        frames=[
            (0, 0.0, rng.bytes(32), 90, vectors[0]),
            (1, 1.0, rng.bytes(32), 90, vectors[1]),
            (0, None, rng.bytes(32), 90, vectors[2]),
        ],
        part_frame=np.array([2, 2]),
        part_slot=np.array([0, 4]),
        part_vectors=[vectors[3], vectors[0]],
        sighting_item=np.array([0, 1, 2]),
        sightings=[
            ("/elsewhere", "https://e.example/k", None, "2001", "2021-01-04"),
            ("/b/1", None, "one", None, "2021-01-02"),
            ("/b/2", None, None, "2002", "2021-01-03"),
        ],
    )
    before = catalog.vectors_revision()
    outcome = catalog.add_bulk(bulk)
    assert (outcome.added, outcome.frames, outcome.known, outcome.sightings) == (2, 3, 1, 3)
    again = catalog.add_bulk(bulk)
    assert (again.added, again.frames, again.known, again.sightings) == (0, 0, 3, 0)
    (b1,) = catalog.find_items(sha("b1"))
    (b2,) = catalog.find_items(sha("b2"))
    frame = catalog.item_frames(b2.id)[0].frame_id
    assert [(c.kind, c.lo, c.hi) for c in catalog.vector_changes(before)] == [
        ("frames", frame - 2, frame),
        ("parts", part_id(frame, 0), part_id(frame, 0)),
        ("parts", part_id(frame, 4), part_id(frame, 4)),
    ]
    assert catalog.known_items([sha("b1"), sha("none")]) == {sha("b1"): b1.id}
    later = add(catalog, "later", "image", photo_frames(rng))
    assert later > b2.id and catalog.item_frames(later)[0].frame_id > frame  # ids drawn past

    exported: dict[str, list] = {}
    for table, rows in catalog.export_rows(2):
        assert len(rows) <= 2
        exported.setdefault(table, []).extend(rows)
    assert [r[0] for r in exported["items"]] == [sha("known"), sha("b1"), sha("b2"), sha("later")]
    assert exported["items"][1] == (
        sha("b1"),
        "video",
        32,
        32,
        2.0,
        10,
        "2021-01-02",
        "media",
        "/b/1",
    )
    assert exported["sightings"][1] == (sha("known"), *bulk.sightings[0])
    assert [(r[0], r[1], bytes(r[3])) for r in exported["frames"][1:4]] == [
        (sha("b1"), 0, vectors[0]),
        (sha("b1"), 1, vectors[1]),
        (sha("b2"), 0, vectors[2]),
    ]
    assert [(r[0], r[2], bytes(r[3])) for r in exported["parts"][:2]] == [
        (sha("b2"), 0, vectors[3]),
        (sha("b2"), 4, vectors[0]),
    ]


def test_another_connections_commit_changes_the_data_version(open_catalog):
    here, there = open_catalog(), open_catalog()
    rng = np.random.default_rng(4)
    seen, version = here.data_version(), here.version()
    item = add(there, "there", "image", photo_frames(rng))
    assert here.data_version() != seen and here.version() != version
    version = here.version()
    here.add_sighting(item, Sighting("/here"))  # its own commits change the version too
    assert here.version() != version
    assert here.vectors_revision() == there.vectors_revision() == 1


def _strip_times(item: Item) -> Item:
    """An item without the times the catalog took when it was added (they differ by backend)."""
    first = dataclasses.replace(item.first_seen, seen_at=None)
    return dataclasses.replace(item, added_at="", first_seen=first)


def test_both_backends_answer_pages_and_lookups_alike(tmp_path, pg_url):
    """The same items, seen at dated and undated places, in both: every page by kind, text and
    publication range, and every lookup, answers alike (text compared by code point in both)."""
    catalogs: list[CatalogStore] = [Catalog(tmp_path / "catalog.sqlite"), PgCatalog(pg_url)]
    for catalog in catalogs:
        rng = random.Random(3)
        for n in range(40):
            origin = "vpdq" if n % 10 == 9 else "media"
            kind = "image" if n % 3 == 0 and origin == "media" else "video"
            vector = np.full(4, 0.5, np.float32) if origin == "media" else np.zeros(0, np.float32)
            frames = [FrameRecord(o, float(o), bytes(32), 90, vector) for o in range(2)]
            title = rng.choice(["Zürich flood", "zebra", "ZOO", "é_x%"])
            seen = Sighting(
                f"/m/{n}.bin", f"https://e.example/{n}", title, rng.choice([None, *_DATES])
            )
            item_id = catalog.add_item(
                f"{rng.getrandbits(256):064x}",
                kind,
                seen.path,
                (8, 8),
                None,
                10,
                frames[: 1 if kind == "image" else 2],
                seen,
                origin,
            )
            if n % 4 == 0:
                catalog.add_sighting(
                    item_id, Sighting(f"/other/{n}.bin", None, None, rng.choice([None, *_DATES]))
                )

    def answers(catalog: CatalogStore) -> list:
        items = catalog.items()
        found = [
            catalog.find_items(ref) for i in items[::7] for ref in (i.sha256[:6], i.path, str(i.id))
        ]
        bounds = [None, "", "2019", "2019-05", "2019-05-03", "2019-05-30", "2020-01", "2018", "2"]
        pages = [
            catalog.page(published_from=start, published_to=end, limit=1000)
            for start in bounds
            for end in bounds
        ]
        pages += [
            catalog.page(text=t) for t in ["zü", "ZÜ", "ZEBRA", "_", "%", "/other/", "e.example/1"]
        ]
        pages += [catalog.page(kind=k, limit=3, offset=2) for k in ("image", "video")]
        return [
            [_strip_times(i) for i in items],
            [[_strip_times(i) for i in f] for f in found],
            [([_strip_times(i) for i in p.items], p.total) for p in pages],
            catalog.counts(),
            catalog.kinds(),
            catalog.hash_only_frames(),
            catalog.vector_changes(0),
        ]

    assert answers(catalogs[1]) == answers(catalogs[0])
    for catalog in catalogs:
        catalog.close()


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as db:
        return [r[0] for r in db.execute("SELECT version FROM schema_version ORDER BY version")]


def test_migrations_make_an_empty_database_once_and_reopening_changes_nothing(pg_url):
    opened = []
    threads = [threading.Thread(target=lambda: opened.append(PgCatalog(pg_url))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 3 and len({c.identity for c in opened}) == 1  # made once, at once
    assert _versions(pg_url) == list(range(1, len(MIGRATIONS) + 1))
    add(opened[0], "x", "image", photo_frames(np.random.default_rng(5)))
    for catalog in opened:
        catalog.close()
    again = PgCatalog(pg_url)
    assert again.identity == opened[0].identity and again.counts() == (1, 1)
    assert _versions(pg_url) == list(range(1, len(MIGRATIONS) + 1))
    again.close()


def test_an_unreachable_server_is_one_line_without_the_password(postgres):
    url = f"postgresql://someone:s3cret@127.0.0.1:{postgres.port}/no_such_database"
    with pytest.raises(CatalogError) as caught:
        PgCatalog(url)
    message = str(caught.value)
    assert "s3cret" not in message and "\n" not in message
    assert message.startswith(
        f"catalog postgresql://someone@127.0.0.1:{postgres.port}/no_such_database:"
    )


def test_missing_server_binaries_are_one_line_naming_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(pg_local, "_BINARIES", tmp_path)
    with pytest.raises(FirstseenError, match="install Debian's postgresql package"):
        pg_local.start_local_postgres(tmp_path / "cluster")


def _put(archive: Archive, vectors: np.ndarray) -> int:
    """Adds an item of these frame vectors (no thumbnails) as `add` would."""
    frames = [FrameRecord(k, float(k), bytes(32), 100, v) for k, v in enumerate(vectors)]
    name = hashlib.sha256(vectors.tobytes()).hexdigest()
    staged = archive.thumbnails.stage(name)
    return archive.add_item(name, "video", (64, 64), 1.0, 1, frames, Sighting(name), staged)


def test_archives_on_one_postgres_catalog_see_each_others_changes(tmp_path, pg_url):
    """Two processes (a server and a CLI) on one PostgreSQL catalog: the server's FAISS indexes
    catch up with the other's adds and removals through the vector log, and a cold open
    replays the log over the index file."""
    rng = np.random.default_rng(6)
    root = tmp_path / "archive"
    server = Archive(root, catalog=PgCatalog(pg_url))
    first = unit(rng, 5, 512)
    _put(server, first)
    server.save()
    assert len(server.index) == 5
    cli = Archive(root, catalog=PgCatalog(pg_url))
    new = unit(rng, 4, 512)
    item = _put(cli, new)
    cli.close()
    assert server.refresh()
    frames = {f.frame_id for f in server.catalog.item_frames(item)}
    _, found = server.index.search(new, 1)
    assert set(found[:, 0]) == frames and len(server.index) == 9
    cli = Archive(root, catalog=PgCatalog(pg_url))
    cli.remove(cli.catalog.item(item))
    cli.close()
    assert server.refresh() and len(server.index) == 5
    assert not set(server.index.search(new, 1)[1][:, 0]) & frames
    server.close()
    cold = Archive(root, catalog=PgCatalog(pg_url))
    assert sorted(cold.index.ids().tolist()) == sorted(cold.catalog.frame_ids().tolist())
    cold.close()


def test_the_demo_archived_on_postgres_answers_as_the_embedded_one(
    tmp_path, pg_url, demo_dir, demo_searcher
):
    """The demo's media added to an archive whose catalog is on PostgreSQL (FAISS indexes and
    thumbnails in its directory): a photo and a clip searched there answer as in the embedded
    demo archive, field for field."""
    archive = Archive(tmp_path / "archive", catalog=PgCatalog(pg_url))
    ingester = Ingester(archive, open_descriptor(archive))
    for path, meta in read_meta_csv(demo_dir / "media.csv"):
        assert ingester.add(path, Sighting(str(path), **meta)).status == "added"
    archive.save()
    searcher = open_searcher(archive)
    for query in ("evidence.jpg", "evidence-clip.mp4"):
        ours = result_json(searcher.search(demo_dir / query))
        embedded = result_json(demo_searcher.search(demo_dir / query))
        assert ours["matches"] and ours["matches"] == embedded["matches"], query
    archive.close()


def test_a_database_holding_other_tables_is_refused_in_one_line(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("CREATE TABLE items (id TEXT)")
    with pytest.raises(CatalogError, match=r'relation "items" already exists while opening it$'):
        PgCatalog(pg_url)
