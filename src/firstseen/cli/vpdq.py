"""`hash --vpdq` and `import-vpdq`: exchange video hashes with hash banks and partners in
ThreatExchange's vPDQ text format."""

import os
import tempfile
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from firstseen.archive.hashfiles import import_vpdq
from firstseen.archive.metadata import plan_sightings
from firstseen.cli.batch import add_each, exit_if, run_batch
from firstseen.cli.context import open_archive
from firstseen.cli.lines import err, fail
from firstseen.cli.options import Meta, Published, Title, Url
from firstseen.cli.progress import progress_bar
from firstseen.errors import FirstseenError, user_reason
from firstseen.signals.vpdq import format_vpdq, vpdq_hash


def hash_videos(
    files: Annotated[list[Path], typer.Argument(help="Videos to hash")],
    vpdq: Annotated[
        bool, typer.Option("--vpdq", help="ThreatExchange's vPDQ, one PDQ hash per frame")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write DIR/<name>.txt per video [default: stdout]"),
    ] = None,
    seconds_per_hash: Annotated[
        float, typer.Option(min=0, help="One hash per this many seconds; 0: every frame")
    ] = 0.0,
    downsample: Annotated[
        int, typer.Option(min=0, help="Scale frames to NxN before hashing; 0: as coded")
    ] = 0,
) -> None:
    """Hash videos in ThreatExchange's vPDQ format (frame_number,quality,pdq_hex,seconds)."""
    if not vpdq:
        fail("choose the hash to compute: --vpdq")
    _check_out_dir(files, out_dir)
    size = (downsample, downsample) if downsample else None
    frames = 0

    def step(file: Path) -> str | None:
        nonlocal frames
        try:
            features = vpdq_hash(file, seconds_per_hash, size)
            if out_dir is None:
                typer.echo(format_vpdq(features), nl=False)
            else:
                _write(out_dir / f"{file.stem}.txt", format_vpdq(features))
        except (FirstseenError, OSError) as exc:
            return user_reason(exc)
        frames += len(features)
        return None

    with progress_bar(err, len(files)) as progress:
        failed = run_batch(progress, files, "hashing", step)
    if out_dir is not None:
        hashed = len(files) - failed
        err.print(f"hashed {hashed} ({frames} frames) into {out_dir}, failed {failed}")
    exit_if(failed > 0)


def _check_out_dir(files: list[Path], out_dir: Path | None) -> None:
    """Several videos need a folder, where no two of them may write the same file."""
    if out_dir is None:
        if len(files) > 1:
            fail("several videos need --out DIR")
        return
    by_name: dict[str, Path] = {}
    for file in files:
        if (other := by_name.setdefault(file.stem, file)) != file:
            fail(f"{other} and {file} would both be written to {file.stem}.txt")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{out_dir}: {user_reason(exc)}")


def _write(path: Path, text: str) -> None:
    """Writes whole or not at all (a temporary file renamed into place)."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=path.name, suffix=".tmp", delete=False, encoding="utf-8"
    ) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def import_vpdq_files(
    files: Annotated[list[Path] | None, typer.Argument(help="vPDQ hash files (.txt)")] = None,
    url: Url = None,
    title: Title = None,
    published: Published = None,
    meta: Meta = None,
) -> None:
    """Import partners' vPDQ hash files as hash-only videos; a file already imported only
    gains a sighting."""
    try:
        named, sighting_of = plan_sightings(files, url, title, published, meta)
    except FirstseenError as exc:
        fail(str(exc))
    if not named:
        fail("nothing to import: give vPDQ files, or --meta FILE.csv")
    archive = open_archive()
    importer = partial(import_vpdq, archive)
    with progress_bar(err, len(named)) as progress:
        counts = add_each(progress, named, "importing", importer, archive.catalog, sighting_of)
    archive.close()
    err.print(
        f"imported {counts['added']} ({counts['frames']} frame hashes), skipped"
        f" {counts['duplicate']} already in the archive, failed {counts['failed']}"
    )
    exit_if(counts["failed"] > 0)
