"""The catalog at scale: every read that a CLI command or an HTTP request makes reaches its rows
through an index, so it costs milliseconds at millions of frames. Checked on SQLite's own query
plans (EXPLAIN QUERY PLAN) of the statements each read runs, caught with a trace callback, so the
test follows the catalog's SQL wherever it changes. The rewritten queries are also checked
against the ones they replaced: same answers."""

import random
import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from firstseen.archive.catalog import Catalog, is_sha_prefix
from firstseen.archive.records import FrameRecord, Sighting

# Table names and the aliases the catalog's SQL gives them.
_TABLES = {"frames": "frames", "f": "frames", "sightings": "sightings", "s": "sightings"}
_ITEMS = {"items", "i"}

# The published dates the catalog may hold, at every precision it accepts.
_DATES = ["2019", "2019-05", "2019-05-03", "2019-05-30", "2020", "2020-01-01", "2018-12-31"]


def _frame(ordinal: int, described: bool) -> FrameRecord:
    vector = np.full(4, 0.5, np.float32) if described else np.zeros(0, np.float32)
    return FrameRecord(ordinal, float(ordinal), bytes(32), 90, vector)


@pytest.fixture
def catalog(tmp_path) -> Iterator[Catalog]:
    """A catalog with videos, photos and a hash-only item, seen at dated and undated places."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    rng = random.Random(3)
    for n in range(40):
        origin = "vpdq" if n % 10 == 9 else "media"
        kind = "image" if n % 3 == 0 and origin == "media" else "video"
        frames = [_frame(o, origin == "media") for o in range(1 if kind == "image" else 3)]
        sha = f"{rng.getrandbits(256):064x}"
        published = rng.choice([None, *_DATES])
        sighting = Sighting(f"/m/{n}.bin", f"https://e.example/{n}", f"title {n}", published)
        item_id = catalog.add_item(
            sha, kind, sighting.path, (8, 8), None, 10, frames, sighting, origin
        )
        if n % 4 == 0:
            later = rng.choice([None, *_DATES])
            catalog.add_sighting(item_id, Sighting(f"/other/{n}.bin", None, None, later))
    yield catalog
    catalog.close()


def _statements(catalog: Catalog, read: Callable[[], object]) -> list[str]:
    """The SQL statements `read` runs, with their parameters filled in."""
    seen: list[str] = []
    catalog._db.set_trace_callback(seen.append)
    try:
        read()
    finally:
        catalog._db.set_trace_callback(None)
    return [s for s in seen if s.lstrip().upper().startswith(("SELECT", "DELETE", "INSERT"))]


def _plans(catalog: Catalog, read: Callable[[], object]) -> list[str]:
    return [
        row[3]
        for sql in _statements(catalog, read)
        for row in catalog._db.execute(f"EXPLAIN QUERY PLAN {sql}")
    ]


def _scans(plans: list[str], items_allowed: bool) -> list[str]:
    """The plan steps that read a whole table of frames or sightings (or of items, where the
    read is documented to walk them)."""
    found = []
    for step in plans:
        match = re.match(r"SCAN (\w+)", step)
        if match and (match[1] in _TABLES or (match[1] in _ITEMS and not items_allowed)):
            found.append(step)
    return found


def _reads(catalog: Catalog) -> dict[str, Callable[[], Any]]:
    """Each read a CLI command or an HTTP request makes, by what it is for."""
    item = catalog.items()[5]
    return {
        "info/remove by id": lambda: catalog.find_items(str(item.id)),
        "info/remove by SHA-256 prefix": lambda: catalog.find_items(item.sha256[:8]),
        "info/remove by path": lambda: catalog.find_items(item.path),
        "an item": lambda: catalog.item(item.id),
        "an item by content": lambda: catalog.item_id(item.sha256),
        "the sightings timeline": lambda: catalog.sightings(item.id),
        "an item's frames": lambda: catalog.item_frames(item.id),
        "a moment of a video": lambda: catalog.frames_between(item.id, 0.5, 1.5),
        "frames found by search": lambda: catalog.frames_info([1, 2, 3]),
        "hash-only frames": lambda: catalog.hash_only_frames(0),
        "another sighting": lambda: catalog.add_sighting(item.id, Sighting(item.path)),
        "remove": lambda: catalog.remove_item(item.id),
    }


# Paging walks items in id order and stops after the page; its total counts an index of items.
def _pages(catalog: Catalog) -> dict[str, Callable[[], Any]]:
    return {
        "a page": lambda: catalog.page(limit=5, offset=10),
        "a page of one kind": lambda: catalog.page(kind="image", limit=5),
        "a page by publication": lambda: catalog.page(
            published_from="2019-05", published_to="2019", limit=5
        ),
        "a page by earliest publication": lambda: catalog.page(published_from="2019-05-03"),
        "a page published up to": lambda: catalog.page(published_to="2019-05"),
    }


def test_per_request_reads_use_indexes_not_scans(catalog):
    scans = {name: _scans(_plans(catalog, read), False) for name, read in _reads(catalog).items()}
    assert {name: found for name, found in scans.items() if found} == {}


def test_pages_read_no_frames_or_sightings_in_full(catalog):
    scans = {name: _scans(_plans(catalog, read), True) for name, read in _pages(catalog).items()}
    assert {name: found for name, found in scans.items() if found} == {}


def test_a_page_of_one_kind_or_dates_reads_items_through_an_index(catalog):
    for name in ("a page of one kind", "a page by publication"):
        plans = _plans(catalog, _pages(catalog)[name])
        assert not [p for p in plans if re.match(r"SCAN (items|i)\b", p)], (name, plans)


def test_the_model_claim_reads_one_described_frame_at_most(catalog):
    """A scan of an index of described frames only, where EXISTS stops at the first row."""
    plans = _plans(catalog, catalog.has_described_frames)
    assert [p for p in plans if p.startswith("SCAN frames")] == [
        "SCAN frames USING INDEX frames_described"
    ]
    assert catalog.has_described_frames()
    for item in catalog.items():
        if item.origin == "media":
            catalog.remove_item(item.id)
    assert catalog.items() and not catalog.has_described_frames()  # hash-only items are left


# The queries the indexed ones replaced, as the reference for their answers.
_OLD_FIND = (
    "SELECT i.id FROM items i WHERE CAST(i.id AS TEXT) = :ref"
    " OR substr(i.sha256, 1, length(:prefix)) = :prefix"
    " OR i.id IN (SELECT item_id FROM sightings WHERE path = :ref)"
)
_FIRST = "(SELECT MIN(published) FROM sightings s WHERE s.item_id = i.id)"


def _old_published(db: sqlite3.Connection, start: str | None, end: str | None) -> list[int]:
    where, params = ["1"], {}
    if start:
        where.append(f"{_FIRST} >= substr(:from, 1, length({_FIRST}))")
        params["from"] = start
    if end:
        where.append(f"substr({_FIRST}, 1, length(:to)) <= :to")
        params["to"] = end
    sql = f"SELECT i.id FROM items i WHERE {' AND '.join(where)} ORDER BY i.id"
    return [r[0] for r in db.execute(sql, params)]


def test_find_items_answers_as_before(catalog):
    item = catalog.items()[7]
    refs = [str(item.id), f"0{item.id}", item.sha256[:6], item.sha256[:6].upper(), item.path]
    refs += [item.sha256, item.sha256[:5], "/other/8.bin", "nothing", "99999999999999999999"]
    for ref in refs:
        prefix = ref.lower() if is_sha_prefix(ref) else None
        old = [r[0] for r in catalog._db.execute(_OLD_FIND, {"ref": ref, "prefix": prefix})]
        assert [i.id for i in catalog.find_items(ref)] == old, ref


def test_pages_by_publication_answer_as_before(catalog):
    bounds = [None, "", "2019", "2019-05", "2019-05-03", "2019-05-30", "2020-01", "2018", "2"]
    for start in bounds:
        for end in bounds:
            page = catalog.page(published_from=start, published_to=end, limit=1000)
            old = _old_published(catalog._db, start, end)
            assert ([i.id for i in page.items], page.total) == (old, len(old)), (start, end)
