"""Video provenance benchmark: clip queries with temporal segments, against raw SSCD at 1 fps.

    .venv/bin/python benchmarks/video.py --split dev --work /tmp/fsvideo
    .venv/bin/python benchmarks/video.py --split dev heldout --json /tmp/fsvideo/out.json

Three parts, all systems over the same files in the same run:

1. **ThreatExchange sample videos** (`threatexchange-tmk-vpdq/sample-videos`, 13 real videos: 7
   chair variants, 5 pattern variants, the doorknob clip; the synthetic colour bars are left
   out) all added to one archive, and each searched against it (`--top 15`; a video finding
   itself is ignored). Every directed pair within chair and within pattern must match with
   aligned segments, nothing across chair / pattern / doorknob. *Aligned*: every flagged
   segment lies on the true time offset within 1 s at both ends and the flagged segments cover
   >= 80 % of the time the two videos share (offsets measured once by aligning 24x36 grey
   thumbnails of every frame: chair-20 starts 2.0 s and chair-19 3.7 s into the 22 s original,
   pattern-longer 1/30 s before pattern-hd; the rest are frame-aligned). Beside firstseen: raw
   SSCD at 1 fps, PDQ at 1 fps, vPDQ recomputed from ThreatExchange's published per-frame hashes,
   and the TMK scores published in its README. `firstseen duplicates --format json` is reported
   too when the command exists.
2. **Edited clips** (`video_clips.py`: the design, the edits, the dev / heldout splits): pieces of
   7 archived videos with exact ground truth, and negatives made of footage in no archive.
   Scored with VSC2022's matching-track segment µAP and the boundary errors of
   `video_metrics.py`; raw SSCD frame matching at 1 fps (`video_anchor.py`) is the anchor.
3. **Speed** on this machine: a 60 s 720p query end to end (one CLI process: start-up, decoding,
   search), and `add` of 73 s of 720p video into a scratch archive (times real time, with and
   without the start-up cost, measured by adding one tiny picture to another scratch archive).

`--split thermal-dev thermal-heldout` (`thermal_set.py`, issue 17): thermal and night-vision
clips with HUDs, captions and crops over rendered game footage (`render.py`) and real videos,
and negative clips of other maps and missions of the same games, searched in their own archive
(the 7 references and the archived renders) beside the same raw SSCD anchor:

    .venv/bin/python benchmarks/video.py --split thermal-dev thermal-heldout --skip-te \
        --skip-speed --work /tmp/fs17v

Timings depend on what else runs on the machine; compare them only within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import video_metrics as vm
from dataset import duration
from firstseen_cli import Firstseen
from metrics import Result
from render import render_all
from thermal_set import THERMAL_SPLITS, build_thermal_clips, thermal_clip_references
from video_anchor import (
    VPDQ_SHARE,
    Described,
    FrameAnchor,
    load_vpdq,
    pdq_shares,
    published_tmk,
    published_vpdq_examples,
    vpdq_shares,
)
from video_clips import REFS, TE, Clip, build_speed, build_split

REPO = Path(__file__).resolve().parents[1]
FIRSTSEEN = "firstseen"
ANCHOR = "SSCD 1 fps"
TE_DIR = "threatexchange-tmk-vpdq/"
TE_VIDEOS = [
    "chair-orig-22-sd-bar",
    "chair-22-sd-grey-bar",
    "chair-22-sd-sepia-bar",
    "chair-22-with-small-logo-bar",
    "chair-22-with-large-logo-bar",
    "chair-20-sd-bar",
    "chair-19-sd-bar",
    "pattern-hd-no-bar",
    "pattern-longer-no-bar",
    "pattern-sd-grey-bar",
    "pattern-sd-with-small-logo-bar",
    "pattern-sd-with-large-logo-bar",
    "doorknob-hd-no-bar",
]
# Seconds into the group's original at which each variant starts (see the module docstring).
TE_SHIFT = {"chair-20-sd-bar": 2.0, "chair-19-sd-bar": 3.7, "pattern-longer-no-bar": -1 / 30}
TARGETS = {
    "te_same": "all",
    "te_cross": "0",
    "te_aligned": "all",
    "segment_ap": "≥ 0.90 (heldout)",
    "within_1s": "≥ 90 % of found",
    "false_match_negatives": "0",
    "query60": "≤ 10 s",
    "index": "≥ 10× real time",
}


def group(stem: str) -> str:
    return stem.split("-")[0]


def num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(x)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- firstseen answers -> segments


def segments_from(query: str, result: Result | None) -> tuple[list[vm.Seg], list[vm.Seg], int]:
    """(segments, one pair-level entry per match, matches lacking a `segments` field)."""
    segs: list[vm.Seg] = []
    pairs: list[vm.Seg] = []
    missing = 0
    for p in result.preds if result else []:
        ref = vm.canonical(p.ref)
        pairs.append(vm.Seg(query, ref, 0, 0, 0, 0, p.score, p.match))
        raw = (p.raw or {}).get("segments")
        if raw is None:
            missing += 1
            continue
        for s in raw:
            (qs, qe), (rs, re) = s["query"], s["reference"]
            segs.append(
                vm.Seg(
                    query,
                    ref,
                    float(qs),
                    float(qe),
                    float(rs),
                    float(re),
                    float(s["score"]),
                    bool(s["match"]),
                )
            )
    return segs, pairs, missing


# ---------------------------------------------------------------- part 1: ThreatExchange


def te_truth(data: Path) -> tuple[dict[str, Path], dict[str, float], list[vm.Seg]]:
    paths = {v: (data / TE / f"{v}.mp4").resolve() for v in TE_VIDEOS}
    lengths = {v: duration(p) for v, p in paths.items()}
    gts = []
    for a in TE_VIDEOS:
        for b in TE_VIDEOS:
            if a == b or group(a) != group(b) or group(a) == "doorknob":
                continue
            sa, sb = TE_SHIFT.get(a, 0.0), TE_SHIFT.get(b, 0.0)
            lo = max(sa, sb)  # shared time on the group's original timeline
            hi = min(sa + lengths[a], sb + lengths[b])
            gts.append(vm.Seg(str(paths[a]), str(paths[b]), lo - sa, hi - sa, lo - sb, hi - sb))
    return paths, lengths, gts


def aligned(gt: vm.Seg, flagged: list[vm.Seg]) -> tuple[bool, float, float]:
    """(aligned, coverage of the shared query time, worst offset error of a flagged end)."""
    if not flagged:
        return False, 0.0, math.inf
    off = gt.rs - gt.qs
    worst = max(max(abs((s.rs - s.qs) - off), abs((s.re - s.qe) - off)) for s in flagged)
    cover = vm.intersection([(s.qs, s.qe) for s in flagged], [(gt.qs, gt.qe)]) / (gt.qe - gt.qs)
    return worst <= vm.BOUNDARY_TOLERANCE and cover >= 0.8, cover, worst


def te_part(
    args: argparse.Namespace, fs: Firstseen | None, anchor: FrameAnchor | None
) -> tuple[str, dict]:
    data: Path = args.data
    paths, lengths, gts = te_truth(data)
    keys = {v: str(p) for v, p in paths.items()}
    gt_of = {(g.query, g.ref): g for g in gts}
    directed = [(a, b) for a in TE_VIDEOS for b in TE_VIDEOS if a != b]
    same = [(a, b) for a, b in directed if (keys[a], keys[b]) in gt_of]
    cross = [(a, b) for a, b in directed if (keys[a], keys[b]) not in gt_of]
    dump: dict = {"videos": {v: str(p) for v, p in paths.items()}, "lengths": lengths}
    flags: dict[str, dict[tuple[str, str], bool]] = {}
    segs_by: dict[str, list[vm.Seg]] = {}
    align: dict[str, dict[tuple[str, str], tuple[bool, float, float]]] = {}
    scores: dict[tuple[str, str], dict] = defaultdict(dict)
    dup_text = ""

    if fs is not None:
        te_fs = Firstseen(fs.exe, args.work / "te-archive")
        if te_fs.archive.exists():
            shutil.rmtree(te_fs.archive)
        log("firstseen: archiving the ThreatExchange videos ...")
        t_add = te_fs.add(list(paths.values()))
        log("firstseen: searching each ThreatExchange video ...")
        results = te_fs.search(list(paths.values()), top=15)
        segs: list[vm.Seg] = []
        flagged: dict[tuple[str, str], bool] = {}
        for a in TE_VIDEOS:
            got, pairs, _ = segments_from(keys[a], results.get(keys[a]))
            segs += [s for s in got if s.ref != keys[a]]
            for p in pairs:
                if p.ref != keys[a]:
                    flagged[(p.query, p.ref)] = flagged.get((p.query, p.ref), False) or p.match
                    b = next((v for v in TE_VIDEOS if keys[v] == p.ref), p.ref)
                    scores[(a, b)]["firstseen"] = p.score
        flags[FIRSTSEEN] = {(a, b): flagged.get((keys[a], keys[b]), False) for a, b in directed}
        segs_by[FIRSTSEEN] = segs
        errors = {q: r.error for q, r in results.items() if r.error}
        dump["firstseen"] = {
            "add_seconds": t_add,
            "errors": errors,
            "results": {q: [asdict(p) for p in r.preds] for q, r in results.items()},
        }
        dup_text, dump["duplicates"] = te_duplicates(te_fs, keys, gt_of)
    if anchor is not None:
        log("anchor: SSCD and PDQ of the ThreatExchange videos at 1 fps ...")
        te_anchor = FrameAnchor(with_pdq=True)
        te_anchor.add(list(paths.values()))
        segs = []
        for a in TE_VIDEOS:
            q = te_anchor.refs[keys[a]]
            got, _ = te_anchor.search(paths[a], q)
            segs += [s for s in got if s.ref != keys[a]]
        segs_by[ANCHOR] = segs
        flags[ANCHOR] = {
            (a, b): any(s.match for s in segs if (s.query, s.ref) == (keys[a], keys[b]))
            for a, b in directed
        }
        pdq = {}
        for a, b in directed:
            qa, qb = pdq_shares(te_anchor.refs[keys[a]], te_anchor.refs[keys[b]])
            pdq[(a, b)] = (qa, qb)
        flags["PDQ 1 fps"] = {k: min(v) >= VPDQ_SHARE for k, v in pdq.items()}
        for k, v in pdq.items():
            scores[k]["pdq_1fps"] = v
    hashes = {v: load_vpdq(data / TE_DIR / "vpdq-sample-hashes" / f"{v}.txt") for v in TE_VIDEOS}
    vpdq = {(a, b): vpdq_shares(hashes[a], hashes[b]) for a, b in directed}
    flags["vPDQ (published hashes)"] = {k: min(v) >= VPDQ_SHARE for k, v in vpdq.items()}
    tmk = published_tmk(data / TE_DIR / "tmk_scores_from_README.txt")
    for (a, b), v in vpdq.items():
        scores[(a, b)]["vpdq"] = v
        if frozenset((a, b)) in tmk:
            scores[(a, b)]["tmk"] = tmk[frozenset((a, b))]
    tmk_flags = {
        (a, b): min(tmk[frozenset((a, b))]) >= 0.7 for a, b in directed if frozenset((a, b)) in tmk
    }
    flags["TMK (published)"] = tmk_flags

    for name, segs in segs_by.items():
        align[name] = {}
        for a, b in same:
            gt = gt_of[(keys[a], keys[b])]
            mine = [s for s in segs if (s.query, s.ref) == (gt.query, gt.ref) and s.match]
            align[name][(a, b)] = aligned(gt, mine)

    names = list(flags)
    head = {}
    for n in names:
        f = flags[n]
        s_pairs = [k for k in same if k in f]
        c_pairs = [k for k in cross if k in f]
        row = {
            "same-group directed pairs matched": (
                f"{sum(f[k] for k in s_pairs)}/{len(s_pairs)}" if s_pairs else "n/a"
            ),
            "… large-logo pairs matched": _count(f, [k for k in s_pairs if _large(k)]),
            "cross-group pairs matched (false)": (
                f"{sum(f[k] for k in c_pairs)}/{len(c_pairs)}" if c_pairs else "n/a"
            ),
            "same-group pairs aligned": "n/a",
            "segment µAP": "n/a",
            "mean boundary error (s)": "n/a",
        }
        if n in align:
            row["same-group pairs aligned"] = f"{sum(v[0] for v in align[n].values())}/{len(same)}"
            row["segment µAP"] = num(vm.segment_ap(gts, segs_by[n]).ap)
            found = [x for x in vm.find(gts, segs_by[n]) if x.pred is not None]
            row["mean boundary error (s)"] = (
                num(statistics.fmean(x.mean_error or 0.0 for x in found), "{:.2f}")
                if found
                else "n/a"
            )
        head[n] = row
    targets = ["all", "all", "0", "all", "", ""]
    rows = [
        [k, *(head[n][k] for n in names), t] for k, t in zip(head[names[0]], targets, strict=True)
    ]
    out = [
        f"\n=== ThreatExchange sample videos: {len(TE_VIDEOS)} videos (7 chair, 5 pattern, "
        f"1 doorknob), {len(same)} same-group and {len(cross)} cross-group directed pairs",
        table(rows, ["metric", *names, "target"]),
        "  (TMK: only the pairs its README prints; vPDQ and PDQ: match at ≥ 80 % both ways)",
    ]
    # per pair
    hdr = [
        "pair (a, b)",
        "fs a→b",
        "fs b→a",
        "SSCD a→b",
        "PDQ1fps a/b %",
        "vPDQ a/b %",
        "TMK L1/L2",
    ]
    rows = []
    for a, b in same:
        if TE_VIDEOS.index(a) > TE_VIDEOS.index(b):
            continue
        rows.append(
            [
                f"{_short(a)} / {_short(b)}",
                _fs_cell(flags, align, scores, FIRSTSEEN, a, b),
                _fs_cell(flags, align, scores, FIRSTSEEN, b, a),
                _anchor_cell(flags, align, ANCHOR, a, b),
                _pct(scores[(a, b)].get("pdq_1fps")),
                _pct(scores[(a, b)].get("vpdq")),
                "/".join(f"{x:.3f}" for x in scores[(a, b)]["tmk"])
                if "tmk" in scores[(a, b)]
                else "",
            ]
        )
    out.append("\nsame-group pairs (fs: score, M = match, A = aligned; SSCD: coverage)")
    out.append(table(rows, hdr))
    for n in names:
        wrong = [k for k in cross if flags[n].get(k)]
        if wrong:
            out.append(
                f"{n}: cross-group matches: "
                + ", ".join(f"{_short(a)}→{_short(b)}" for a, b in wrong)
            )
    quoted = published_vpdq_examples(data / TE_DIR / "tmk_scores_from_README.txt")
    if quoted:
        out.append("vPDQ as quoted in ThreatExchange's vpdq/README.md vs recomputed here from its")
        out.append("published hashes (% of query frames / % of target frames matched):")
        for q, t, pq, pt in quoted:
            if q in hashes and t in hashes:
                mq, mt = vpdq_shares(hashes[q], hashes[t])
                out.append(
                    f"  {q} vs {t}: README {pq:.2f} / {pt:.2f}, recomputed {mq:.2f} / {mt:.2f}"
                )
        dump["vpdq_readme"] = quoted
    if dup_text:
        out.append(dup_text)
    dump["summary"] = head
    dump["pairs"] = {
        f"{a} -> {b}": {
            "same_group": (a, b) in set(same),
            **{f"flag:{n}": flags[n].get((a, b)) for n in names},
            **{
                f"aligned:{n}": dict(
                    zip(
                        ("aligned", "coverage", "worst_offset_error"), align[n][(a, b)], strict=True
                    )
                )
                for n in align
                if (a, b) in align[n]
            },
            **{k: v for k, v in scores[(a, b)].items()},
        }
        for a, b in directed
    }
    dump["segments"] = {n: [asdict(s) for s in segs] for n, segs in segs_by.items()}
    return "\n".join(out), dump


def _large(k: tuple[str, str]) -> bool:
    return any("large" in v for v in k)


def _count(f: dict, keys: list) -> str:
    return f"{sum(f[k] for k in keys)}/{len(keys)}" if keys else "n/a"


def _short(v: str) -> str:
    return (
        v.replace("chair-orig-22-sd-bar", "chair-orig")
        .replace("pattern-hd-no-bar", "pattern-hd")
        .replace("-sd-bar", "")
        .replace("-no-bar", "")
        .replace("-bar", "")
        .replace("chair-22-", "chair-")
        .replace("pattern-sd-", "pattern-")
    )


def _pct(v: tuple[float, float] | None) -> str:
    return f"{v[0]:.0f}/{v[1]:.0f}" if v else ""


def _fs_cell(flags: dict, align: dict, scores: dict, n: str, a: str, b: str) -> str:
    if n not in flags:
        return ""
    s = scores[(a, b)].get("firstseen")
    mark = ("M" if flags[n][(a, b)] else "-") + ("A" if align[n][(a, b)][0] else "-")
    return f"{num(s, '{:.2f}')} {mark}"


def _anchor_cell(flags: dict, align: dict, n: str, a: str, b: str) -> str:
    if n not in flags:
        return ""
    ok, cover, _ = align[n][(a, b)]
    return f"{100 * cover:.0f} % {'A' if ok else ''}".rstrip()


def te_duplicates(
    fs: Firstseen, keys: dict[str, str], gt_of: dict[tuple[str, str], vm.Seg]
) -> tuple[str, dict | None]:
    """`firstseen duplicates --format json` on the ThreatExchange archive, if it exists: which
    pairs it flags, and whether their flagged segments are aligned (a's time -> b's time)."""
    try:
        proc = fs.run("duplicates", "--format", "json", timeout=1800)
    except subprocess.TimeoutExpired:
        return "\nfirstseen duplicates: timed out", None
    if proc.returncode != 0 and "No such command" in (proc.stderr + proc.stdout):
        return "\nfirstseen duplicates: no such command yet", None
    try:
        listed = json.loads(proc.stdout)
    except ValueError:
        return f"\nfirstseen duplicates: exit {proc.returncode}: {proc.stderr[-300:]}", None
    stem = {vm.canonical(p): v for v, p in keys.items()}
    flagged: dict[frozenset[str], bool] = {}
    is_aligned: dict[frozenset[str], bool] = {}
    for d in listed:
        a, b = stem.get(vm.canonical(d["a"]), d["a"]), stem.get(vm.canonical(d["b"]), d["b"])
        if a == b:
            continue
        k = frozenset((a, b))
        flagged[k] = flagged.get(k, False) or bool(d.get("match"))
        gt = gt_of.get((keys.get(a, ""), keys.get(b, "")))
        if gt is not None and d.get("match"):
            segs = [
                vm.Seg(gt.query, gt.ref, *s["query"], *s["reference"], s["score"], s["match"])
                for s in d.get("segments", [])
                if s.get("match")
            ]
            is_aligned[k] = is_aligned.get(k, False) or aligned(gt, segs)[0]
    want = {
        frozenset((a, b))
        for a in TE_VIDEOS
        for b in TE_VIDEOS
        if a < b and group(a) == group(b) and group(a) != "doorknob"
    }
    right = sum(1 for k in want if flagged.get(k))
    lined = sum(1 for k in want if is_aligned.get(k))
    wrong = [k for k, m in flagged.items() if m and k not in want]
    missed = [k for k in want if not flagged.get(k)]
    text = (
        f"\nfirstseen duplicates: {len(listed)} pairs listed; same-group pairs flagged "
        f"{right}/{len(want)}, aligned {lined}/{len(want)}; cross-group flagged {len(wrong)}"
        + ("" if not wrong else ": " + ", ".join(" / ".join(sorted(k)) for k in wrong))
        + (
            ""
            if not missed
            else "\n  not flagged: "
            + ", ".join(" / ".join(_short(x) for x in sorted(k)) for k in missed)
        )
    )
    summary = {"same_flagged": right, "same_aligned": lined, "cross_flagged": len(wrong)}
    return text, {"listed": listed, **summary}


# ---------------------------------------------------------------- part 2: edited clips


def clip_truth(clips: list[Clip]) -> list[vm.Seg]:
    return [
        vm.Seg(c.path, vm.canonical(s["ref"]), *s["query"], *s["reference"])
        for c in clips
        for s in c.segments
    ]


def split_part(
    split: str,
    clips: list[Clip],
    fs: Firstseen | None,
    anchor: FrameAnchor | None,
    top: int,
    archive: str = f"{len(REFS)} videos",
) -> tuple[str, dict]:
    gts = clip_truth(clips)
    queries = [c.path for c in clips]
    negatives = [c.path for c in clips if c.negative]
    segs: dict[str, list[vm.Seg]] = {}
    pairs: dict[str, list[vm.Seg]] = {}
    elapsed: dict[str, list[float]] = {}
    notes: list[str] = []
    raw: dict = {}
    if fs is not None:
        log(f"firstseen: searching {len(clips)} {split} clips ...")
        t0 = time.perf_counter()
        results = fs.search([Path(q) for q in queries], top=top)
        wall = time.perf_counter() - t0
        segs[FIRSTSEEN], pairs[FIRSTSEEN], missing = [], [], 0
        for q in queries:
            s, p, m = segments_from(q, results.get(q))
            segs[FIRSTSEEN] += s
            pairs[FIRSTSEEN] += p
            missing += m
        elapsed[FIRSTSEEN] = [r.elapsed_ms for r in results.values() if r.elapsed_ms is not None]
        errors = {Path(q).name: r.error for q, r in results.items() if r.error}
        if missing:
            notes.append(f"firstseen: {missing} matches without a `segments` field")
        if errors:
            notes.append(f"firstseen errors: {errors}")
        notes.append(f"firstseen: {len(queries)} searches in one CLI call, {wall:.1f} s wall")
        raw = {q: [asdict(p) for p in r.preds] for q, r in results.items()}
    if anchor is not None:
        log(f"anchor: {len(clips)} {split} clips ...")
        segs[ANCHOR], elapsed[ANCHOR] = [], []
        for q in queries:
            s, ms = anchor.search(Path(q))
            segs[ANCHOR] += s
            elapsed[ANCHOR].append(ms)
        pairs[ANCHOR] = segs[ANCHOR]
    names = list(segs)
    summ = {n: vm.summarise(gts, segs[n], queries, negatives) for n in names}
    for n in names:
        summ[n]["pair_ap"] = vm.pair_ap(gts, pairs[n])
        summ[n]["median_ms"] = statistics.median(elapsed[n]) if elapsed[n] else None
    s0 = summ[names[0]] if names else vm.summarise(gts, [], queries, negatives)
    pos = len(clips) - len(negatives)
    out = [
        f"\n=== split {split}: {pos} copies ({s0['gt_segments']} segments, "
        f"{s0['gt_seconds']:.0f} s of copied time), {len(negatives)} negatives; "
        f"archive {archive}"
    ]

    def cells(fmt) -> list[str]:
        return [fmt(summ[n]) for n in names]

    rows = [
        ["segment µAP (VSC2022)", *cells(lambda s: num(s["segment_ap"])), TARGETS["segment_ap"]],
        ["pair µAP (VSC2022 auxiliary)", *cells(lambda s: num(s["pair_ap"])), ""],
        [
            "segments found (flagged)",
            *cells(lambda s: f"{s['found']}/{s['gt_segments']}"),
            "",
        ],
        [
            "found with boundaries within 1 s",
            *cells(lambda s: _share(s["within_1s"], s["found"])),
            TARGETS["within_1s"],
        ],
        [
            "mean boundary error (s)",
            *cells(lambda s: num(s["boundary_mean"], "{:.2f}")),
            "",
        ],
        [
            "median boundary error (s)",
            *cells(lambda s: num(s["boundary_median"], "{:.2f}")),
            "",
        ],
        [
            "negatives with a flagged segment",
            *cells(lambda s: f"{s['false_match_negatives']}/{s['negatives']}"),
            TARGETS["false_match_negatives"],
        ],
        [
            "wrong-file flagged segments (clips)",
            *cells(lambda s: f"{s['wrong_file']} ({s['wrong_file_queries']})"),
            "0",
        ],
        ["misplaced flagged segments", *cells(lambda s: str(s["misplaced"])), ""],
        ["median ms per query", *cells(lambda s: num(s["median_ms"], "{:.0f}")), ""],
    ]
    out.append(table(rows, ["metric", *names, "target"]))
    out.extend(notes)

    # per edit token (a clip counts under each of its edits and its structure)
    tokens: dict[str, list[Clip]] = defaultdict(list)
    for c in clips:
        if not c.negative:
            for t in c.label.split("+"):
                tokens[t].append(c)
    hdr = ["edit", "clips", "segs"]
    for n in names:
        hdr += [f"{n} µAP", "found", "≤1 s", "err s"]
    rows = []
    for t in sorted(tokens):
        qs = [c.path for c in tokens[t]]
        row = [t, str(len(qs))]
        for k, n in enumerate(names):
            s = vm.summarise(gts, segs[n], qs, [])
            if k == 0:
                row.append(str(s["gt_segments"]))
            row += [
                num(s["segment_ap"], "{:.2f}"),
                str(s["found"]),
                str(s["within_1s"]),
                num(s["boundary_mean"], "{:.2f}"),
            ]
        rows.append(row)
    if rows:
        out.append("\nper edit (copies; a clip counts under each of its edits)")
        out.append(table(rows, hdr))

    per_clip = []
    for c in clips:
        entry = {**asdict(c), "results": {}}
        for n in names:
            mine = [s for s in segs[n] if s.query == c.path]
            found = vm.find([g for g in gts if g.query == c.path], mine)
            wrong, misplaced = vm.stray([g for g in gts if g.query == c.path], mine)
            entry["results"][n] = {
                "segments": [asdict(s) for s in mine],
                "found": [
                    {
                        "gt": asdict(f.gt),
                        "pred": asdict(f.pred) if f.pred else None,
                        "errors": f.errors,
                    }
                    for f in found
                ],
                "wrong_file": [asdict(s) for s in wrong],
                "misplaced": [asdict(s) for s in misplaced],
            }
        if FIRSTSEEN in names:
            entry["firstseen_raw"] = raw.get(c.path)
        per_clip.append(entry)
    for n in names:
        bad = []
        for e in per_clip:
            r = e["results"][n]
            miss = sum(f["pred"] is None for f in r["found"])
            far = sum(1 for f in r["found"] if f["errors"] and max(f["errors"]) > 1.0)
            extra = len(r["wrong_file"]) + len(r["misplaced"])
            if miss or far or extra:
                bad.append(
                    f"  {e['qid']} {e['label']}: "
                    + ", ".join(
                        x
                        for x in (
                            f"{miss} missed" if miss else "",
                            f"{far} off by > 1 s" if far else "",
                            f"{extra} flagged wrong" if extra else "",
                        )
                        if x
                    )
                )
        if bad:
            out.append(f"\n{n}: clips not fully right ({len(bad)})")
            out.extend(bad)
    return "\n".join(out), {"summary": summ, "clips": per_clip}


def _share(k: int, n: int) -> str:
    return f"{k}/{n} ({100.0 * k / n:.0f} %)" if n else "n/a"


# ---------------------------------------------------------------- part 3: speed


def speed_part(
    args: argparse.Namespace,
    fs: Firstseen | None,
    anchor: FrameAnchor | None,
    clip: Clip,
    index_video: Path,
) -> tuple[str, dict]:
    dump: dict = {"query_clip": clip.path, "index_video": str(index_video)}
    video_len = duration(index_video)
    rows = []
    load_before = os.getloadavg()
    archive = getattr(args, "archive_speed", None)
    if archive:
        rows.append(
            [
                f"indexing the 7 references ({archive['video_seconds']:.0f} s of video)",
                f"{archive['video_seconds'] / archive['add_seconds']:.1f}× real time "
                f"({archive['add_seconds']:.1f} s)",
                "",
            ]
        )
    gts = clip_truth([clip])
    if fs is not None:
        runs = []
        for _ in range(2):
            t0 = time.perf_counter()
            res = fs.search([Path(clip.path)], top=5)
            runs.append((time.perf_counter() - t0, res.get(clip.path)))
        wall = [w for w, _ in runs]
        r = runs[0][1]
        segs, _, _ = segments_from(clip.path, r)
        s = vm.summarise(gts, segs, [clip.path], [])
        dump["query60"] = {
            "wall_seconds": wall,
            "elapsed_ms": [x.elapsed_ms if x else None for _, x in runs],
            "error": r.error if r else "no answer",
            "summary": s,
            "segments": [asdict(x) for x in segs],
        }
        rows.append(
            [
                "60 s 720p query, end to end (CLI wall)",
                f"{wall[0]:.1f} s (again: {wall[1]:.1f} s)",
                TARGETS["query60"],
            ]
        )
        rows.append(
            [
                "  of which search (elapsed_ms)",
                " / ".join(
                    num(x.elapsed_ms / 1000 if x and x.elapsed_ms else None, "{:.1f} s")
                    for _, x in runs
                ),
                "",
            ]
        )
        rows.append(
            [
                "  its 4 copied pieces found; within 1 s",
                f"{s['found']}/{s['gt_segments']}; {s['within_1s']}; "
                f"{s['false_segments_negatives'] + s['wrong_file'] + s['misplaced']} flagged wrong",
                "",
            ]
        )
        scratch = args.work / "scratch"
        if scratch.exists():
            shutil.rmtree(scratch)
        tiny = Firstseen(fs.exe, scratch / "startup")
        startup = tiny.add([args.data / "threatexchange-pdq/misc-images/wee.jpg"])
        hd = Firstseen(fs.exe, scratch / "index720")
        t = hd.add([index_video])
        dump["index"] = {
            "video_seconds": video_len,
            "add_seconds": t,
            "startup_seconds": startup,
            "realtime": video_len / t,
            "realtime_after_startup": video_len / (t - startup) if t > startup else None,
            "frames": hd.frames(),
        }
        rows.append(
            [
                f"indexing 720p ({video_len:.0f} s of video)",
                f"{video_len / t:.1f}× real time ({t:.1f} s; "
                + num(dump["index"]["realtime_after_startup"], "{:.1f}")
                + f"× after {startup:.1f} s start-up)",
                TARGETS["index"],
            ]
        )
    if anchor is not None:
        t0 = time.perf_counter()
        segs, ms = anchor.search(Path(clip.path))
        s = vm.summarise(gts, segs, [clip.path], [])
        t0 = time.perf_counter()
        d: Described = anchor.describe(index_video)
        t_index = time.perf_counter() - t0
        dump["anchor"] = {"query60_ms": ms, "summary": s, "index_seconds": t_index}
        rows.append([f"{ANCHOR}: 60 s query (in-process, no start-up)", f"{ms / 1000:.1f} s", ""])
        rows.append(
            [
                f"{ANCHOR}: decode + describe 720p",
                f"{video_len / t_index:.1f}× real time ({len(d.times)} frames)",
                "",
            ]
        )
    load_after = os.getloadavg()
    dump["load_average"] = {"before": load_before, "after": load_after}
    out = [
        f"\n=== speed (this machine, {os.cpu_count()} cores; 1-min load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after)",
        table(rows, ["", "", "target"]),
    ]
    return "\n".join(out), dump


# ---------------------------------------------------------------- thermal clips


def thermal_part(
    args: argparse.Namespace,
    fs: Firstseen | None,
    with_anchor: bool,
    renders: dict[str, Path],
    splits: dict[str, list[Clip]],
    dump: dict,
) -> list[str]:
    """The thermal clip splits, over their own archive: the 7 real references and the archived
    renders (`thermal_set.py`)."""
    refs = thermal_clip_references(args.data, renders)
    archive = f"{len(refs)} videos ({len(refs) - len(REFS)} rendered)"
    # Not the stills' `archive-thermal` (which also holds photos): each benchmark keeps its own.
    fs_t = Firstseen(fs.exe, args.work / "archive-thermal-clips") if fs is not None else None
    if fs_t is not None and not (args.keep_archive and fs_t.archive.exists()):
        if fs_t.archive.exists():
            shutil.rmtree(fs_t.archive)
        log(f"firstseen: archiving {archive} ...")
        t = fs_t.add(refs)
        total = sum(duration(r) for r in refs)
        dump["thermal_archive"] = {"add_seconds": t, "video_seconds": total}
    anchor: FrameAnchor | None = None
    if with_anchor:
        log("anchor: describing the thermal archive at 1 fps ...")
        anchor = FrameAnchor()
        anchor.add(refs)
    texts = []
    for split, clips in splits.items():
        t0 = time.perf_counter()
        text, dump["splits"][split] = split_part(split, clips, fs_t, anchor, args.top, archive)
        text += f"\nsearching took {time.perf_counter() - t0:.0f} s for both systems"
        print(text, flush=True)
        texts.append(text)
    return texts


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--split",
        nargs="*",
        choices=["dev", "heldout", *THERMAL_SPLITS],
        default=["dev"],
        help="clip splits to run (none: only the other parts)",
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/fsvideo"))
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--json", type=Path, help="write all results and per-clip details here")
    ap.add_argument("--firstseen", type=Path, default=Path(sys.executable).parent / "firstseen")
    ap.add_argument("--no-firstseen", action="store_true", help="run the anchors only")
    ap.add_argument("--no-anchors", action="store_true", help="run firstseen only")
    ap.add_argument("--skip-speed", action="store_true", help="no 60 s query or indexing timing")
    ap.add_argument("--skip-te", action="store_true", help="no ThreatExchange part")
    ap.add_argument(
        "--keep-archive",
        action="store_true",
        help="search the clip archive of an earlier run with the same --work (no rebuild)",
    )
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args(argv)
    args.work = args.work.resolve()
    args.data = args.data.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    vm.self_check()
    t0 = time.perf_counter()
    standard = [s for s in args.split if s not in THERMAL_SPLITS]
    thermal = [s for s in args.split if s in THERMAL_SPLITS]
    splits = {s: build_split(args.data, args.work, s, log) for s in standard}
    renders = render_all(args.work, log) if thermal else {}
    thermal_clips = {s: build_thermal_clips(args.data, args.work, s, renders, log) for s in thermal}
    speed_clip, index_video = (
        (None, None) if args.skip_speed else build_speed(args.data, args.work, log)
    )
    log(f"clips ready in {time.perf_counter() - t0:.0f} s")

    fs: Firstseen | None = None
    dump: dict = {"work": str(args.work), "splits": {}}
    refs = [(args.data / r).resolve() for r in REFS]
    if not args.no_firstseen:
        fs = Firstseen(args.firstseen, args.work / "archive")
        if not fs.available():
            log(f"firstseen not runnable at {args.firstseen}: anchors only")
            fs = None
        elif args.keep_archive and fs.archive.exists():
            log(f"searching the existing archive {fs.archive}")
        elif standard or speed_clip is not None:
            if fs.archive.exists():
                shutil.rmtree(fs.archive)
            log("firstseen: archiving the 7 reference videos ...")
            t = fs.add(refs)
            total = sum(duration(r) for r in refs)
            dump["archive"] = {"add_seconds": t, "video_seconds": total, "frames": fs.frames()}
            args.archive_speed = dump["archive"]
            log(f"  {total:.0f} s of video in {t:.1f} s ({total / t:.1f}× real time)")
    anchor: FrameAnchor | None = None
    if not args.no_anchors:
        anchor = FrameAnchor()
        if standard or speed_clip is not None:
            log("anchor: describing the references at 1 fps ...")
            anchor.add(refs)
            dump["anchor_index"] = anchor.speed(list(anchor.refs))

    texts = []
    if not args.skip_te:
        text, dump["threatexchange"] = te_part(args, fs, anchor)
        print(text, flush=True)
        texts.append(text)
    for split, clips in splits.items():
        text, dump["splits"][split] = split_part(split, clips, fs, anchor, args.top)
        print(text, flush=True)
        texts.append(text)
    if thermal:
        texts += thermal_part(args, fs, anchor is not None, renders, thermal_clips, dump)
    if speed_clip is not None and index_video is not None:
        text, dump["speed"] = speed_part(args, fs, anchor, speed_clip, index_video)
        print(text, flush=True)
    runtime = time.perf_counter() - started
    print(f"\nbenchmark runtime {runtime / 60:.1f} min")
    dump["runtime_seconds"] = runtime
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dump, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
