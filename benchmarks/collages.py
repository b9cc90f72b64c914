"""Collages benchmark: queries that copy several archived photos at once.

    .venv/bin/python benchmarks/collages.py --work /tmp/fscollage

A side-by-side comparison or a grid of pictures is a common form of a misleading post: every
picture in it has its own source. The archive holds the provenance benchmark's reference photos;
each query is a 2 x 2 grid or a pair side by side of some of them, resized into equal cells with
white gutters (or none, `--gutter 0`) and saved as JPEG. For firstseen and both anchors, in the
same run: how many of the pictures used are among the top answers, how many are flagged `match`,
and how many photos that are not in the query are flagged.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

import numpy as np
from anchors import Anchors
from dataset import Reference, load_rgb, references
from firstseen_cli import Firstseen
from metrics import Result
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
LAYOUTS = {"2x2": (2, 2, 400, 300), "1x2": (1, 2, 480, 360)}  # rows, columns, cell size


def collage(
    photos: list[Path], rows: int, columns: int, cell: tuple[int, int], gutter: int
) -> Image.Image:
    width, height = cell
    canvas = Image.new(
        "RGB",
        (columns * width + (columns - 1) * gutter, rows * height + (rows - 1) * gutter),
        "white",
    )
    for k, photo in enumerate(photos):
        row, column = divmod(k, columns)
        picture = load_rgb(photo).resize(cell, Image.Resampling.LANCZOS)
        canvas.paste(picture, (column * (width + gutter), row * (height + gutter)))
    return canvas


def build(
    photos: list[Reference], out: Path, per_layout: int, seed: int, gutter: int
) -> dict[Path, set[str]]:
    """Query file → the reference paths it shows."""
    rng = np.random.default_rng(seed)
    queries: dict[Path, set[str]] = {}
    for name, (rows, columns, *cell) in LAYOUTS.items():
        for i in range(per_layout):
            chosen = [photos[int(k)].path for k in rng.choice(len(photos), rows * columns, False)]
            path = out / f"{name}-{i:02d}.jpg"
            collage(chosen, rows, columns, (cell[0], cell[1]), gutter).save(path, quality=85)
            queries[path] = {str(p) for p in chosen}
    return queries


def tally(queries: dict[Path, set[str]], results: dict[str, Result], top: int) -> dict:
    shown = ranked = flagged = wrong = 0
    for path, sources in queries.items():
        preds = results[str(path)].preds[:top]
        shown += len(sources)
        ranked += sum(p.ref in sources for p in preds)
        flagged += sum(p.ref in sources and p.match for p in preds)
        wrong += sum(p.ref not in sources and p.match for p in preds)
    answers = [results[str(path)] for path in queries]
    times = [r.elapsed_ms for r in answers if r.elapsed_ms is not None]
    errors = sum(r.error is not None for r in answers)
    return {
        "pictures": shown,
        "ranked": ranked,
        "flagged": flagged,
        "wrong": wrong,
        "ms": statistics.median(times) if times else float("nan"),
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/fscollage"))
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--firstseen", type=Path, default=REPO / ".venv" / "bin" / "firstseen")
    parser.add_argument("--per-layout", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--gutter", type=int, default=8, help="white pixels between pictures")
    args = parser.parse_args()

    photos = [r for r in references(args.data) if r.kind == "image"]
    out = args.work / "queries"
    for directory in (out, args.work / "archive"):
        if directory.exists():
            shutil.rmtree(directory)
    out.mkdir(parents=True)
    queries = build(photos, out, args.per_layout, args.seed, args.gutter)
    top = 5

    anchors = Anchors.create()
    anchors.add(photos)
    fs = Firstseen(args.firstseen, args.work / "archive")
    fs.add([r.path for r in photos])
    paths = sorted(queries)
    results = {"firstseen": fs.search(paths, top)}
    for index, found in zip(anchors.indexes, anchors.search(paths, top), strict=True):
        results[index.anchor.name] = found

    print(
        f"{len(photos)} archived photos; {len(queries)} collages ({', '.join(LAYOUTS)}), "
        f"{args.gutter} px gutters"
    )
    print(
        f"{'system':<12} {'layout':<6} {'pictures':>8} {'in top 5':>8} {'flagged':>8} "
        f"{'others flagged':>14} {'median ms':>9}"
    )
    for system, found in results.items():
        for layout in LAYOUTS:
            subset = {p: s for p, s in queries.items() if p.name.startswith(layout)}
            row = tally(subset, found, top)
            print(
                f"{system:<12} {layout:<6} {row['pictures']:>8} {row['ranked']:>8} "
                f"{row['flagged']:>8} {row['wrong']:>14} {row['ms']:>9.1f}"
                + (f"  ({row['errors']} failed)" if row["errors"] else "")
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
