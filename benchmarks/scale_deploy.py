"""The scale benchmark's deployment: `firstseen cluster up` in the work folder (PostgreSQL and a
Milvus Lite server on 127.0.0.1), filled from the embedded archive by `firstseen export` and
`firstseen import` (the migration a user runs), what it stores per frame, and the queries whose
answers differ from the embedded archive's."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
from firstseen_cli import Firstseen
from metrics import Prediction, Result

from firstseen.deployment import read_deployment

SCORE_TOLERANCE = 1e-4  # the target: the same scores to within 1e-4
ROUNDING = 1e-9  # answers' scores are rounded to 1e-4, so a difference of exactly 1e-4 is equal
REGION_TOLERANCE = 1e-4  # regions are fractions of the reference; 1e-4 is under a pixel

TABLE_BYTES = """
    select c.relname, pg_total_relation_size(c.oid)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind = 'r'
"""


@contextmanager
def deployment(exe: Path, embedded: Path, work: Path) -> Iterator[tuple[Path, dict]]:
    """A deployment holding what `embedded` holds, and how it was moved: export and import
    seconds, and its storage. Its services are stopped at the end, whatever happened."""
    folder, cluster = work / "export", work / "cluster"
    location = cluster / "deployment.toml"
    shutil.rmtree(folder, ignore_errors=True)
    if cluster.exists():  # an earlier run's, perhaps still running: stopped, then made anew
        Firstseen(exe, location).run("cluster", "down", "--dir", str(cluster))
        shutil.rmtree(cluster)
    moved: dict = {"export": Firstseen(exe, embedded).timed("export", str(folder))}
    frames = json.loads((folder / "manifest.json").read_text())["counts"]
    up = Firstseen(exe, location).run("cluster", "up", "--no-ray", "--dir", str(cluster))
    try:
        if up.returncode != 0:
            sys.exit(f"firstseen cluster up failed ({up.returncode}): {up.stderr[-2000:]}")
        print(f"importing {frames['frames']} frames into the deployment ...", file=sys.stderr)
        moved["import"] = Firstseen(exe, location).timed("import", str(folder))
        moved["counts"] = frames
        moved["storage"] = storage(location, cluster)
        yield location, moved
    finally:
        down = Firstseen(exe, location).run("cluster", "down", "--dir", str(cluster))
        if down.returncode != 0:
            print(f"firstseen cluster down failed: {down.stderr[-2000:]}", file=sys.stderr)


def storage(location: Path, cluster: Path) -> dict:
    """Bytes per catalog table on PostgreSQL (indexes and TOAST included) and MB per service
    directory, for the capacity plan (docs/scale.md)."""
    with psycopg.connect(read_deployment(location).catalog_url) as db:
        tables: dict[str, int] = dict(db.execute(TABLE_BYTES).fetchall())
    folders = {d.name: _mb(d) for d in sorted(cluster.iterdir()) if d.is_dir()}
    return {"catalog_table_bytes": tables, "folder_mb": folders}


def _mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20


def disagreements(embedded: dict[str, Result], deployed: dict[str, Result]) -> list[dict]:
    """Queries answered differently on the two: another reference, verdict, time or region, or
    a score further apart than SCORE_TOLERANCE. `ties_only` marks those that differ only in the
    order of matches with equal scores, which the search does not define."""
    rows = []
    for q, a in embedded.items():
        b = deployed[q]
        if not _same(a.preds, b.preds, a.error, b.error):
            ties_only = _same(_by_score(a.preds), _by_score(b.preds), a.error, b.error)
            rows.append(
                {
                    "query": Path(q).name,
                    "ties_only": ties_only,
                    "embedded": _brief(a),
                    "deployment": _brief(b),
                }
            )
    return rows


def _by_score(preds: list[Prediction]) -> list[Prediction]:
    """Best first, equal scores by reference path."""
    return sorted(preds, key=lambda p: (-p.score, p.ref))


def _same(
    a: list[Prediction], b: list[Prediction], a_error: str | None, b_error: str | None
) -> bool:
    return a_error == b_error and len(a) == len(b) and all(map(_same_match, a, b))


def _same_match(a: Prediction, b: Prediction) -> bool:
    return (
        (a.ref, a.match, a.time) == (b.ref, b.match, b.time)
        and abs(a.score - b.score) <= SCORE_TOLERANCE + ROUNDING
        and _same_region(a.region, b.region)
    )


def _same_region(a: list[float] | None, b: list[float] | None) -> bool:
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and bool(np.allclose(a, b, rtol=0, atol=REGION_TOLERANCE))


def _brief(r: Result) -> str | list:
    """An answer in a line: each match's reference, score, verdict, time and region."""
    return r.error or [[Path(p.ref).name, p.score, p.match, p.time, p.region] for p in r.preds]
