"""Scale benchmark: whether firstseen keeps its answers, speed and memory once the archive holds
a great many frames of other footage, beside raw SSCD and PDQ searched exactly over the same
frames in the same run.

    PYTHONPATH=src .venv/bin/python benchmarks/scale.py --distractors 100000 --work /tmp/fs20 \
        --reference /tmp/fsbench --json /tmp/fs20/scale.json

The reference archive and the queries are the provenance benchmark's (`--reference` names a
`provenance.py --keep-archive` work folder to copy them from; without it they are built here).
Distractors (distractors.py) are made from the reference archive's own descriptors, written in the
exchange format and brought in with `firstseen import`; the same queries are then searched in the
plain archive and in the one with distractors, each by a fresh search process (scale_worker.py:
answers, warm latency, peak memory) after the archive's files were read once into the OS's file
cache, plus a cold `firstseen search`, the archive's size on disk, and how long an add and a
removal take to reach a running `firstseen serve` (scale_live.py). `--keep-archive` reuses the
distractors and the imported archive of an earlier run with the same --work and --distractors.
`--fallback-budget N` runs the warm searches with that budget for a still's fallbacks (`search
--fallback-budget`).

`--deployment` also searches the archive with distractors on a deployment (scale_deploy.py:
`firstseen cluster up` in the work folder, PostgreSQL and Milvus Lite on 127.0.0.1, filled by
`firstseen export` and `import`), reports it beside the embedded one with the queries whose
answers differ, and stops its services at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scale_deploy
import scale_live
from dataset import Query, build_split, references
from distractors import PERCENTILES, Maker, Recipe, calibrate, load_pool, manifold_check, write
from firstseen_cli import Firstseen
from metrics import Prediction, Result, summarise
from PIL import Image
from provenance import num, table, truths_of
from scale_anchors import FlatAnchors

from firstseen.archive.store import Archive
from firstseen.deployment import is_deployment
from firstseen.engine import open_descriptor

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("scale_worker.py")
NEW_PHOTO = "opencv-samples-data/box_in_scene.png"  # not among the references or queries


def prepare(args: argparse.Namespace, work: Path) -> tuple[Path, list[Query]]:
    """The reference archive (copied or built once) and the split's queries."""
    archive, manifest = work / "reference", work / args.split / "manifest.json"
    source = args.reference.resolve() if args.reference else None
    if source:
        manifest = source / args.split / "manifest.json"
        if not archive.exists():
            shutil.copytree(source / "archive", archive)
    elif not manifest.exists():
        build_split(args.data, work, args.split)
    if not archive.exists():
        Firstseen(args.firstseen, archive).add([r.path for r in references(args.data)])
    queries = [Query(**q) for q in json.loads(manifest.read_text())["queries"]]
    return archive, queries


def distractors(args: argparse.Namespace, work: Path, reference: Path) -> tuple[Path, dict]:
    """The distractor folder (made unless kept) and what describes it: manifest, calibration,
    the manifold check and the seconds it took to write."""
    pool = load_pool(reference)
    noise, gaps = calibrate(pool, args.seed)
    recipe = Recipe(args.seed, noise)
    folder = work / f"distractors-{args.distractors}"
    stamp = {"frames": args.distractors, "seed": args.seed, "noise": noise}
    made = folder / "scale-recipe.json"
    info: dict = {"noise": noise, "calibration_gaps": gaps}
    kept = json.loads(made.read_text()) if made.exists() else {}
    if kept.get("recipe") != stamp:
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        write(folder, pool, recipe, args.distractors)
        kept = {"recipe": stamp, "write_seconds": time.perf_counter() - t0}
        made.write_text(json.dumps(kept))
    info["write_seconds"] = kept["write_seconds"]
    info["manifest"] = json.loads((folder / "manifest.json").read_text())
    info["check"] = manifold_check(pool, Maker(pool, recipe), args.distractors)
    return folder, info


def import_into(fs: Firstseen, folder: Path, frames: int) -> dict:
    seconds = fs.timed("import", str(folder))
    return {"seconds": seconds, "frames_per_second": frames / seconds}


def search_process(
    exe: Path, archive: Path, paths: list[Path], work: Path, budget: float | None
) -> dict:
    """Every query searched by one fresh process (scale_worker.py), with `budget` for the
    fallbacks (`search --fallback-budget`) where one is given."""
    listing, out = work / "queries.json", work / f"answers-{archive.name}.json"
    listing.write_text(json.dumps([str(p) for p in paths]))
    log = work / f"search-{archive.name}.log"  # the search's warnings, kept out of the report
    command = [str(exe), str(WORKER), str(archive), str(listing), str(out)]
    command += [] if budget is None else [str(budget)]
    with log.open("w") as errors:
        proc = subprocess.run(command, stderr=errors, env=os.environ | {"PYTHONPATH": _path()})
    if proc.returncode != 0:
        sys.exit(f"the search process failed ({proc.returncode}): see {log}")
    report = json.loads(out.read_text())
    report["answers"] = {r["query"]: _result(r) for r in report.pop("results")}
    return report


def _path() -> str:
    here = str(Path(__file__).parent)
    return os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)


def _result(row: dict) -> Result:
    preds = [
        Prediction(m["path"], float(m["score"]), bool(m["match"]), m.get("time"), m.get("region"))
        for m in row.get("matches") or []
    ]
    return Result(preds, row["wall_ms"], row.get("error"))


def cold_search(fs: Firstseen, query: Path) -> float:
    """Wall seconds of a fresh `firstseen search` of one query, model and indexes loaded."""
    t0 = time.perf_counter()
    proc = fs.run("search", str(query), "--format", "jsonl")
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"firstseen search failed ({proc.returncode}): {proc.stderr[-500:]}")
    return time.perf_counter() - t0


def read_into_cache(archive: Path) -> float:
    """Seconds to read the archive's catalog and index files once, so that its searches meet
    them in the OS's file cache, as a server's do once it is warm: at 10M the catalog is 14 GB,
    every query vector's shortlist is re-scored from it, and an import that read 20 GB of
    Parquet leaves it partly out of the cache (reading 1,024 of its vectors: 36-40 ms instead
    of 6). A deployment's files are its services' own."""
    t0 = time.perf_counter()
    if not is_deployment(archive):
        for path in sorted(archive.iterdir()):
            if path.is_file():
                with path.open("rb") as f:
                    while f.read(1 << 24):
                        pass
    return time.perf_counter() - t0


def disk_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20


def new_photo(data: Path, work: Path) -> tuple[Path, str]:
    """A photo no archive here holds (re-encoded, so its bytes are new), and its SHA-256."""
    path = work / "live" / "new-photo.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(data / NEW_PHOTO).convert("RGB").save(path, quality=90)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def latency(results: dict[str, Result]) -> dict[str, float]:
    ms = [r.elapsed_ms for r in results.values() if r.elapsed_ms is not None]
    p50, p95 = np.percentile(ms, [50, 95])
    return {"p50_ms": float(p50), "p95_ms": float(p95)}


def differences(truths, before, after) -> list[dict]:
    """Queries whose verdict changed once the distractors were in."""
    rows = []
    for q, t in truths.items():
        a, b = before[q], after[q]
        if (a.correct, a.flagged, a.wrong) == (b.correct, b.flagged, b.wrong):
            continue
        top = b.top.get("ref")
        rows.append(
            {
                "query": Path(q).name,
                "truth": Path(t.ref).name if t.ref else f"negative ({t.group})",
                "edit": t.edit,
                "before": {"correct": a.correct, "flagged": a.flagged, "wrong": a.wrong},
                "after": {"correct": b.correct, "flagged": b.flagged, "wrong": b.wrong},
                "top_after": top,
                "top_score_after": b.top.get("score"),
                "new_false_match": b.wrong > a.wrong,
            }
        )
    return rows


def run_firstseen(args, archive: Path, queries: list[Query], work: Path) -> dict:
    fs = Firstseen(args.firstseen, archive)
    paths = [Path(q.path) for q in queries]
    warm = read_into_cache(archive)
    print(f"searching {archive.name} with firstseen (read in {warm:.1f} s) ...", file=sys.stderr)
    out = search_process(Path(sys.executable), archive, paths, work, args.fallback_budget)
    out["cache_read_seconds"] = warm
    first = next(Path(q.path) for q in queries if q.ref)
    out["cold_search_seconds"] = cold_search(fs, first)
    out["disk_mb"] = disk_mb(archive.parent if is_deployment(archive) else archive)
    if not args.no_live:
        photo, sha = new_photo(args.data, work)
        out["live"] = scale_live.measure(args.firstseen, archive, photo, sha)
    return out


def run_anchors(reference: Path, folder: Path | None, manifest: dict | None, queries) -> dict:
    anchors = FlatAnchors(512)
    anchors.add_archive(reference)
    if folder is not None and manifest is not None:
        anchors.add_exchange(folder, manifest)
    descriptor = open_descriptor(Archive(reference), threads=None)
    return anchors.search(descriptor, [Path(q.path) for q in queries])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--distractors", type=int, default=100_000, help="distractor frames")
    ap.add_argument("--work", type=Path, default=REPO / ".bench" / "scale")
    ap.add_argument("--reference", type=Path, help="a provenance.py work folder to copy from")
    ap.add_argument("--split", default="dev", choices=["dev", "heldout", "unseen"])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--firstseen", type=Path, default=Path(sys.executable).parent / "firstseen")
    ap.add_argument("--keep-archive", action="store_true", help="reuse the imported archive")
    ap.add_argument("--no-anchors", action="store_true")
    ap.add_argument("--no-live", action="store_true", help="skip the serve add/remove timing")
    ap.add_argument(
        "--fallback-budget",
        type=float,
        help="the warm searches' fallback budget (`search --fallback-budget`); default none",
    )
    ap.add_argument(
        "--deployment", action="store_true", help="also search it on PostgreSQL + Milvus Lite"
    )
    args = ap.parse_args(argv)

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    reference, queries = prepare(args, work)
    folder, made = distractors(args, work, reference)
    print(check_table(made["check"], made["noise"]))
    big = work / f"archive-{args.distractors}"
    dump: dict = {"distractors": args.distractors, "split": args.split, "made": made}
    if not (args.keep_archive and big.exists()):
        shutil.rmtree(big, ignore_errors=True)
        shutil.copytree(reference, big)
        print(f"importing {args.distractors} frames ...", file=sys.stderr)
        dump["import"] = import_into(Firstseen(args.firstseen, big), folder, args.distractors)
    truths = truths_of(queries)
    runs = {"plain": run_firstseen(args, reference, queries, work)}
    runs["distractors"] = run_firstseen(args, big, queries, work)
    if args.deployment:
        with scale_deploy.deployment(args.firstseen, big, work) as (location, moved):
            dump["deployment"] = moved
            runs["deployment"] = run_firstseen(args, location, queries, work)
    anchors = {}
    if not args.no_anchors:
        anchors["plain"] = run_anchors(reference, None, None, queries)
        anchors["distractors"] = run_anchors(reference, folder, made["manifest"], queries)
    dump.update(report(args, truths, runs, anchors, dump.get("import"), made))
    if args.deployment:
        print_move(dump["deployment"])
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1, default=str))
    return 0


def check_table(check: dict[str, list[float]], noise: float) -> str:
    header = ["nearest cosine", *(f"p{p}" if p < 100 else "max" for p in PERCENTILES)]
    rows = [[k, *(f"{x:.3f}" for x in v)] for k, v in check.items()]
    return f"distractors (centre noise {noise:.2f}):\n" + table(rows, header)


def report(args, truths, runs: dict, anchors: dict, imported: dict | None, made: dict) -> dict:
    """Prints the comparison and returns what the JSON keeps."""
    systems: dict[str, dict[str, Result]] = {}
    for where in runs:
        systems[f"firstseen {where}"] = runs[where]["answers"]
        for name, results in anchors.get(where, {}).items():
            systems[f"{name} {where}"] = results
    summaries, verdicts = {}, {}
    for name, results in systems.items():
        summaries[name], verdicts[name] = summarise(truths, results)
    n = args.distractors
    rows = []
    for name, s in summaries.items():
        lat = latency(systems[name])
        rows.append(
            [
                name.replace("distractors", f"+{n:,}").replace("deployment", f"+{n:,} deployed"),
                num(s["recall_at_1"]),
                f"{s['positives'] - s['not_flagged']}/{s['positives']}",
                str(s["wrong_attributions"]),
                f"{s['false_match_negatives']}/{s['negatives']}",
                num(lat["p50_ms"], "{:.0f}"),
                num(lat["p95_ms"], "{:.0f}"),
            ]
        )
    head = ["system", "recall@1", "copies flagged", "wrong attr.", "false matches", "p50 ms",
            "p95 ms"]  # fmt: skip
    print(f"\n=== scale: {args.split}, {len(truths)} queries; +{n:,} distractor frames")
    print(table(rows, head))
    fs_rows = []
    for where, r in runs.items():
        live = r.get("live", {})
        fs_rows.append(
            [
                where,
                num(r["open_seconds"] + r["warmup_seconds"], "{:.1f}"),
                num(r["cold_search_seconds"], "{:.1f}"),
                num(r["peak_rss_mb"], "{:.0f}"),
                num(r["rss_end_mb"], "{:.0f}"),
                num(r["disk_mb"], "{:.0f}"),
                num(live.get("server_start_seconds"), "{:.1f}"),
                num(live.get("server_peak_rss_mb"), "{:.0f}"),
                num(live.get("added_visible_after_seconds"), "{:.2f}"),
                num(live.get("removed_gone_after_seconds"), "{:.2f}"),
            ]
        )
    print(
        "\nfirstseen: open+first search s, cold `search` s, search process RSS peak / at the end"
        " MB, disk MB, serve start s and peak RSS MB, add → found s, remove → gone s"
    )
    print(table(fs_rows, ["archive", "open", "cold", "RSS peak", "RSS end", "disk", "serve",
                          "serve RSS", "add", "remove"]))  # fmt: skip
    if imported:
        print(f"import: {n:,} frames in {imported['seconds']:.1f} s "
              f"({imported['frames_per_second']:,.0f} frames/s)")  # fmt: skip
    if made["write_seconds"]:
        print(f"distractors written in {made['write_seconds']:.1f} s")
    diffs = {
        name: differences(truths, verdicts[f"{name} plain"], verdicts[f"{name} distractors"])
        for name in ["firstseen", *anchors.get("plain", {})]
    }
    for name, rows_ in diffs.items():
        print(f"\n{name}: {len(rows_)} queries changed with the distractors")
        for d in rows_[:30]:
            flag = "NEW FALSE MATCH " if d["new_false_match"] else ""
            top = Path(d["top_after"] or "").name
            print(
                f"  {flag}{d['query']} ({d['truth']}, {d['edit']}) {d['before']} -> "
                f"{d['after']} top {top} {d['top_score_after']}"
            )
    if "deployment" in runs:
        diffs["deployment against embedded"] = deployment_differences(runs, n)
    return {
        "summaries": summaries,
        "latency": {k: latency(v) for k, v in systems.items()},
        "firstseen": {k: {x: y for x, y in v.items() if x != "answers"} for k, v in runs.items()},
        "differences": diffs,
    }


def deployment_differences(runs: dict, n: int) -> list[dict]:
    """Prints and returns the queries answered differently on the deployment."""
    rows = scale_deploy.disagreements(runs["distractors"]["answers"], runs["deployment"]["answers"])
    ties = [d["query"] for d in rows if d["ties_only"]]
    print(
        f"\ndeployment: {len(rows) - len(ties)} queries answered differently from the embedded"
        f" +{n:,}; {len(ties)} only in the order of equal scores: {' '.join(ties)}"
    )
    for d in [d for d in rows if not d["ties_only"]][:30]:
        print(f"  {d['query']}: embedded {d['embedded']}\n    deployment {d['deployment']}")
    return rows


def print_move(moved: dict) -> None:
    """How the embedded archive moved to the deployment, and what the catalog takes a frame."""
    frames = moved["counts"]["frames"]
    catalog = sum(moved["storage"]["catalog_table_bytes"].values())
    print(
        f"export {moved['export']:.1f} s, import into the deployment {moved['import']:.1f} s"
        f" ({frames / moved['import']:,.0f} frames/s); PostgreSQL tables {catalog / 2**20:,.0f} MB"
        f" ({catalog / frames:,.0f} bytes a frame); folders MB {moved['storage']['folder_mb']}"
    )


if __name__ == "__main__":
    sys.exit(main())
