"""`firstseen add --ray auto`: the same archive and answers as `add`, one line per bad file, no
content indexed twice by overlapping drivers, and nothing of Ray's own output on the terminal.

Each command runs in a process of its own, which starts (and stops) a local Ray on 127.0.0.1;
Ray's files go to a fresh temporary folder, so that no cluster another user started on this
machine is joined. The model loads out of conftest.py's sight, hence the `slow` marks.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# Ray's start, the model's load and a few files on a busy two-core machine.
TIMEOUT = 300


@pytest.fixture(scope="module")
def ray_tmp() -> Iterator[Path]:
    """Ray's own temporary folder, short (its sockets' paths are limited) and ours alone."""
    folder = Path(tempfile.mkdtemp(prefix="fsray"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _command(archive: Path, *args: object) -> list[str]:
    return [sys.executable, "-m", "firstseen", "--archive", str(archive), *map(str, args)]


def _env(ray_tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    env["RAY_TMPDIR"] = str(ray_tmp)
    env["COLUMNS"] = "400"
    return env


def _firstseen(archive: Path, *args: object, ray_tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command(archive, *args),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(ray_tmp),
        check=False,
    )


def _catalog(archive: Path) -> tuple[list[tuple], list[tuple], dict[tuple, np.ndarray]]:
    """Items, frames and every stored vector (frames' and parts'), keyed by content, not by id
    (ids follow commit order, which on Ray is the order files finish in)."""
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        items = db.execute(
            "SELECT sha256, kind, width, height, duration, bytes, origin FROM items ORDER BY sha256"
        ).fetchall()
        frames = db.execute(
            "SELECT i.sha256, f.ordinal, f.time, f.pdq, f.pdq_quality FROM frames f"
            " JOIN items i ON i.id = f.item_id ORDER BY i.sha256, f.ordinal"
        ).fetchall()
        vectors = {
            ("frame", sha, ordinal): np.frombuffer(blob, np.float16).astype(np.float32)
            for sha, ordinal, blob in db.execute(
                "SELECT i.sha256, f.ordinal, f.vector FROM frames f"
                " JOIN items i ON i.id = f.item_id"
            )
        }
        parts = db.execute(
            "SELECT i.sha256, p.id, p.vector FROM parts p JOIN frames f ON p.id / 16 = f.id"
            " JOIN items i ON i.id = f.item_id"
        ).fetchall()
    for sha, part_id, blob in parts:
        vectors["part", sha, part_id % 16] = np.frombuffer(blob, np.float16).astype(np.float32)
    return items, frames, vectors


def _answers(archive: Path, queries: list[Path], ray_tmp: Path) -> list[dict]:
    """Search answers without the item ids, which follow commit order, and the times taken."""
    found = _firstseen(archive, "search", *queries, "-f", "json", ray_tmp=ray_tmp)
    assert found.returncode == 0, found.stderr
    answers = json.loads(found.stdout)
    for answer in answers:
        for match in answer["matches"]:
            del match["item_id"]
    return [{k: v for k, v in a.items() if not k.endswith("_ms")} for a in answers]


def _summary(result: subprocess.CompletedProcess) -> str:
    """The command's last line; asserting that stderr holds nothing but its own lines."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result
    own = [line for line in lines if line.startswith(("error:", "added "))]
    assert own == lines, f"Ray's output reached the terminal: {result.stderr}"
    return lines[-1]


@pytest.mark.slow
def test_ray_add_archives_what_add_does_and_search_answers_the_same(tmp_path, demo_dir, ray_tmp):
    media = demo_dir / "media"
    files = [media / n for n in ("chair-20-sd-bar.mp4", "coffee.png", "rocket.jpg", "bridge.jpg")]
    on_ray, in_process = tmp_path / "on-ray", tmp_path / "in-process"

    ray_added = _firstseen(on_ray, "add", "--ray", "auto", *files, ray_tmp=ray_tmp)
    added = _firstseen(in_process, "add", *files, ray_tmp=ray_tmp)

    assert (ray_added.returncode, added.returncode) == (0, 0), ray_added.stderr
    assert _summary(ray_added) == _summary(added)
    assert _summary(ray_added).startswith("added 4 (")
    items, frames, vectors = _catalog(on_ray)
    want_items, want_frames, want_vectors = _catalog(in_process)
    assert (items, frames) == (want_items, want_frames)
    assert vectors.keys() == want_vectors.keys() and len(vectors) > len(frames)
    assert max(np.abs(vectors[k] - want_vectors[k]).max() for k in vectors) <= 1e-4
    thumbnails = sorted(p.relative_to(on_ray) for p in (on_ray / "thumbnails").rglob("*.jpg"))
    assert thumbnails == sorted(
        p.relative_to(in_process) for p in (in_process / "thumbnails").rglob("*.jpg")
    )
    assert all((on_ray / t).read_bytes() == (in_process / t).read_bytes() for t in thumbnails)

    crop = tmp_path / "crop.png"
    Image.open(media / "coffee.png").convert("RGB").crop((100, 50, 500, 350)).save(crop)
    queries = [demo_dir / "evidence.jpg", crop]
    answers = _answers(on_ray, queries, ray_tmp)
    assert answers == _answers(in_process, queries, ray_tmp)
    assert answers[0]["matches"][0]["path"].endswith("chair-20-sd-bar.mp4")
    assert answers[1]["matches"][0]["path"].endswith("coffee.png")


@pytest.mark.slow
def test_bad_files_on_ray_get_their_line_and_the_exit_code(tmp_path, demo_dir, ray_tmp):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "fake.mp4").write_text("not a video\n")
    (folder / "truncated.mp4").write_bytes(
        (demo_dir / "media" / "chair-20-sd-bar.mp4").read_bytes()[:400_000]
    )
    (folder / "good.png").write_bytes((demo_dir / "media" / "chelsea.png").read_bytes())
    archive = tmp_path / "archive"

    on_ray = _firstseen(archive, "add", "--ray", "auto", folder, ray_tmp=ray_tmp)
    in_process = _firstseen(tmp_path / "reference", "add", folder, ray_tmp=ray_tmp)

    assert (on_ray.returncode, in_process.returncode) == (1, 1)
    errors = sorted(line for line in on_ray.stderr.splitlines() if line.startswith("error:"))
    assert errors == sorted(e for e in in_process.stderr.splitlines() if e.startswith("error:"))
    assert len(errors) == 3 and not any("good.png" in e for e in errors)
    assert (
        _summary(on_ray)
        == _summary(in_process)
        == ("added 1 (1 frames), skipped 0 already in the archive, failed 3")
    )


@pytest.mark.slow
def test_overlapping_drivers_at_once_index_each_content_once(tmp_path, demo_dir, ray_tmp):
    media = demo_dir / "media"
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, names in [
        (first, ["coffee.png", "chelsea.png", "doorknob-hd-no-bar.mp4"]),
        (second, ["chelsea.png", "doorknob-hd-no-bar.mp4", "rocket.jpg"]),
    ]:
        folder.mkdir()
        for name in names:
            shutil.copy(media / name, folder / name)
    archive = tmp_path / "archive"
    _firstseen(archive, "list", ray_tmp=ray_tmp)  # the catalog made before they race

    drivers = [
        subprocess.Popen(
            _command(archive, "add", "--ray", "auto", folder),
            stderr=subprocess.PIPE,
            text=True,
            env=_env(ray_tmp),
        )
        for folder in (first, second)
    ]
    errors = [d.communicate(timeout=TIMEOUT)[1] for d in drivers]
    results = [
        subprocess.CompletedProcess(d.args, d.returncode, "", e)
        for d, e in zip(drivers, errors, strict=True)
    ]

    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    counts = [_summary(r).replace(",", "").split() for r in results]
    assert sum(int(c[1]) for c in counts) == 4  # coffee, chelsea, doorknob, rocket: once each
    assert sum(int(c[5]) for c in counts) == 2  # the two shared files: a sighting each
    items, frames, _ = _catalog(archive)
    assert len(items) == 4 and len(frames) == len({(f[0], f[1]) for f in frames})
    again = _firstseen(archive, "add", "--ray", "auto", second, ray_tmp=ray_tmp)
    assert _summary(again) == "added 0 (0 frames), skipped 3 already in the archive, failed 0"
    assert len(_catalog(archive)[0]) == 4


@pytest.mark.slow
def test_content_another_driver_committed_meanwhile_is_a_duplicate(tmp_path, demo_dir):
    """The step both pipelines commit through: planned as new, committed first by another
    writer, then refused by the catalog, the file counts as a sighting, not a failure."""
    from firstseen.archive.ingest import Described, Ingester, commit, plan
    from firstseen.archive.records import Sighting
    from firstseen.archive.store import Archive
    from firstseen.engine import open_descriptor

    archive = Archive(tmp_path / "archive")
    photo = demo_dir / "media" / "coffee.png"
    pending = plan(archive.catalog, photo, Sighting("late/coffee.png"))
    first = Ingester(archive, open_descriptor(archive)).add(photo, Sighting("early/coffee.png"))
    with archive.thumbnails.stage(pending.sha256) as staged:
        late = commit(archive, pending, Described([], (1, 1), None), staged)

    assert (first.status, late.status, late.item_id) == ("added", "duplicate", first.item_id)
    assert late.new_sighting
    assert [s.path for s in archive.catalog.sightings(first.item_id)] == [
        "early/coffee.png",
        "late/coffee.png",
    ]
    archive.close()


@pytest.mark.slow  # starts a Ray
def test_a_ray_started_here_is_on_127_0_0_1(ray_tmp):
    code = (
        "import ray\n"
        "from ray._common.usage.usage_lib import usage_stats_enabled\n"
        "from firstseen.archive.ray_ingest import connected\n"
        "with connected('auto'):\n"
        "    print(usage_stats_enabled())\n"
        "    print(sorted({n['NodeManagerAddress'] for n in ray.nodes()}))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(ray_tmp),
        check=True,
    )
    assert shown.stdout.splitlines()[-2:] == ["False", "['127.0.0.1']"]  # and no usage reports


def test_describers_leave_a_core_for_decoding():
    """Two describers on a two-core machine (measured faster than one), one per GPU, one per
    four cores; a pool that would leave no whole core for the decode tasks is cut down (three
    describers on two cores waited for ever)."""
    from firstseen.archive.ray_ingest import describer_count

    assert describer_count(None, 0, 2) == 2
    assert describer_count(None, 0, 1) == 1
    assert describer_count(None, 0, 16) == 4
    assert describer_count(None, 4, 16) == 4
    assert describer_count(3, 0, 2) == 2
    assert describer_count(1, 0, 2) == 1
    assert describer_count(2, 1, 16) == 1


def test_the_cuda_provider_is_asked_for_with_heuristic_algorithm_choice(monkeypatch):
    """Where onnxruntime-gpu is installed, a GPU describer runs on CUDA with cuDNN's heuristic
    choice (its default search timed each new batch size again: `add` at 36 frames/s instead of
    61 on an H200); without it, or on a CPU node, the CPU provider alone."""
    import onnxruntime as ort

    from firstseen.signals.descriptor import onnx_providers

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert onnx_providers(True) == ["CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider"])
    assert onnx_providers(True) == [
        ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}),
        "CPUExecutionProvider",
    ]
    assert onnx_providers(False) == ["CPUExecutionProvider"]
