"""Ingestion throughput: the in-process pipeline (`add`) beside `add --ray` with 1 and 2
describers, on the same media, each into a fresh archive.

    PYTHONPATH=src .venv/bin/python benchmarks/ray_ingest.py \
        ../shared/data/threatexchange-tmk-vpdq/sample-videos --work /tmp/fsray-bench

Frames per second = frames archived / seconds from the first file hashed to the last item
committed. The model is loaded in the driver before the clock starts in every run; on Ray the
clock includes starting the describer actors and loading the model in each (the cost a real
`add --ray` pays once per run), and starting the local Ray itself is reported apart. Ray runs
with the same settings as `add --ray auto`: a local cluster on 127.0.0.1, every core.
Timings depend on what else runs on the machine; compare them only within one run.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from firstseen.archive.ingest import AddResult, Ingester, media_files
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.engine import open_descriptor


def _fresh(work: Path, name: str, sample_fps: float) -> Archive:
    root = work / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "config.toml").write_text(f"sample_fps = {sample_fps}\n")
    return Archive(root)


def _measured(name: str, run: Callable[[], Iterable[AddResult]]) -> dict[str, float | str]:
    start = time.perf_counter()
    results = list(run())
    seconds = time.perf_counter() - start
    failed = [r for r in results if r.status == "failed"]
    assert not failed, failed
    frames = sum(r.frames for r in results)
    return {"pipeline": name, "files": len(results), "frames": frames, "seconds": seconds}


def in_process(files: list[Path], work: Path, sample_fps: float) -> dict[str, float | str]:
    archive = _fresh(work, "in-process", sample_fps)
    ingester = Ingester(archive, open_descriptor(archive))
    row = _measured("in process", lambda: (ingester.add(f, Sighting(str(f))) for f in files))
    archive.close()
    return row


def on_ray(
    files: list[Path], work: Path, describers: int, sample_fps: float
) -> dict[str, float | str]:
    from firstseen.archive.ray_ingest import RayIngester

    archive = _fresh(work, f"ray-{describers}", sample_fps)
    ingester = RayIngester(archive, open_descriptor(archive), describers=describers)
    requests = [(f, Sighting(str(f))) for f in files]
    count = ingester.describers  # as asked, unless that would leave no core for decoding
    name = f"ray, {count} describer{'s' if count > 1 else ''}"
    row = _measured(name, lambda: (result for _, result in ingester.add_many(requests)))
    archive.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("media", nargs="+", type=Path, help="files or folders to add")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fsray-bench"))
    parser.add_argument("--describers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sample-fps", type=float, default=1.0, help="the archives' sample_fps")
    args = parser.parse_args()
    files = list(media_files(args.media))
    rows = [in_process(files, args.work, args.sample_fps)]

    from firstseen.archive.ray_ingest import connected, terminal_kept

    with terminal_kept() as terminal:
        start = time.perf_counter()
        with connected("auto"):
            started = time.perf_counter() - start
            print(f"Ray started or joined in {started:.1f} s (not counted below)", file=terminal)
            rows += [on_ray(files, args.work, n, args.sample_fps) for n in args.describers]
    print(f"{'pipeline':<22}{'files':>6}{'frames':>8}{'seconds':>9}{'frames/s':>10}{'vs add':>8}")
    base = float(rows[0]["frames"]) / float(rows[0]["seconds"])
    for row in rows:
        fps = float(row["frames"]) / float(row["seconds"])
        print(
            f"{row['pipeline']:<22}{row['files']:>6}{row['frames']:>8}{row['seconds']:>9.1f}"
            f"{fps:>10.1f}{fps / base:>8.0%}"
        )


if __name__ == "__main__":
    main()
