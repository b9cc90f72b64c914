"""Whether `firstseen export` then `firstseen import` into an empty archive keeps every answer:
the same queries searched through the CLI in the archive and in its copy, compared as the
deployment benchmark compares an archive with its deployment (scale_deploy.disagreements:
reference, verdict, time, region, and the score within 1e-4).

    PYTHONPATH=src .venv/bin/python benchmarks/exchange_roundtrip.py \
        --archive /tmp/fsbench/archive --queries /tmp/fsbench/dev/queries --work /tmp/fsround

`--archive` is an archive folder (a `provenance.py --keep-archive` work folder's `archive`);
`--queries` a folder of query files. The export keeps thumbnails, so the copy can check frames as
the archive does; `--work` must not exist yet or be empty.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from firstseen_cli import Firstseen
from scale_deploy import disagreements


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--archive", type=Path, required=True)
    ap.add_argument("--queries", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--firstseen", type=Path, default=Path(sys.executable).parent / "firstseen")
    args = ap.parse_args()
    exchange = args.work / "exchange"
    original, copy = (
        Firstseen(args.firstseen, args.archive),
        Firstseen(args.firstseen, args.work / "archive"),
    )
    exported = original.timed("export", str(exchange))
    imported = copy.timed("import", str(exchange))
    print(f"export {exported:.1f} s, import into an empty archive {imported:.1f} s")
    queries = sorted(p for p in args.queries.iterdir() if p.is_file())
    differ = disagreements(original.search(queries), copy.search(queries))
    print(f"{len(queries)} queries, {len(differ)} answered differently")
    for row in differ:
        print(f"  {row['query']}: {row['embedded']} -> {row['deployment']}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
