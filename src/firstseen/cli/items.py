"""The archive's own commands: `add`, `list`, `info`, `remove`."""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.progress import Progress

from firstseen.archive.catalog_api import MIN_PREFIX
from firstseen.archive.ingest import Ingester, media_files
from firstseen.archive.metadata import plan_sightings
from firstseen.archive.records import Item
from firstseen.archive.store import Archive
from firstseen.cli.batch import AddMany, add_all, add_each, exit_if
from firstseen.cli.context import archive_root, open_archive, save_and_close
from firstseen.cli.lines import err, error, fail, out, say
from firstseen.cli.options import ListFormat, Meta, Published, RayAddress, Title, Url
from firstseen.cli.progress import progress_bar
from firstseen.cli.tables import items_table
from firstseen.deployment import ray_address
from firstseen.engine import open_descriptor
from firstseen.errors import FirstseenError, user_reason
from firstseen.matching.answers import item_json
from firstseen.signals import OnnxDescriptor
from firstseen.text import json_text, storable_path


def add(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (recursive)")] = None,
    url: Url = None,
    title: Title = None,
    published: Published = None,
    meta: Meta = None,
    ray: RayAddress = None,
) -> None:
    """Add photos and videos to the archive; content already there only gains a sighting."""
    try:
        named, sighting_of = plan_sightings(paths, url, title, published, meta)
    except FirstseenError as exc:
        fail(str(exc))
    if not named:
        fail("nothing to add: give files or folders, or --meta FILE.csv")
    archive = open_archive()
    files = list(media_files(named))
    descriptor = open_descriptor(archive)
    ingester = Ingester(archive, descriptor)
    # SIGTERM is handled like Ctrl-C: the current item is rolled back, the index is saved.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        address = ray_address(archive_root(), ray)
        with _on_ray(address, archive, descriptor) as add_many, progress_bar(err) as progress:
            catch_up_parts(ingester, progress)
            if add_many is None:
                counts = add_each(
                    progress, files, "adding", ingester.add, archive.catalog, sighting_of
                )
            else:
                counts = add_all(progress, files, "adding", add_many, archive.catalog, sighting_of)
    except KeyboardInterrupt:
        save_and_close(archive)
        err.print("interrupted: items added so far are kept; run the same command to resume")
        raise typer.Exit(130) from None
    except FirstseenError as exc:  # the Ray cluster cannot be reached, or failed
        save_and_close(archive)
        fail(f"{exc}; items added so far are kept", 1)
    saved = save_and_close(archive)
    err.print(
        f"added {counts['added']} ({counts['frames']} frames), skipped {counts['duplicate']}"
        f" already in the archive, failed {counts['failed']}"
    )
    exit_if(counts["failed"] > 0 or not saved)


@contextmanager
def _on_ray(
    address: str | None, archive: Archive, descriptor: OnnxDescriptor
) -> Iterator[AddMany | None]:
    """Adding on the Ray cluster at `address` for the body (None without one), with Ray's own
    output kept off the terminal and the command's lines on it."""
    if address is None:
        yield None
        return
    from firstseen.archive import ray_ingest  # Ray takes seconds to import: only when asked for

    with (
        ray_ingest.terminal_kept() as terminal,
        _printing_to(terminal),
        ray_ingest.connected(address),
    ):
        yield ray_ingest.RayIngester(archive, descriptor).add_many


@contextmanager
def _printing_to(stream: TextIO) -> Iterator[None]:
    """The error console (progress, error lines) printing to `stream` for the body."""
    previous, err.file = err.file, stream
    try:
        yield
    finally:
        err.file = previous


def catch_up_parts(ingester: Ingester, progress: Progress) -> None:
    """Describes the parts of photos archived without them (before parts existed, or with
    `photo_parts = false`), so that every photo can be found by a tight crop."""
    missing = ingester.photos_missing_parts()
    if not missing:
        return
    task = progress.add_task("describing parts of earlier photos", total=len(missing))
    described = 0
    for path, done in ingester.describe_parts(missing):
        described += done
        if not done:
            error(f"{path}: no original or thumbnail left to cut its parts from", progress.console)
        progress.advance(task)
    photos = "photo" if described == 1 else "photos"
    err.print(f"described the parts of {described} {photos} archived without them")


# Items `list` shows at once: a screenful or two, whatever the archive's size.
LIST_PAGE = 100


def list_items(
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Items shown, from --offset on")
    ] = LIST_PAGE,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Items skipped, by id")] = 0,
) -> None:
    """List the archive's items, a page at a time (by id)."""
    archive = open_archive()
    page = archive.catalog.page(limit=limit, offset=offset)
    items = page.items
    if format is ListFormat.json:
        typer.echo(json_text([item_json(i) for i in items], indent=2))
    else:
        out.print(items_table(items))
        if hashes_only := [str(i.id) for i in items if i.origin != "media"]:
            out.print(f"hashes only (imported vPDQ, no media): {', '.join(hashes_only)}")
    if offset + len(items) < page.total:
        shown = f"{offset + 1}–{offset + len(items)}" if items else "none"
        err.print(f"items {shown} of {page.total}; --offset {offset + limit} for more")


def info(
    item: Annotated[str, typer.Argument(help="Item id, SHA-256 prefix or path as added")],
) -> None:
    """Show one item and every sighting of it."""
    archive = open_archive()
    found = archive.catalog.find_items(storable_path(item))  # as a path is stored
    if not found:
        fail(_no_item(item), 1)
    for entry in found:
        data = item_json(entry)
        data["sightings"] = [asdict(s) for s in archive.catalog.sightings(entry.id)]
        typer.echo(json_text(data, indent=2))


def remove(
    items: Annotated[list[str], typer.Argument(help="Item ids, SHA-256 prefixes or paths")],
) -> None:
    """Remove items, their frames, thumbnails and sightings from the archive."""
    archive = open_archive()
    missing = 0
    for ref in items:
        found = archive.catalog.find_items(storable_path(ref))  # as a path is stored
        if len(found) != 1:
            error(_no_item(ref) if not found else _several_items(ref, found))
            missing += 1
            continue
        try:
            archive.remove(found[0])
        except (FirstseenError, OSError) as exc:
            error(f"{ref}: not removed: {user_reason(exc)}")
            missing += 1
            continue
        say(f"removed {found[0].id} {found[0].path}", err)
    exit_if(not save_and_close(archive) or missing > 0)


def _no_item(ref: str) -> str:
    return (
        f"{ref}: no such item (name one by its id, by {MIN_PREFIX} or more hex digits of its"
        " SHA-256, or by a path it was added from)"
    )


def _several_items(ref: str, found: list[Item]) -> str:
    ids = ", ".join(str(i.id) for i in found)
    return f"{ref}: names {len(found)} items ({ids}): remove them by id, one by one"
