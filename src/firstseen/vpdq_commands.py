"""The vPDQ commands of the CLI: `hash --vpdq` and `import-vpdq`, to exchange video hashes with
hash banks and partners in ThreatExchange's vPDQ text format.

Registered on the main Typer app by `register`, which is handed the CLI's own helpers (opening the
archive, printing an error, failing), so bad files are reported as `add` reports them: one line
each, the rest carry on, exit code 1.
"""

import os
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from firstseen import sighting_options
from firstseen.archive.hashfiles import import_vpdq
from firstseen.archive.ingest import add_named
from firstseen.archive.metadata import plan_sightings
from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError, user_reason
from firstseen.outputs.progress import progress_bar
from firstseen.signals.vpdq import format_vpdq, vpdq_hash

err = Console(stderr=True)


def _write(path: Path, text: str) -> None:
    """Writes whole or not at all (a temporary file renamed into place)."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=path.name, suffix=".tmp", delete=False, encoding="utf-8"
    ) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def register(
    app: typer.Typer,
    open_archive: Callable[[], Archive],
    fail: Callable[..., None],
    error: Callable[[str], None],
) -> None:
    @app.command("hash")
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
        if out_dir is None and len(files) > 1:
            fail("several videos need --out DIR")
        if out_dir is not None:
            by_name: dict[str, Path] = {}
            for file in files:
                if (other := by_name.setdefault(file.stem, file)) != file:
                    fail(f"{other} and {file} would both be written to {file.stem}.txt")
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                fail(f"{out_dir}: {user_reason(exc)}")
        size = (downsample, downsample) if downsample else None
        hashed = frames = failed = 0
        with progress_bar(err, len(files)) as progress:
            task = progress.add_task("hashing", total=len(files))
            for file in files:
                progress.update(task, description=f"hashing {file.name}")
                try:
                    features = vpdq_hash(file, seconds_per_hash, size)
                    if out_dir is None:
                        typer.echo(format_vpdq(features), nl=False)
                    else:
                        _write(out_dir / f"{file.stem}.txt", format_vpdq(features))
                    hashed += 1
                    frames += len(features)
                except (FirstseenError, OSError) as exc:
                    error(f"{file}: {user_reason(exc)}")
                    failed += 1
                progress.advance(task)
        if out_dir is not None:
            err.print(f"hashed {hashed} ({frames} frames) into {out_dir}, failed {failed}")
        if failed:
            raise typer.Exit(1)

    @app.command("import-vpdq")
    def import_vpdq_files(
        files: Annotated[list[Path] | None, typer.Argument(help="vPDQ hash files (.txt)")] = None,
        url: sighting_options.Url = None,
        title: sighting_options.Title = None,
        published: sighting_options.Published = None,
        meta: sighting_options.Meta = None,
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
        counts = {"added": 0, "duplicate": 0, "failed": 0}
        hashes = 0
        with progress_bar(err, len(named)) as progress:
            task = progress.add_task("importing", total=len(named))
            for file in named:
                progress.update(task, description=f"importing {file.name}")
                importer = partial(import_vpdq, archive)
                result = add_named(importer, archive.catalog, file, sighting_of)
                counts[result.status] += 1
                hashes += result.frames
                if result.status == "failed":
                    error(f"{file}: {result.reason}")
                progress.advance(task)
        archive.close()
        err.print(
            f"imported {counts['added']} ({hashes} frame hashes), skipped {counts['duplicate']}"
            f" already in the archive, failed {counts['failed']}"
        )
        if counts["failed"]:
            raise typer.Exit(1)
