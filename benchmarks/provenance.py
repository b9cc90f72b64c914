"""Provenance benchmark: firstseen against PDQ and raw SSCD on copies of real shared media.

    .venv/bin/python benchmarks/provenance.py --split dev --work /tmp/fsbench
    .venv/bin/python benchmarks/provenance.py --split dev heldout --pad 10000 --json out.json

References are ~28 photos and 8 videos from ../shared/data; queries are edited copies of them
(and of frames taken from the videos at known times), found copies shipped with the data, and
negatives that are not in the archive. All three systems see the same references and queries
in the same run. Tune on `dev` only: `heldout` uses other random parameters and edit variants
that `dev` never produces, and is there to show whether tuning generalised; `unseen` applies
edits neither makes (stretch, a 9:16 blurred fill, keystone, a framed caption, JPEG 4-8, a
thumbnail, a hue turn, stickers, a tiled watermark).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from anchors import Anchors
from dataset import (
    REF_PHOTOS,
    REF_VIDEOS,
    VIDEO_720P,
    Query,
    Reference,
    build_pad,
    build_split,
    duration,
    references,
)
from firstseen_cli import Firstseen
from metrics import Result, Truth, Verdict, breakdown, summarise

REPO = Path(__file__).resolve().parents[1]
FIRSTSEEN = "firstseen"
TARGETS = {
    "micro_ap": "≥ 0.99",
    "recall_at_1": "≥ 0.99",
    "not_flagged": "≤ 4 %",
    "wrong_attributions": "0",
    "false_match_negatives": "0 (30+)",
    "time_within_2s": "≥ 27/28",
    "crop_iou_mean": "≥ 0.80",
    "fps_720p": "≥ 50",
    "median_ms_per_query": "≤ 150 (10k)",
}


def truths_of(queries: list[Query]) -> dict[str, Truth]:
    return {
        q.path: Truth(q.ref, q.edit, q.group, q.time, q.region, q.is_crop, q.from_video)
        for q in queries
    }


def pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100.0 * k / n:.1f} %)" if n else "n/a"


def num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(x)


def headline(s: dict, speed: dict, localises: bool) -> dict[str, str]:
    return {
        "µAP": num(s["micro_ap"]),
        "recall@1": num(s["recall_at_1"]),
        "true copies not flagged match": pct(s["not_flagged"], s["positives"]),
        "wrong attributions (queries)": (
            f"{s['wrong_attributions']} ({s['queries_with_wrong_attribution']})"
        ),
        "false matches on negatives": f"{s['false_match_negatives']}/{s['negatives']}",
        "frame time within 2 s": f"{s['time_within_2s']}/{s['video_queries']} "
        f"(top-1 right {s['video_top1_right']})",
        "mean region IoU, crops": (
            f"{num(s['crop_iou_mean'])} (n={s['crop_queries']})" if localises else "n/a"
        ),
        "frames indexed/s, all": num(speed.get("fps_all"), "{:.1f}"),
        "frames indexed/s, 720p": num(speed.get("fps_720p"), "{:.1f}")
        + (
            f" ({speed['fps_720p_after_startup']:.1f} after start-up)"
            if speed.get("fps_720p_after_startup")
            else ""
        ),
        "median ms/query": num(s["median_ms_per_query"], "{:.1f}"),
        "frames in archive": str(speed.get("archive_frames", "n/a")),
    }


TARGET_ROWS = [
    "micro_ap",
    "recall_at_1",
    "not_flagged",
    "wrong_attributions",
    "false_match_negatives",
    "time_within_2s",
    "crop_iou_mean",
    None,
    "fps_720p",
    "median_ms_per_query",
    None,
]


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def report(
    split: str,
    names: list[str],
    summaries: dict[str, dict],
    speeds: dict[str, dict],
    verdicts: dict[str, dict[str, Verdict]],
    truths: dict[str, Truth],
    pad: int,
) -> str:
    first = summaries[names[0]]
    archive = f"{len(REF_PHOTOS)} photos + {len(REF_VIDEOS)} videos" + (
        f" + {pad} distractors" if pad else ""
    )
    out = [
        f"\n=== split {split}: {first['positives']} copies, {first['negatives']} negatives; "
        f"archive {archive}"
    ]
    heads = {n: headline(summaries[n], speeds[n], n == FIRSTSEEN) for n in names}
    keys = list(next(iter(heads.values())))
    rows = [
        [k, *(heads[n][k] for n in names), TARGETS.get(t or "", "")]
        for k, t in zip(keys, TARGET_ROWS, strict=True)
    ]
    out.append(table(rows, ["metric", *names, "target"]))
    errors = {n: summaries[n]["errors"] for n in names if summaries[n]["errors"]}
    if errors:
        out.append(f"queries that failed: {errors}")

    per = {n: breakdown(truths, verdicts[n]) for n in names}
    edits = list(per[names[0]])
    header = ["edit", "n"]
    for n in names:
        header += [f"{n} r@1", "match"] + (["IoU"] if n == FIRSTSEEN else [])
    rows = []
    for e in edits:
        row = [e, str(per[names[0]][e]["n"])]
        for n in names:
            r = per[n][e]
            row += [str(r["correct"]), str(r["flagged"])]
            if n == FIRSTSEEN:
                row.append(num(r["iou"], "{:.2f}"))
        rows.append(row)
    out.append("\nper edit (copies): r@1 = true reference ranked first, match = flagged match")
    out.append(table(rows, header))

    negs = {n: breakdown(truths, verdicts[n], positive=False) for n in names}
    rows = [
        [g, str(negs[names[0]][g]["n"]), *(str(negs[n][g]["wrong"]) for n in names)]
        for g in negs[names[0]]
    ]
    out.append("\nnegatives: queries with any match")
    out.append(table(rows, ["kind", "n", *names]))

    if FIRSTSEEN in names:
        misses = [
            (p, t)
            for p, t in truths.items()
            if t.ref is not None
            and not (verdicts[FIRSTSEEN][p].correct and verdicts[FIRSTSEEN][p].flagged)
        ]
        if misses:
            out.append(f"\nfirstseen misses ({len(misses)}): query  edit  source -> top answer")
            for p, t in misses[:40]:
                top = verdicts[FIRSTSEEN][p].top
                got = (
                    f"{Path(top['ref']).name} {top['score']:.3f} match={top['match']}"
                    if top
                    else "nothing"
                )
                out.append(f"  {Path(p).name}  {t.edit}  {Path(t.ref or '').name}  -> {got}")
        fps = [(p, t) for p, t in truths.items() if t.ref is None and verdicts[FIRSTSEEN][p].wrong]
        for p, t in fps:
            top = verdicts[FIRSTSEEN][p].top
            out.append(
                f"  false match: {Path(p).name} ({t.group}, {t.edit}) -> {Path(top['ref']).name} "
                f"{top['score']:.3f}"
            )
    return "\n".join(out)


def firstseen_index(
    fs: Firstseen, refs: list[Reference], pad: tuple[Path | None, int], scratch: Path, data: Path
) -> dict:
    """Build the archive and time indexing: all references, the 720p videos on their own, and
    the start-up cost (one tiny image) so the 720p rate can be read without it."""
    for d in (fs.archive, scratch):
        if d.exists():
            shutil.rmtree(d)
    seconds = fs.add([r.path for r in refs])
    frames = fs.frames()
    if frames is None:  # no frame counts from `list`: assume one per image and per video second
        frames = sum(1 if r.kind == "image" else math.ceil(duration(r.path)) for r in refs)
    speed: dict = {"index_seconds": seconds, "frames": frames, "fps_all": frames / seconds}
    speed["archive_frames"] = frames
    if pad[0] is not None:
        t = fs.add([pad[0]])
        speed.update({"pad_seconds": t, "pad_fps": pad[1] / t})
        speed["archive_frames"] = fs.frames() or frames + pad[1]
    one = Firstseen(fs.exe, scratch / "startup")
    startup = one.add([data / "threatexchange-pdq/misc-images/wee.jpg"])
    hd = Firstseen(fs.exe, scratch / "hd")
    t = hd.add([data / v for v in VIDEO_720P])
    n = hd.frames() or sum(math.ceil(duration(data / v)) for v in VIDEO_720P)
    speed.update(
        {
            "startup_seconds": startup,
            "hd_seconds": t,
            "hd_frames": n,
            "fps_720p": n / t if n else None,
            "fps_720p_after_startup": n / (t - startup) if n and t > startup else None,
        }
    )
    return speed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--split", nargs="+", choices=["dev", "heldout", "unseen"], default=["dev"])
    ap.add_argument(
        "--work", type=Path, default=REPO / ".bench", help="where queries and archives go"
    )
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument(
        "--pad", type=int, default=0, help="add this many distractor pictures to the archive"
    )
    ap.add_argument("--json", type=Path, help="write all results and per-query details here")
    ap.add_argument("--firstseen", type=Path, default=Path(sys.executable).parent / "firstseen")
    ap.add_argument("--no-firstseen", action="store_true", help="run the anchors only")
    ap.add_argument("--no-anchors", action="store_true", help="run firstseen only")
    ap.add_argument(
        "--keep-archive",
        action="store_true",
        help="search firstseen's archive from an earlier run with the same --work and --pad "
        "instead of rebuilding it (no indexing speed then): for tuning search and verdicts",
    )
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args(argv)

    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    refs = references(args.data)
    t0 = time.perf_counter()
    splits = {s: build_split(args.data, work, s) for s in args.split}
    pad_dir, pad_files = build_pad(args.data, work, args.pad) if args.pad else (None, [])
    built = ", ".join(f"{s}: {len(q)} queries" for s, q in splits.items())
    if pad_files:
        built += f", {len(pad_files)} distractors"
    print(f"built {built} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    anchors = Anchors([] if args.no_anchors else Anchors.create().indexes)
    anchors.add(refs)
    anchors.add([Reference(p, "image") for p in pad_files])
    hd_keys = [str((args.data / v).resolve()) for v in VIDEO_720P]
    ref_keys = [str(r.path) for r in refs]
    names = [ix.anchor.name for ix in anchors.indexes]
    speeds = {
        ix.anchor.name: {
            "frames": sum(anchors.frame_counts[k] for k in ref_keys),
            "fps_all": anchors.frames_per_second(ix, ref_keys),
            "fps_720p": anchors.frames_per_second(ix, hd_keys),
            "archive_frames": sum(anchors.frame_counts.values()),
        }
        for ix in anchors.indexes
    }

    fs = Firstseen(args.firstseen, work / (f"archive-pad{args.pad}" if args.pad else "archive"))
    if not args.no_firstseen:
        if fs.available() and args.keep_archive and fs.archive.exists():
            print(f"searching the existing archive {fs.archive}", file=sys.stderr)
            speeds[FIRSTSEEN] = {"archive_frames": fs.frames()}
            names = [FIRSTSEEN, *names]
        elif fs.available():
            print("indexing with firstseen ...", file=sys.stderr)
            speeds[FIRSTSEEN] = firstseen_index(
                fs, refs, (pad_dir, len(pad_files)), work / "scratch", args.data
            )
            names = [FIRSTSEEN, *names]
        else:
            print(f"firstseen not runnable at {args.firstseen}: anchors only", file=sys.stderr)

    dump: dict = {
        "pad": args.pad,
        "references": [str(r.path) for r in refs],
        "speed": speeds,
        "splits": {},
    }
    for split, queries in splits.items():
        paths = [Path(q.path) for q in queries]
        results: dict[str, dict[str, Result]] = {}
        if FIRSTSEEN in names:
            results[FIRSTSEEN] = fs.search(paths, args.top)
        for ix, res in zip(anchors.indexes, anchors.search(paths, args.top), strict=True):
            results[ix.anchor.name] = res
        truths = truths_of(queries)
        summaries, verdicts = {}, {}
        for n in names:
            summaries[n], verdicts[n] = summarise(truths, results[n])
        print(report(split, names, summaries, speeds, verdicts, truths, args.pad))
        dump["splits"][split] = {
            "summary": summaries,
            "by_edit": {n: breakdown(truths, verdicts[n]) for n in names},
            "negatives": {n: breakdown(truths, verdicts[n], positive=False) for n in names},
            "queries": [
                {**asdict(q), "results": {n: asdict(verdicts[n][q.path]) for n in names}}
                for q in queries
            ],
        }
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
