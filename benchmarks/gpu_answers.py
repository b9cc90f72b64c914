"""Whether an archive described on a GPU answers as one described on a CPU: the provenance
benchmark's reference media added twice, once with the descriptor on ONNX Runtime's CUDA
provider (on a GPU machine) and once on the CPU, then the same queries, described on the CPU as
a search always is, searched in both.

    # on the GPU machine (onnxruntime-gpu installed): the archive to bring back
    PYTHONPATH=src python3 benchmarks/gpu_answers.py describe --gpu --archive /tmp/ga REFS...
    # here: the CPU twin, then every query of the split in both
    PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/gpu_answers.py compare \\
        --gpu-archive /tmp/ga --work /tmp/fsbench --split dev REFS...

Answers are compared by the reference's file name (the two archives were filled from different
folders), verdict, time, region and score.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from gpu_describe import fresh_ingester

from firstseen.archive.ingest import media_files
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.engine import open_searcher
from firstseen.matching.answers import result_json


def describe(files: list[Path], root: Path, gpu: bool) -> None:
    """A fresh archive of `files`, described on the CUDA provider or the CPU."""
    archive, ingester, descriptor = fresh_ingester(root, gpu)
    print(f"describing on {descriptor.providers[0]}")
    results = [ingester.add(f, Sighting(str(f))) for f in media_files(files)]
    archive.close()
    failed = [r for r in results if r.status == "failed"]
    print(f"{len(results)} files, {sum(r.frames for r in results)} frames, {len(failed)} failed")


def top(answer: dict[str, Any]) -> dict[str, Any]:
    """The first match of an answer, by what both archives share."""
    matches = answer.get("matches") or []
    if not matches:
        return {"ref": None}
    first = matches[0]
    return {
        "ref": Path(first.get("path") or "").name,
        "match": first.get("match"),
        "time": first.get("time"),
        "region": first.get("region"),
        "score": first.get("score"),
    }


def compare(gpu_root: Path, cpu_root: Path, queries: list[Path]) -> dict[str, Any]:
    answers = {}
    for name, root in (("gpu", gpu_root), ("cpu", cpu_root)):
        searcher = open_searcher(Archive(root))
        answers[name] = [top(result_json(searcher.search(q))) for q in queries]
    differing, deltas = [], []
    for query, gpu, cpu in zip(queries, answers["gpu"], answers["cpu"], strict=True):
        if gpu.get("score") is not None and cpu.get("score") is not None:
            deltas.append(gpu["score"] - cpu["score"])
        same = {k: gpu.get(k) == cpu.get(k) for k in ("ref", "match", "time", "region")}
        if not all(same.values()):
            differing.append({"query": query.name, "gpu": gpu, "cpu": cpu})
    flagged = {k: sum(bool(a.get("match")) for a in v) for k, v in answers.items()}
    spread = np.abs(deltas) if deltas else np.zeros(1)
    return {
        "queries": len(queries),
        "flagged": flagged,
        "differing": differing,
        "score_delta_median": float(np.median(spread)),
        "score_delta_max": float(spread.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    making = sub.add_parser("describe")
    making.add_argument("--archive", type=Path, required=True)
    making.add_argument("--gpu", action="store_true")
    making.add_argument("refs", type=Path, nargs="+")
    comparing = sub.add_parser("compare")
    comparing.add_argument("--gpu-archive", type=Path, required=True)
    comparing.add_argument("--work", type=Path, required=True, help="a provenance.py work folder")
    comparing.add_argument("--split", default="dev")
    comparing.add_argument("--json", type=Path)
    comparing.add_argument("refs", type=Path, nargs="+")
    args = parser.parse_args()
    if args.step == "describe":
        describe(args.refs, args.archive, args.gpu)
        return
    cpu_root = args.work / "cpu-twin"
    describe(args.refs, cpu_root, False)
    manifest = json.loads((args.work / args.split / "manifest.json").read_text())
    queries = [Path(q["path"]) for q in manifest["queries"]]
    report = compare(args.gpu_archive, cpu_root, queries)
    print(json.dumps({k: v for k, v in report.items() if k != "differing"}, indent=1))
    for row in report["differing"]:
        print(row)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
