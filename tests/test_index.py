"""The vector index behind its seam: exact and approximate answers, changes that reach a running
reader through the catalog's log without rewriting the file, and kills during a rewrite."""

import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from firstseen.archive import faiss_build, faiss_index, index_sync
from firstseen.archive.faiss_index import FaissIndex, read_stamp
from firstseen.archive.memory_index import MemoryIndex
from firstseen.archive.records import FrameRecord, Sighting
from firstseen.archive.store import Archive
from firstseen.tuning import INDEX

DIM = 512


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def footage(rng: np.random.Generator, n: int) -> np.ndarray:
    """Frames of one shot: a random walk around a random centre, as video descriptors are."""
    centre = unit(rng.standard_normal((1, DIM)))
    return unit(centre + np.cumsum(0.02 * rng.standard_normal((n, DIM)), axis=0))


def put(archive: Archive, vectors: np.ndarray) -> int:
    """Adds an item of these frame vectors (no thumbnails) as `add` would."""
    frames = [
        FrameRecord(k, float(k), bytes(32), 100, v.astype(np.float32))
        for k, v in enumerate(vectors)
    ]
    sha = secrets.token_hex(32)
    staged = archive.thumbnails.stage(sha)
    return archive.add_item(sha, "video", (64, 64), 1.0, 1, frames, Sighting(sha), staged)


def exact_top(archive: Archive, queries: np.ndarray, k: int) -> np.ndarray:
    ids = archive.catalog.frame_ids()
    scores = queries @ archive.catalog.vectors(ids).T
    return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def alone_as_among_many(index, queries: np.ndarray) -> np.ndarray:
    """Each of `queries` searched alone finds the neighbours, with the scores, it finds searched
    with all of them (a search of few vectors and one of many split the work differently);
    those neighbours."""
    scores, found = index.search(queries, 10)
    for row, query in enumerate(queries):
        alone_scores, alone = index.search(query[None], 10)
        np.testing.assert_array_equal(alone[0], found[row])
        np.testing.assert_allclose(alone_scores[0], scores[row], rtol=1e-6)
    return found


@pytest.fixture
def small_approximate(monkeypatch):
    """Index settings that make a few thousand vectors approximate and keep changes in memory."""
    tuned = dataclasses.replace(
        INDEX, approximate_from=2_000, train_sample=4_000, rewrite_below=0, replay_most=5_000
    )
    for module in (faiss_build, faiss_index, index_sync):
        monkeypatch.setattr(module, "INDEX", tuned)
    monkeypatch.setattr(faiss_build, "_MIN_LISTS", 16)
    return tuned


def test_the_faiss_index_answers_as_the_exact_reference(tmp_path):
    rng = np.random.default_rng(0)
    vectors = unit(rng.standard_normal((300, DIM)))
    ids = np.arange(10, 310, dtype=np.int64)
    faiss_one = FaissIndex(
        tmp_path / "none.faiss", DIM, exact=lambda wanted: (wanted, vectors[wanted - 10])
    )
    reference = MemoryIndex(DIM)
    for index in (faiss_one, reference):
        index.add(ids, vectors)
        index.add(ids[:5], vectors[:5])  # again: nothing changes
        index.remove(ids[100:150])
    queries = unit(vectors[:20] + 0.05 * rng.standard_normal((20, DIM)))
    _, found = faiss_one.search(queries, 10)
    _, expected = reference.search(queries, 10)
    assert len(faiss_one) == len(reference) == 250
    np.testing.assert_array_equal(found, expected)


def test_an_approximate_index_finds_what_the_exact_one_finds(tmp_path, small_approximate):
    rng = np.random.default_rng(1)
    archive = Archive(tmp_path / "archive")
    shots = [footage(rng, 100) for _ in range(30)]
    for shot in shots:
        put(archive, shot)
    archive.save()
    assert archive.index.approximate and len(archive.index) == 3_000
    picked = np.concatenate([shot[::25] for shot in shots])
    queries = unit(picked + 0.03 * rng.standard_normal(picked.shape))
    _, found = archive.index.search(queries, 10)
    expected = exact_top(archive, queries, 10)
    assert np.mean(found[:, 0] == expected[:, 0]) == 1.0
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(found, expected, strict=True)]
    assert np.mean(overlap) >= 0.95
    archive.close()

    reopened = Archive(tmp_path / "archive")  # opened from the file, not rebuilt
    assert reopened.index.approximate
    np.testing.assert_array_equal(reopened.index.search(queries, 10)[1], found)
    reopened.close()


def test_a_vector_searched_alone_finds_what_it_finds_among_many(tmp_path, small_approximate):
    """A search of few vectors splits each one's lists among the threads, one of many splits
    the vectors (`INDEX.split_lists_below`): the neighbours are the same either way."""
    rng = np.random.default_rng(2)
    archive = Archive(tmp_path / "archive")
    for _ in range(30):
        put(archive, footage(rng, 100))
    archive.save()
    assert archive.index.approximate
    alone_as_among_many(archive.index, unit(rng.standard_normal((16, DIM))))
    archive.close()


def test_a_flat_search_of_one_vector_runs_on_its_thread_alone_and_finds_the_same(tmp_path):
    """One query vector is searched on the calling thread alone (`faiss_index.flat_search`), the
    rest on FAISS's threads: the neighbours are the same, and the thread count is put back."""
    rng = np.random.default_rng(3)
    archive = Archive(tmp_path / "archive")
    for _ in range(3):
        put(archive, footage(rng, 100))
    assert not archive.index.approximate
    queries = unit(rng.standard_normal((8, DIM)))
    threads = faiss.omp_get_max_threads()
    found = alone_as_among_many(archive.index, queries)
    np.testing.assert_array_equal(found, exact_top(archive, queries, 10))
    assert faiss.omp_get_max_threads() == threads
    seen: list[int] = []
    with faiss_index.threads(1):
        seen.append(faiss.omp_get_max_threads())
    assert seen == [1] and faiss.omp_get_max_threads() == threads
    archive.close()


def test_a_running_reader_sees_adds_and_removals_without_the_file_being_rewritten(
    tmp_path, small_approximate
):
    rng = np.random.default_rng(2)
    root = tmp_path / "archive"
    writer = Archive(root)
    for _ in range(25):
        put(writer, footage(rng, 100))
    writer.close()
    written = (root / "vectors.faiss").stat().st_mtime_ns, read_stamp(root / "vectors.faiss")

    server = Archive(root)
    assert len(server.index) == 2_500
    generation = server.generation
    cli = Archive(root)  # another process
    new = footage(rng, 50)
    item = put(cli, new)
    cli.close()
    assert server.refresh()
    assert server.generation == generation  # an add drops no cache
    _, found = server.index.search(new[:3], 1)
    frames = {f.frame_id for f in server.catalog.item_frames(item)}
    assert set(found[:, 0]) <= frames and len(server.index) == 2_550

    cli = Archive(root)
    cli.remove(cli.catalog.item(item))
    cli.close()
    assert server.refresh() and server.generation > generation
    _, found = server.index.search(new[:3], 1)
    assert not set(found[:, 0]) & frames and len(server.index) == 2_500
    assert ((root / "vectors.faiss").stat().st_mtime_ns, read_stamp(root / "vectors.faiss")) == (
        written
    )
    server.close()

    cold = Archive(root)  # replays the log over the file
    assert len(cold.index) == 2_500 and not set(cold.index.search(new[:3], 1)[1][:, 0]) & frames
    cold.close()


def test_the_file_is_rewritten_once_enough_has_changed(tmp_path, small_approximate):
    rng = np.random.default_rng(3)
    root = tmp_path / "archive"
    archive = Archive(root)
    for _ in range(25):
        put(archive, footage(rng, 100))
    archive.save()
    first = read_stamp(root / "vectors.faiss")
    for _ in range(small_approximate.replay_most // 100 + 1):
        put(archive, footage(rng, 100))
    archive.save()
    later = read_stamp(root / "vectors.faiss")
    assert first and later and later.revision > first.revision
    assert archive.index.pending == 0 and len(archive.index) == 7_600
    archive.close()


_COMPACTING = """
import dataclasses, sys
from firstseen.archive import faiss_build, faiss_index, index_sync
from firstseen.archive.store import Archive
from firstseen.tuning import INDEX
sys.path.insert(0, {tests!r})
from test_index import footage, put
import numpy as np
tuned = dataclasses.replace(INDEX, approximate_from=2_000, train_sample=4_000, rewrite_below=0,
                            replay_most=300)
for module in (faiss_build, faiss_index, index_sync):
    module.INDEX = tuned
faiss_build._MIN_LISTS = 16
archive = Archive(__import__("pathlib").Path(sys.argv[1]))
rng = np.random.default_rng(int(sys.argv[2]))
print("ready", flush=True)
while True:
    put(archive, footage(rng, 100))
    archive.save()
"""


@pytest.mark.parametrize("delay", [0.4, 1.1, 1.9])
def test_a_writer_killed_while_rewriting_the_index_leaves_a_consistent_archive(tmp_path, delay):
    root = tmp_path / "archive"
    script = _COMPACTING.format(tests=str(Path(__file__).parent))
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(root), str(int(delay * 10))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
    time.sleep(delay)
    assert process.poll() is None, "the writer stopped before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    archive = Archive(root)
    ids = archive.catalog.frame_ids()
    assert sorted(archive.index.ids()) == sorted(ids) and len(archive.index) == len(ids)
    found, vectors = archive.catalog.stored_vectors("frames", ids[-5:])
    _, nearest = archive.index.search(vectors, 1)
    np.testing.assert_array_equal(nearest[:, 0], found)
    archive.close()


def test_a_removal_that_fails_leaves_the_item_findable(tmp_path, monkeypatch):
    """The catalog refuses the removal (a full disk, say): the item's vectors go back into the
    index, an item without parts of photos included, and the catalog's error is what is raised."""
    rng = np.random.default_rng(4)
    archive = Archive(tmp_path / "archive")
    shot = footage(rng, 20)
    item = put(archive, shot)

    def refuse(item_id: int) -> list[int]:
        raise OSError("disk full")

    monkeypatch.setattr(archive.catalog, "remove_item", refuse)
    with pytest.raises(OSError, match="disk full"):
        archive.remove(archive.catalog.item(item))
    _, found = archive.index.search(shot[:3], 1)
    frames = {f.frame_id for f in archive.catalog.item_frames(item)}
    assert set(found[:, 0]) <= frames and len(archive.index) == 20
    archive.close()
