"""vPDQ interoperability: hashes that agree with ThreatExchange's sample files, the text format,
partners' hash files imported as hash-only items, and HashBank's search over them."""

import json
import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firstseen.archive.catalog import SCHEMA, Catalog
from firstseen.archive.hashfiles import import_vpdq
from firstseen.archive.ingest import Ingester
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.cli import app
from firstseen.engine import open_descriptor
from firstseen.errors import FirstseenError
from firstseen.matching.hashbank import HashBank
from firstseen.signals.pdq import pdq_distance
from firstseen.signals.vpdq import VpdqFeature, format_vpdq, parse_vpdq, vpdq_hash

runner = CliRunner()
GOOD_LINE = "0,100," + "ab" * 32 + ",0.000"


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def samples(shared_data) -> Path:
    path = shared_data / "threatexchange-tmk-vpdq"
    if not (path / "vpdq-sample-hashes").is_dir():
        pytest.skip("ThreatExchange's vPDQ samples are not present")
    return path


@pytest.fixture(scope="session")
def hashed(samples):
    """Our vPDQ hash of a sample video, computed once per (name, size) for the whole session."""
    cache: dict[tuple[str, tuple[int, int] | None], list[VpdqFeature]] = {}

    def get(name: str, size: tuple[int, int] | None = None) -> list[VpdqFeature]:
        if (name, size) not in cache:
            cache[name, size] = vpdq_hash(samples / "sample-videos" / f"{name}.mp4", size=size)
        return cache[name, size]

    return get


def expected(samples: Path, name: str) -> list[VpdqFeature]:
    return parse_vpdq((samples / "vpdq-sample-hashes" / f"{name}.txt").read_text())


# SD, HD with low-quality frames, odd dimensions (padded rows), and upstream's 128x128 option.
@pytest.mark.parametrize(
    ("video", "size", "reference"),
    [
        ("pattern-sd-grey-bar", None, "pattern-sd-grey-bar"),
        ("doorknob-hd-no-bar", None, "doorknob-hd-no-bar"),
        ("test-padded-dimensions", None, "test-padded-dimensions"),
        ("pattern-sd-grey-bar", (128, 128), "pattern-sd-grey-bar-128x128"),
    ],
)
def test_hashes_conform_to_threatexchange_samples(samples, hashed, video, size, reference):
    ours, theirs = hashed(video, size), expected(samples, reference)
    assert [f.frame_number for f in ours] == [f.frame_number for f in theirs]
    assert [f"{f.seconds:.3f}" for f in ours] == [f"{f.seconds:.3f}" for f in theirs]
    # upstream's regression rule: frames of quality < 50 are skipped, the rest within < 31 bits
    distances = [
        pdq_distance(a.bits, b.bits) for a, b in zip(ours, theirs, strict=True) if b.quality >= 50
    ]
    assert distances and max(distances) < 31


@pytest.mark.skipif(
    not os.environ.get("FIRSTSEEN_VPDQ_ALL"), reason="every sample (75 s): FIRSTSEEN_VPDQ_ALL=1"
)
def test_every_sample_conforms(samples, hashed):
    """The figures in the README: run with FIRSTSEEN_VPDQ_ALL=1 and -s to see them."""
    totals: dict[str, list[int]] = {}
    for video in sorted((samples / "sample-videos").glob("*.mp4")):
        for suffix, size in (("", None), ("-128x128", (128, 128))):
            if not (samples / "vpdq-sample-hashes" / f"{video.stem}{suffix}.txt").exists():
                continue
            ours, theirs = hashed(video.stem, size), expected(samples, video.stem + suffix)
            assert [(f.frame_number, f"{f.seconds:.3f}") for f in ours] == [
                (f.frame_number, f"{f.seconds:.3f}") for f in theirs
            ]
            distances = [
                pdq_distance(a.bits, b.bits)
                for a, b in zip(ours, theirs, strict=True)
                if b.quality >= 50
            ]
            print(
                f"{video.stem + suffix}: {len(ours)} frames, {len(distances)} compared,"
                f" max distance {max(distances)}, {distances.count(0)} identical"
            )
            total = totals.setdefault(suffix or "full size", [0, 0, 0, 0])
            total[0] += 1
            total[1] += len(distances)
            total[2] = max(total[2], *distances)
            total[3] += distances.count(0)
            assert max(distances) < 31
    for name, (files, compared, worst, same) in totals.items():
        print(f"{name}: {files} videos, {compared} frames compared, max {worst}, {same} identical")


def test_one_hash_per_seconds_per_hash(samples, hashed):
    every = hashed("pattern-sd-grey-bar", (128, 128))
    sparse = vpdq_hash(
        samples / "sample-videos" / "pattern-sd-grey-bar.mp4", seconds_per_hash=1, size=(128, 128)
    )
    assert [f.frame_number for f in sparse] == list(range(0, len(every), 30))
    assert sparse == [every[f.frame_number] for f in sparse]


def test_text_format_round_trips_upstream_files(samples):
    text = (samples / "vpdq-sample-hashes" / "doorknob-hd-no-bar.txt").read_text()
    assert format_vpdq(parse_vpdq(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no hashes"),
        (f"{GOOD_LINE}\n1,100,abc,0.033\n", "line 2: expected frame_number,quality,pdq_hex"),
        (f"{GOOD_LINE}\n1,100,{'ab' * 32}\n", "line 2: expected"),
        (f"{GOOD_LINE},extra\n", "line 1: expected"),
        ("-1,100," + "ab" * 32 + ",0.000\n", "line 1: expected"),
        ("0,101," + "ab" * 32 + ",0.000\n", "line 1: quality 101 is above 100"),
        (f"{GOOD_LINE}\n\n{GOOD_LINE}\n", "line 3: frame 0 comes after frame 0"),
    ],
)
def test_malformed_text_names_the_line(text, message):
    with pytest.raises(FirstseenError, match=message):
        parse_vpdq(text)


def test_hash_cli_stdout_out_dir_and_a_bad_file(samples, tmp_path):
    video = samples / "sample-videos" / "pattern-sd-grey-bar.mp4"
    single = invoke("hash", "--vpdq", video, "--downsample", "128")
    assert single.exit_code == 0, single.output
    ours, theirs = parse_vpdq(single.stdout), expected(samples, "pattern-sd-grey-bar-128x128")
    assert [(f.frame_number, f.seconds) for f in ours] == [
        (f.frame_number, f.seconds) for f in theirs
    ]
    assert max(pdq_distance(a.bits, b.bits) for a, b in zip(ours, theirs, strict=True)) < 31

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    out = tmp_path / "hashes"
    batch = invoke("hash", "--vpdq", bad, video, "--out", out, "--seconds-per-hash", "1")
    assert batch.exit_code == 1
    errors = [line for line in batch.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0]
    written = parse_vpdq((out / "pattern-sd-grey-bar.txt").read_text())
    assert [f.frame_number for f in written] == list(range(0, 206, 30))
    assert not (out / "broken.txt").exists()
    assert "hashed 1 (7 frames)" in batch.output and "failed 1" in batch.output

    assert invoke("hash", video).exit_code == 2  # which hash: --vpdq
    assert invoke("hash", "--vpdq", video, bad).exit_code == 2  # several need --out


@pytest.fixture
def archive(tmp_path):
    store = Archive(tmp_path / "archive")
    yield store
    store.close()


def test_import_makes_a_hash_only_item_and_reimport_a_sighting(samples, archive):
    file = samples / "vpdq-sample-hashes" / "pattern-sd-grey-bar.txt"
    first = import_vpdq(archive, file, Sighting(str(file), "https://partner.example/v/1"))
    assert first.status == "added" and first.frames == 206
    item = archive.catalog.item(first.item_id)
    size = file.stat().st_size
    assert (item.kind, item.origin, item.frames, item.bytes) == ("video", "vpdq", 206, size)
    assert archive.catalog.item_frames(item.id) == []  # nothing for the index or thumbnails
    stored = archive.catalog.hash_only_frames()
    assert [(f.ordinal, f.time) for f in stored[:2]] == [(0, 0.0), (1, 0.033)]
    assert stored[5].pdq == expected(samples, "pattern-sd-grey-bar")[5].bits

    again = import_vpdq(archive, file, Sighting(str(file), "https://other.example/v"))
    assert (again.status, again.item_id, again.new_sighting) == ("duplicate", item.id, True)
    urls = [s.url for s in archive.catalog.sightings(item.id)]
    assert sorted(urls) == ["https://other.example/v", "https://partner.example/v/1"]
    assert len(archive.catalog.items()) == 1


def test_hash_only_items_stay_out_of_the_vector_index(samples, archive, tmp_path, demo_dir):
    Ingester(archive, open_descriptor(archive)).add(
        demo_dir / "media" / "coffee.png", Sighting("c")
    )
    file = samples / "vpdq-sample-hashes" / "doorknob-hd-no-bar.txt"
    other = Archive(archive.root)  # another process imports while this one serves
    assert import_vpdq(other, file, Sighting(str(file))).status == "added"
    other.close()
    assert not archive.refresh()  # caught up: the import changed no vector index
    assert len(archive.index) == 1
    assert set(archive.index.ids()) == set(archive.catalog.frame_ids())
    reopened = Archive(archive.root)
    assert len(reopened.index) == 1
    reopened.close()


def test_hash_bank_finds_the_source_and_not_an_unrelated_video(samples, hashed, archive):
    file = samples / "vpdq-sample-hashes" / "pattern-sd-grey-bar.txt"
    item_id = import_vpdq(archive, file, Sighting(str(file))).item_id
    bank = HashBank(archive.catalog)

    query = hashed("pattern-sd-grey-bar")
    found = bank.pairs([(f.bits, f.quality) for f in query])
    assert list(found) == [item_id]
    pairs = found[item_id]
    assert pairs.distance.max() <= 31
    same_frame = pairs.query_index == pairs.ordinal
    good = {i for i, f in enumerate(query) if f.quality >= 50}
    assert set(pairs.query_index[same_frame].tolist()) == good
    assert pairs.time[same_frame][:2].tolist() == [0.0, 0.033]

    unrelated = hashed("doorknob-hd-no-bar")
    assert bank.pairs([(f.bits, f.quality) for f in unrelated]) == {}


def test_hash_bank_quality_rule_and_cache(samples, archive, tmp_path, monkeypatch):
    file = samples / "vpdq-sample-hashes" / "pattern-sd-grey-bar.txt"
    item_id = import_vpdq(archive, file, Sighting(str(file))).item_id
    bank = HashBank(archive.catalog)
    stored = expected(samples, "pattern-sd-grey-bar")[10]
    assert bank.pairs([(stored.bits, 49)]) == {}
    loads = []
    real = archive.catalog.hash_only_frames
    monkeypatch.setattr(archive.catalog, "hash_only_frames", lambda q: loads.append(q) or real(q))
    assert bank.pairs([(stored.bits, 50)])[item_id].distance.min() == 0
    assert loads == []  # nothing changed since the first load

    second = tmp_path / "resent.txt"  # the same hashes in other bytes: another item
    second.write_text(file.read_text() + "\n")
    other_id = import_vpdq(archive, second, Sighting(str(second))).item_id
    assert set(bank.pairs([(stored.bits, 100)])) == {item_id, other_id}
    assert len(loads) == 1

    archive.remove(archive.catalog.item(item_id))
    assert set(bank.pairs([(stored.bits, 100)])) == {other_id}
    with pytest.raises(ValueError):
        bank.pairs([(b"short", 100)])


def test_import_cli_reports_a_bad_file_and_imports_the_rest(samples, tmp_path):
    archive_dir = tmp_path / "archive"
    good = samples / "vpdq-sample-hashes" / "doorknob-hd-no-bar.txt"
    bad = tmp_path / "partner.txt"
    bad.write_text(f"{GOOD_LINE}\n1,100,nothex,0.033\n")
    result = invoke(
        "--archive",
        archive_dir,
        "import-vpdq",
        bad,
        good,
        "--url",
        "https://p.example/x",
        "--published",
        "2019-07-30",
    )
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "line 2" in errors[0]
    assert "imported 1 (120 frame hashes)" in result.output and "failed 1" in result.output

    listed = json.loads(invoke("--archive", archive_dir, "list", "-f", "json").stdout)
    assert [(i["origin"], i["kind"], i["frames"]) for i in listed] == [("vpdq", "video", 120)]
    assert "hashes only" in invoke("--archive", archive_dir, "list").stdout
    info = json.loads(invoke("--archive", archive_dir, "info", str(good)).stdout)
    assert info["origin"] == "vpdq" and info["sightings"][0]["published"] == "2019-07-30"

    again = invoke("--archive", archive_dir, "import-vpdq", good)
    assert again.exit_code == 0 and "skipped 1" in again.output
    assert invoke("--archive", archive_dir, "remove", info["sha256"][:12]).exit_code == 0
    assert json.loads(invoke("--archive", archive_dir, "list", "-f", "json").stdout) == []


def test_catalog_made_before_origin_existed_still_opens(tmp_path):
    path = tmp_path / "catalog.sqlite"
    old = sqlite3.connect(path)
    origin = ",\n    origin TEXT NOT NULL DEFAULT 'media' CHECK (origin IN ('media', 'vpdq'))"
    assert origin in SCHEMA
    old.executescript(
        SCHEMA.replace(origin, "")
        + "INSERT INTO items VALUES (1, 'ab', 'image', 'a.jpg', 1, 1, NULL, 3, '2024-01-01');"
        "INSERT INTO sightings VALUES (1, 1, 'a.jpg', NULL, NULL, NULL, '2024-01-01');"
    )
    old.commit()
    old.close()
    catalog = Catalog(path)
    assert [i.origin for i in catalog.items()] == ["media"]
    catalog.close()
    assert [i.origin for i in Catalog(path).items()] == ["media"]  # migrated once
