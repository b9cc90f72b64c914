"""One search process of the scale benchmark: opens an archive, searches every query once warm,
and reports each answer with its wall time, how long opening took, and the process's peak memory,
so that the memory is the search's own and not the benchmark's.

    python benchmarks/scale_worker.py ARCHIVE QUERIES.json OUT.json [FALLBACK_BUDGET]

ARCHIVE is what `--archive` names: an archive directory or a deployment.toml.

QUERIES.json is a list of paths; OUT.json gets {"open_seconds", "warmup_seconds", "rss_open_mb",
"peak_rss_mb", "rss_end_mb", "results": [the CLI's JSON answer with "wall_ms"]}.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from firstseen.archive.location import open_location
from firstseen.engine import open_searcher
from firstseen.matching.answers import result_json


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float | None:
    """This process's resident memory now: the indexes stay, passing peaks (loading the model)
    do not."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def main(location: Path, queries: list[Path], out: Path, budget: float | None) -> None:
    started = time.perf_counter()
    archive = open_location(location)
    searcher = open_searcher(archive, budget=budget)
    opened = time.perf_counter()
    searcher.search(queries[0])  # loads the indexes and warms the caches; not counted
    warm = time.perf_counter()
    rss_open = peak_rss_mb()
    results = []
    for query in queries:
        t0 = time.perf_counter()
        answer = result_json(searcher.search(query, top=5, name=str(query)))
        results.append({**answer, "wall_ms": (time.perf_counter() - t0) * 1000})
    report = {
        "open_seconds": opened - started,
        "warmup_seconds": warm - opened,
        "rss_open_mb": rss_open,
        "peak_rss_mb": peak_rss_mb(),
        "rss_end_mb": rss_now_mb(),
        "results": results,
    }
    out.write_text(json.dumps(report))
    archive.catalog.close()  # as `firstseen search` ends: the indexes are not rewritten


if __name__ == "__main__":
    main(
        Path(sys.argv[1]),
        [Path(p) for p in json.loads(Path(sys.argv[2]).read_text())],
        Path(sys.argv[3]),
        float(sys.argv[4]) if len(sys.argv) > 4 else None,
    )
