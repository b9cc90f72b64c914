"""`export` and `import`: the whole archive as a folder in the exchange format (README,
"Exchange format"), for a backup, a migration, or the work of a fleet of GPU workers."""

import signal
from pathlib import Path
from typing import Annotated

import typer

from firstseen.archive.bulk_export import export_archive
from firstseen.archive.bulk_import import Importer
from firstseen.cli.batch import exit_if
from firstseen.cli.context import open_archive, save_and_close
from firstseen.cli.lines import err, error
from firstseen.cli.progress import progress_bar
from firstseen.errors import FirstseenError


def export(
    folder: Annotated[Path, typer.Argument(help="A new or empty folder to write")],
    no_thumbnails: Annotated[
        bool,
        typer.Option(
            "--no-thumbnails",
            help="Leave the frames' thumbnails out (searches of an archive"
            " imported from it then check by descriptor and PDQ only)",
        ),
    ] = False,
) -> None:
    """Export the archive: its items, sightings, frames (descriptors, PDQ hashes, thumbnails)
    and parts, as Parquet files and a manifest."""
    archive = open_archive()
    try:
        with progress_bar(err) as progress:
            task = progress.add_task("exporting frames", total=archive.catalog.counts().frames)
            manifest = export_archive(
                archive, folder, not no_thumbnails, lambda n: progress.advance(task, n)
            )
    except FirstseenError as exc:
        error(str(exc))
        archive.catalog.close()
        raise typer.Exit(1) from None
    archive.catalog.close()
    counts = manifest.counts
    err.print(
        f"exported {counts['items']} items ({counts['frames']} frames, {counts['parts']} parts)"
        f" to {folder}"
    )


def import_archive(
    folder: Annotated[Path, typer.Argument(help="A folder written by `firstseen export`")],
) -> None:
    """Import an exported archive; content already archived only gains its new sightings, and
    an import that was stopped resumes where it stopped."""
    archive = open_archive()
    # SIGTERM is handled like Ctrl-C: the current batch is rolled back, the rest is kept.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        importer = Importer(archive, folder)
        with progress_bar(err) as progress:
            task = progress.add_task("importing frames", total=importer.frames)
            counts = importer.run(lambda n: progress.advance(task, n))
        with err.status("indexing the imported vectors"):
            saved = archive.update_indexes()
    except FirstseenError as exc:
        error(str(exc))
        save_and_close(archive)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        save_and_close(archive)
        err.print("interrupted: batches imported so far are kept; run the same command to resume")
        raise typer.Exit(130) from None
    saved = save_and_close(archive) and saved
    err.print(
        f"imported {counts.added} items ({counts.frames} frames), {counts.known} already in the"
        f" archive, {counts.sightings} new sightings"
    )
    exit_if(not saved)
