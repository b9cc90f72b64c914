"""What a still query costs, pass by pass: CPU time, descriptor runs and keypoint checks per
query, split by whether anything confirmed it, beside raw SSCD (one descriptor run on the same
picture) in the same process.

CPU time (`time.process_time`, all threads) rather than wall time, so that the figures hold on a
machine shared with other work; compare them only within one run. Reads the query set and the
archive a `provenance.py` run kept (`--keep-archive`):

    PYTHONPATH=src .venv/bin/python benchmarks/query_cost.py --work /tmp/th17 --split thermal-dev

`--budget 0 2 none` measures each fallback budget (`search --fallback-budget`; none: no limit)
in turn in the same run, with the copies and the negatives each confirms (a confirmed negative
is a false match).
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firstseen.archive.store import Archive
from firstseen.engine import open_searcher
from firstseen.matching import check, verdict
from firstseen.media import load_image


def _counting(counts: dict[str, int], key: str, step: Callable[..., Any], size: bool) -> Any:
    def counted(*args: Any, **kwargs: Any) -> Any:
        counts[key] += len(args[0]) if size else 1
        return step(*args, **kwargs)

    return counted


def measure(work: Path, split: str, budget: float | None) -> list[dict[str, Any]]:
    archive_dir = work / ("archive-thermal" if split.startswith("thermal") else "archive")
    queries = json.loads((work / split / "manifest.json").read_text())["queries"]
    searcher = open_searcher(Archive(archive_dir))
    searcher.budget = budget
    describe = searcher.descriptor.describe
    counts = {"described": 0, "checks": 0, "passes": 0}
    searcher.retriever.descriptor.describe = _counting(counts, "described", describe, True)  # type: ignore[method-assign]
    check.verify = _counting(counts, "checks", check.verify, False)
    searcher.search_pictures = _counting(counts, "passes", searcher.search_pictures, False)  # type: ignore[method-assign]
    searcher.search(Path(queries[0]["path"]))  # warm up
    rows = []
    for query in queries:
        rgb = load_image(Path(query["path"]))
        started = time.process_time()
        describe([rgb])
        raw = time.process_time() - started
        counts.update(described=0, checks=0, passes=0)
        started = time.process_time()
        matches = searcher.search_image(rgb, 5)
        spent = time.process_time() - started
        confirmed = any(verdict.verified(m.check) for m in matches)
        rows.append(
            {
                "qid": query["qid"],
                "cpu_ms": spent * 1e3,
                "sscd_cpu_ms": raw * 1e3,
                "confirmed": confirmed,
                "copy": query.get("ref") is not None,
                **counts,
            }
        )
    return rows


def summary(rows: list[dict[str, Any]]) -> str:
    sscd = statistics.median(r["sscd_cpu_ms"] for r in rows)
    copies = [r for r in rows if r["copy"]]
    found = sum(r["confirmed"] for r in copies)
    false = sum(r["confirmed"] for r in rows if not r["copy"])
    lines = [
        f"raw SSCD: median {sscd:.1f} ms CPU per query; copies confirmed {found}/{len(copies)},"
        f" negatives {false}/{len(rows) - len(copies)}"
    ]
    groups = [
        ("all", rows),
        ("confirmed", [r for r in rows if r["confirmed"]]),
        ("unconfirmed", [r for r in rows if not r["confirmed"]]),
    ]
    for name, group in groups:
        if not group:
            continue
        cpu = statistics.median(r["cpu_ms"] for r in group)
        lines.append(
            f"{name:12} {len(group):4} queries  median {cpu:7.1f} ms CPU ({cpu / sscd:4.1f}x SSCD)"
            f"  descriptor runs {statistics.median(r['described'] for r in group):4.0f}"
            f"  checks {statistics.median(r['checks'] for r in group):4.0f}"
            f"  passes {statistics.median(r['passes'] for r in group):3.0f}"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="a provenance.py --work folder")
    ap.add_argument("--split", nargs="+", default=["dev"])
    ap.add_argument("--json", type=Path, help="write every query's figures here")
    ap.add_argument(
        "--budget",
        nargs="+",
        type=_budget,
        default=[None],
        help="fallback budgets to measure, in pictures (none: no limit)",
    )
    args = ap.parse_args()
    everything: dict[str, Any] = {}
    for budget in args.budget:
        for split in args.split:
            rows = measure(args.work, split, budget)
            everything[split if budget is None else f"{split} budget {budget:g}"] = rows
            print(f"== {split}, budget {'none' if budget is None else f'{budget:g}'}")
            print(summary(rows), flush=True)
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))
    return 0


def _budget(text: str) -> float | None:
    return None if text == "none" else float(text)


if __name__ == "__main__":
    sys.exit(main())
