"""Vectors on Milvus (Milvus Lite here, in a temporary directory): the same answers as the exact
reference and the embedded FAISS index, kept in step with the catalog through its log by any
process, rebuilt when it holds another catalog's vectors, and shared between processes through
a local Milvus Lite server."""

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_index import DIM, footage, put, unit

from firstseen.archive.faiss_index import FaissIndex
from firstseen.archive.index_api import Stamp
from firstseen.archive.memory_index import MemoryIndex
from firstseen.archive.milvus_index import MilvusIndex, MilvusKept, milvus_indexes
from firstseen.archive.milvus_server import local_milvus, start_local_milvus, stop_local_milvus
from firstseen.archive.store import Archive
from firstseen.engine import open_searcher
from firstseen.errors import FirstseenError
from firstseen.matching.answers import result_json

pymilvus = pytest.importorskip("pymilvus")
MilvusLite = pytest.importorskip("milvus_lite").MilvusLite


@pytest.fixture
def lite(tmp_path) -> str:
    """A Milvus Lite database of this test's own, opened in this process."""
    return str(tmp_path / "milvus.db")


def held(vectors: np.ndarray, first: int):
    """The catalog's stored vectors as an index's re-scoring reads them: ids from `first`."""

    def exact(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return wanted, vectors[wanted - first]

    return exact


def test_milvus_answers_as_the_exact_reference_and_faiss(tmp_path, lite):
    rng = np.random.default_rng(0)
    vectors = unit(rng.standard_normal((300, DIM)))
    ids = np.arange(10, 310, dtype=np.int64)
    milvus = MilvusIndex(
        pymilvus.MilvusClient(lite), "firstseen_test_frames", DIM, held(vectors, 10)
    )
    milvus.create()
    faiss_one = FaissIndex(tmp_path / "none.faiss", DIM, exact=held(vectors, 10))
    reference = MemoryIndex(DIM)
    for index in (milvus, faiss_one, reference):
        index.add(ids, vectors)
        index.add(ids[:5], vectors[:5])  # again: nothing changes
        index.remove(ids[100:150])
        index.remove(np.array([5_000], np.int64))  # not held: nothing changes
    queries = unit(vectors[:20] + 0.05 * rng.standard_normal((20, DIM)))
    scores, found = milvus.search(queries, 10)
    for other in (reference, faiss_one):
        other_scores, other_found = other.search(queries, 10)
        np.testing.assert_array_equal(found, other_found)
        np.testing.assert_allclose(scores, other_scores, atol=1e-4)
    assert len(milvus) == len(reference) == 250
    assert sorted(milvus.ids().tolist()) == sorted(reference.ids().tolist())
    assert milvus.search(queries[:1], 1_000)[1].shape == (1, 250)  # as many as it holds


def test_a_search_brings_back_ids_not_vectors(lite, monkeypatch):
    """A shortlist of 1,024 would otherwise carry 2 MB of vectors per query vector; an exact
    index (Milvus Lite's) is asked for the k nearest only, as FAISS's flat one is."""
    rng = np.random.default_rng(7)
    vectors = unit(rng.standard_normal((40, DIM)))
    client = pymilvus.MilvusClient(lite)
    milvus = MilvusIndex(client, "firstseen_test_frames", DIM, held(vectors, 0))
    milvus.create()
    milvus.add(np.arange(40, dtype=np.int64), vectors)
    answers = []
    search = client.search

    def kept(*args, **kwargs):
        answers.append(search(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(client, "search", kept)
    milvus.search(vectors[:2], 5)
    fields = {name for hits in answers[0] for hit in hits for name in hit["entity"]}
    assert fields <= {"id"}
    assert milvus.exact and [len(hits) for hits in answers[0]] == [5, 5]  # no shortlist


def test_a_removed_id_milvus_still_holds_never_reaches_an_answer(lite):
    rng = np.random.default_rng(1)
    vectors = unit(rng.standard_normal((50, DIM)))
    gone = 20  # removed from the catalog by a process that died before telling Milvus

    def exact(wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kept = wanted[wanted != gone]
        return kept, vectors[kept]

    milvus = MilvusIndex(pymilvus.MilvusClient(lite), "firstseen_test_frames", DIM, exact)
    milvus.create()
    milvus.add(np.arange(50, dtype=np.int64), vectors)
    scores, found = milvus.search(vectors[gone : gone + 1], 5)
    assert gone not in found[0] and found[0, 0] >= 0
    np.testing.assert_allclose(scores[0], vectors[found[0]] @ vectors[gone], atol=1e-4)


def test_another_connection_catches_up_through_the_log_and_the_stamp(tmp_path, lite):
    rng = np.random.default_rng(2)
    root = tmp_path / "archive"
    writer = Archive(root, indexes=milvus_indexes(lite))
    first, second = footage(rng, 30), footage(rng, 20)
    kept = put(writer, first)
    removed = put(writer, second)
    server = Archive(root, indexes=milvus_indexes(lite))  # another catalog connection
    assert len(server.index) == 50
    generation = server.generation

    writer.remove(writer.catalog.item(removed))
    third = footage(rng, 10)
    added = put(writer, third)
    stamp = writer._frames.index.stamp()
    assert stamp == Stamp(writer.catalog.identity, writer.catalog.vectors_revision())

    assert server.refresh() and server.generation > generation  # a removal drops caches
    frames = {f.frame_id for f in server.catalog.item_frames(added)}
    _, found = server.index.search(third[:3], 1)
    assert set(found[:, 0]) <= frames and len(server.index) == 40
    _, found = server.index.search(second[:3], 1)
    assert not set(found[:, 0]) & set(range(31, 51))  # the removed item's frames
    assert {f.frame_id for f in server.catalog.item_frames(kept)} | frames == set(
        server.index.ids().tolist()
    )
    writer.close()
    server.close()


def test_a_stamp_behind_the_catalog_is_replayed_on_open(tmp_path, lite):
    """Changes the catalog committed while no index saw them (a writer killed before its
    catch-up) reach the collection when it is next opened."""
    rng = np.random.default_rng(3)
    root = tmp_path / "archive"
    archive = Archive(root, indexes=milvus_indexes(lite))
    put(archive, footage(rng, 10))
    behind = archive._frames.index.stamp()
    embedded = Archive(root)  # commits without touching Milvus
    late = put(embedded, footage(rng, 5))
    embedded.remove(embedded.catalog.item(1))
    embedded.close()

    assert archive._frames.index.stamp() == behind
    reopened = Archive(root, indexes=milvus_indexes(lite))
    frames = {f.frame_id for f in reopened.catalog.item_frames(late)}
    assert set(reopened.index.ids().tolist()) == frames
    assert reopened._frames.index.stamp() == Stamp(
        reopened.catalog.identity, reopened.catalog.vectors_revision()
    )
    archive.close()
    reopened.close()


def test_a_collection_of_another_catalog_is_rebuilt(tmp_path, lite):
    rng = np.random.default_rng(4)
    client = pymilvus.MilvusClient(lite)
    one = Archive(tmp_path / "one")
    put(one, footage(rng, 12))
    theirs = MilvusKept(client, "frames", one.catalog, DIM, name="firstseen_shared_frames")
    theirs.open()
    assert len(theirs.index) == 12

    other = Archive(tmp_path / "other")
    ours = put(other, footage(rng, 7))
    mine = MilvusKept(client, "frames", other.catalog, DIM, name="firstseen_shared_frames")
    mine.open()
    assert set(mine.index.ids().tolist()) == {f.frame_id for f in other.catalog.item_frames(ours)}
    assert mine.index.stamp() == Stamp(other.catalog.identity, other.catalog.vectors_revision())
    assert mine.changed
    one.close()
    other.close()


def test_a_collection_stamped_before_the_logs_start_is_rebuilt(tmp_path, lite):
    rng = np.random.default_rng(5)
    archive = Archive(tmp_path / "archive")
    put(archive, footage(rng, 8))
    client = pymilvus.MilvusClient(lite)
    kept = MilvusKept(client, "frames", archive.catalog, DIM)
    kept.open()
    kept.index.add(np.array([9_999], np.int64), unit(rng.standard_normal((1, DIM))))  # stale
    kept.index.write_stamp(Stamp(archive.catalog.identity, 0))
    archive.catalog.set_meta("vector_log_from", str(archive.catalog.vectors_revision()))

    again = MilvusKept(client, "frames", archive.catalog, DIM)
    again.open()
    assert sorted(again.index.ids().tolist()) == sorted(archive.catalog.frame_ids().tolist())
    archive.close()


SEES_WRITE = """
import sys
import numpy as np
from pymilvus import MilvusClient
client = MilvusClient(sys.argv[1])
got = client.query("shared", filter="id == 7", output_fields=["id"], consistency_level="Strong")
assert [row["id"] for row in got] == [7], got
client.upsert("shared", [{"id": 8, "vector": np.ones(4, np.float32) / 2}])
"""


def test_two_processes_share_a_local_milvus_server(tmp_path):
    uri = start_local_milvus(tmp_path / "cluster")
    try:
        assert uri.startswith("http://127.0.0.1:")
        assert start_local_milvus(tmp_path / "cluster") == uri  # found running, not started again
        client = pymilvus.MilvusClient(uri)
        client.create_collection("shared", dimension=4, metric_type="IP", auto_id=False)
        client.upsert("shared", [{"id": 7, "vector": np.ones(4, np.float32) / 2}])
        done = subprocess.run(
            [sys.executable, "-c", SEES_WRITE, uri], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        got = client.query("shared", filter="id == 8", consistency_level="Strong")
        assert [row["id"] for row in got] == [8]
        client.close()
    finally:
        assert stop_local_milvus(tmp_path / "cluster")
    assert local_milvus(tmp_path / "cluster") is None
    assert not stop_local_milvus(tmp_path / "cluster")

    uri = start_local_milvus(tmp_path / "cluster")  # the data outlives the server
    try:
        client = pymilvus.MilvusClient(uri)
        client.load_collection("shared")  # a restarted server holds its collections released
        assert client.query("shared", filter="id >= 0", output_fields=["count(*)"])[0] == {
            "count(*)": 2
        }
        client.close()
    finally:
        stop_local_milvus(tmp_path / "cluster")


def test_an_archive_on_a_restarted_server_carries_on_from_its_stamp(tmp_path, monkeypatch):
    rng = np.random.default_rng(6)
    root, cluster = tmp_path / "archive", tmp_path / "cluster"
    archive = Archive(root, indexes=milvus_indexes(start_local_milvus(cluster)))
    try:
        shot = footage(rng, 10)
        put(archive, shot)
        stamp = archive._frames.index.stamp()
        archive.close()
    finally:
        stop_local_milvus(cluster)

    rebuilt = []
    monkeypatch.setattr(MilvusKept, "rebuild", lambda self: rebuilt.append(self))
    archive = Archive(root, indexes=milvus_indexes(start_local_milvus(cluster)))
    try:
        _, found = archive.index.search(shot[:2], 1)  # loaded again, not rebuilt
        assert found[:, 0].tolist() == [1, 2] and not rebuilt
        assert archive._frames.index.stamp() == stamp
        archive.close()
    finally:
        stop_local_milvus(cluster)


def test_a_milvus_that_cannot_be_reached_is_one_line_naming_it(tmp_path):
    closed = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(FirstseenError, match=rf"^cannot reach Milvus at {closed}: "):
        milvus_indexes(closed)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_that_cannot_start_names_its_log(tmp_path):
    taken = tmp_path / "cluster"
    holder = MilvusLite(str(taken / "milvus"))  # this process holds the directory's lock
    with pytest.raises(FirstseenError, match=r"milvus-server\.log"):
        start_local_milvus(taken)
    holder.close()
    assert local_milvus(taken) is None


def test_the_demo_answers_the_same_with_its_vectors_on_milvus(demo_searcher, demo_dir, tmp_path):
    root: Path = demo_searcher.archive.root
    on_milvus = Archive(root, indexes=milvus_indexes(str(tmp_path / "milvus.db")))
    searcher = open_searcher(on_milvus)
    for query in ("evidence.jpg", "evidence-clip.mp4"):
        path = demo_dir / query
        embedded = result_json(demo_searcher.search(path, top=5))
        milvus = result_json(searcher.search(path, top=5))
        assert embedded["matches"] and _rounded(milvus) == _rounded(embedded)
    on_milvus.close()


def _rounded(answer: object) -> object:
    """An answer with its scores to 4 decimals (the vector store may change float rounding),
    without its time taken."""
    if isinstance(answer, dict):
        return {k: _rounded(v) for k, v in answer.items() if k != "elapsed_ms"}
    if isinstance(answer, list):
        return [_rounded(value) for value in answer]
    if isinstance(answer, float):
        return round(answer, 4)
    return answer
