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

`thermal-dev` and `thermal-heldout` (`thermal_set.py`) are issue 17's "evidence": thermal,
night-vision and false-colour looks with reticles, HUD numbers, captions in Cyrillic, Arabic and
CJK and station logos, over frames of game-like footage rendered at run time (`render.py`),
real archived videos and photos; negatives are other maps and missions of the same games. They
search their own archive (`<work>/archive-thermal`: the usual references plus the archived
renders), so the other splits' archive and queries stay as they were, and add a breakdown by
palette and by overlay and how often each system ranks the source within its top 4.

    .venv/bin/python benchmarks/provenance.py --split thermal-dev thermal-heldout --work /tmp/fs17
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from collections.abc import Sequence
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
from metrics import Result, Truth, Verdict, breakdown, same_file, summarise
from render import render_all
from thermal import OVERLAYS, PALETTES
from thermal_set import THERMAL_SPLITS, build_thermal_split, thermal_references

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
        f"(top-1 right {s['video_top1_right']}; "
        f"{s['flagged_time_within_2s']}/{s['video_flagged']} of those flagged, "
        f"{s['flagged_stretch_within_2s']} with the stretch answered)",
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
    rendered: int = 0,
) -> str:
    first = summaries[names[0]]
    archive = (
        f"{len(REF_PHOTOS)} photos + {len(REF_VIDEOS)} videos"
        + (f" + {rendered} rendered videos" if rendered else "")
        + (f" + {pad} distractors" if pad else "")
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


def by_token(
    truths: dict[str, Truth],
    results: dict[str, Result],
    verdicts: dict[str, Verdict],
    tokens: Sequence[str],
) -> dict[str, dict[str, int]]:
    """Per edit token (a palette or an overlay; a query counts under each of its tokens): copies,
    flagged, top-1 right, source in the top 4, and negatives with any match."""
    rows: dict[str, dict[str, int]] = {
        t: {"n": 0, "flagged": 0, "top1": 0, "top4": 0, "neg": 0, "neg_flagged": 0} for t in tokens
    }
    for q, truth in truths.items():
        for t in set(truth.edit.split("+")) & set(tokens):
            row, v = rows[t], verdicts[q]
            if truth.ref is None:
                row["neg"] += 1
                row["neg_flagged"] += v.wrong > 0
                continue
            preds = results[q].preds if q in results else []
            row["n"] += 1
            row["flagged"] += v.flagged
            row["top1"] += v.correct
            row["top4"] += any(same_file(p.ref, truth.ref) for p in preds[:4])
    return {t: r for t, r in rows.items() if r["n"] or r["neg"]}


def thermal_report(
    names: list[str],
    truths: dict[str, Truth],
    results: dict[str, dict[str, Result]],
    verdicts: dict[str, dict[str, Verdict]],
) -> tuple[str, dict]:
    """The thermal splits' extra tables: by palette and by overlay, per system."""
    out, dump = [], {}
    for title, tokens in (
        ("palette", [p for names_ in PALETTES.values() for p in names_]),
        ("overlay", list(OVERLAYS)),
    ):
        per = {n: by_token(truths, results[n], verdicts[n], tokens) for n in names}
        dump[title] = per
        header = [title, "n", "neg"]
        for n in names:
            header += [f"{n} flag", "r@1", "top4", "neg hit"]
        rows = []
        for t in per[names[0]]:
            row = [t, str(per[names[0]][t]["n"]), str(per[names[0]][t]["neg"])]
            for n in names:
                r = per[n][t]
                row += [str(r["flagged"]), str(r["top1"]), str(r["top4"]), str(r["neg_flagged"])]
            rows.append(row)
        out.append(
            f"\nby {title} (copies flagged, source ranked first, source in top 4; "
            "negatives with a match)"
        )
        out.append(table(rows, header))
    return "\n".join(out), dump


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
    ap.add_argument(
        "--split",
        nargs="+",
        choices=["dev", "heldout", "unseen", *THERMAL_SPLITS],
        default=["dev"],
    )
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
    t0 = time.perf_counter()
    standard = [s for s in args.split if s not in THERMAL_SPLITS]
    thermal = [s for s in args.split if s in THERMAL_SPLITS]
    splits = {s: build_split(args.data, work, s) for s in standard}
    renders = render_all(work, lambda m: print(m, file=sys.stderr)) if thermal else {}
    splits.update({s: build_thermal_split(args.data, work, s, renders) for s in thermal})
    pad_files = build_pad(args.data, work, args.pad)[1] if args.pad else []
    built = ", ".join(f"{s}: {len(q)} queries" for s, q in splits.items())
    if pad_files:
        built += f", {len(pad_files)} distractors"
    print(f"built {built} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    dump: dict = {"pad": args.pad, "splits": {}}
    if standard:
        refs = references(args.data)
        speeds = evaluate(args, work, refs, {s: splits[s] for s in standard}, "archive", dump)
        dump.update({"references": [str(r.path) for r in refs], "speed": speeds})
    if thermal:
        refs = thermal_references(args.data, renders)
        chosen = {s: splits[s] for s in thermal}
        speeds = evaluate(args, work, refs, chosen, "archive-thermal", dump)
        dump.update({"thermal_references": [str(r.path) for r in refs], "thermal_speed": speeds})
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1, default=str))
    return 0


def evaluate(
    args: argparse.Namespace,
    work: Path,
    refs: list[Reference],
    splits: dict[str, list[Query]],
    archive: str,
    dump: dict,
) -> dict[str, dict]:
    """Index refs (and the padding) for every system, search each split, print its report and
    store its details in dump["splits"]; returns the indexing speeds."""
    pad_dir, pad_files = build_pad(args.data, work, args.pad) if args.pad else (None, [])
    rendered = sum(1 for r in refs if r.path.parent.name.startswith("renders-"))
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

    fs = Firstseen(args.firstseen, work / (f"{archive}-pad{args.pad}" if args.pad else archive))
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

    for split, queries in splits.items():
        paths = [Path(q.path) for q in queries]
        results: dict[str, dict[str, Result]] = {}
        t0 = time.perf_counter()
        if FIRSTSEEN in names:
            results[FIRSTSEEN] = fs.search(paths, args.top)
        for ix, res in zip(anchors.indexes, anchors.search(paths, args.top), strict=True):
            results[ix.anchor.name] = res
        truths = truths_of(queries)
        summaries, verdicts = {}, {}
        for n in names:
            summaries[n], verdicts[n] = summarise(truths, results[n])
        text = report(split, names, summaries, speeds, verdicts, truths, args.pad, rendered)
        extra: dict = {}
        if split in THERMAL_SPLITS:
            more, extra = thermal_report(names, truths, results, verdicts)
            text += more + f"\nsearching took {time.perf_counter() - t0:.0f} s for all systems"
        print(text)
        dump["splits"][split] = {
            "summary": summaries,
            "by_edit": {n: breakdown(truths, verdicts[n]) for n in names},
            "negatives": {n: breakdown(truths, verdicts[n], positive=False) for n in names},
            **extra,
            "queries": [
                {**asdict(q), "results": {n: asdict(verdicts[n][q.path]) for n in names}}
                for q in queries
            ],
        }
    return speeds


if __name__ == "__main__":
    sys.exit(main())
