"""The `firstseen` command line: archive media, search it, inspect it."""

import io
import os
import signal
import sys
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.text import Text

from firstseen import __version__, sighting_options
from firstseen.archive.catalog import MIN_PREFIX, Item
from firstseen.archive.ingest import Ingester, add_named, media_files
from firstseen.archive.metadata import plan_sightings
from firstseen.archive.store import Archive
from firstseen.config import default_archive
from firstseen.engine import open_descriptor, open_searcher
from firstseen.errors import FirstseenError, user_reason
from firstseen.evidence.commands import register as register_evidence_commands
from firstseen.matching.answers import item_json, result_json, shared_json
from firstseen.matching.duplicates import find_shared_footage
from firstseen.media.budget import SEARCH_MAX_PIXELS, SEARCH_SECONDS
from firstseen.outputs.progress import progress_bar
from firstseen.outputs.render import items_table, results_table, shared_table
from firstseen.text import json_text, printable, shown, storable_path
from firstseen.vpdq_commands import register as register_vpdq_commands

app = typer.Typer(
    help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)
out = Console()
err = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


_state: dict[str, Path] = {}


def _version(value: bool) -> None:
    if value:
        out.print(f"firstseen {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    archive: Annotated[
        Path | None,
        typer.Option(
            help="Archive directory [default: $FIRSTSEEN_ARCHIVE, else ~/.local/share/firstseen]"
        ),
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """firstseen: find where an image or video came from, and when it was first seen."""
    _state["archive"] = archive or default_archive()


def _archive() -> Archive:
    try:
        return Archive(_state["archive"])
    except FirstseenError as exc:
        _fail(str(exc))
        raise


def _error(message: str, console: Console = err) -> None:
    """One unwrapped line per problem, so each bad file's line names it whole; the message is
    shown as text, never obeyed (no markup, control characters escaped)."""
    console.print(Text.assemble(("error:", "red"), " ", printable(message)), soft_wrap=True)


def _say(message: str, console: Console = out) -> None:
    """A line that names a file or an item, printed as text whatever it holds."""
    console.print(Text(printable(message)), soft_wrap=True)


def _fail(message: str, code: int = 2) -> None:
    _error(message)
    raise typer.Exit(code)


@app.command()
def add(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (recursive)")] = None,
    url: sighting_options.Url = None,
    title: sighting_options.Title = None,
    published: sighting_options.Published = None,
    meta: sighting_options.Meta = None,
) -> None:
    """Add photos and videos to the archive; content already there only gains a sighting."""
    try:
        named, sighting_of = plan_sightings(paths, url, title, published, meta)
    except FirstseenError as exc:
        _fail(str(exc))
    if not named:
        _fail("nothing to add: give files or folders, or --meta FILE.csv")
    archive = _archive()
    files = list(media_files(named))
    counts = {"added": 0, "duplicate": 0, "failed": 0}
    frames = 0
    ingester = Ingester(archive, open_descriptor(archive))
    # SIGTERM is handled like Ctrl-C: the current item is rolled back, the index is saved.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with progress_bar(err) as progress:
            _catch_up_parts(ingester, progress)
            task = progress.add_task("adding", total=len(files))
            for file in files:
                progress.update(task, description=f"adding {file.name}")
                result = add_named(ingester.add, archive.catalog, file, sighting_of)
                counts[result.status] += 1
                frames += result.frames
                if result.status == "failed":
                    _error(f"{file}: {result.reason}", progress.console)
                progress.advance(task)
    except KeyboardInterrupt:
        _close(archive)
        err.print("interrupted: items added so far are kept; run the same command to resume")
        raise typer.Exit(130) from None
    saved = _close(archive)
    err.print(
        f"added {counts['added']} ({frames} frames), skipped {counts['duplicate']} already in the"
        f" archive, failed {counts['failed']}"
    )
    if counts["failed"] or not saved:
        raise typer.Exit(1)


def _close(archive: Archive) -> bool:
    """Saves the indexes and closes the archive. A save that fails loses nothing (the catalog
    has every change, and the index catches up from it when next opened): one line, False."""
    try:
        archive.write_indexes()
    except FirstseenError as exc:
        _error(f"{exc} (every change is in the catalog; the index catches up from it next time)")
        return False
    finally:
        archive.catalog.close()
    return True


def _catch_up_parts(ingester: Ingester, progress: Progress) -> None:
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
            _error(f"{path}: no original or thumbnail left to cut its parts from", progress.console)
        progress.advance(task)
    photos = "photo" if described == 1 else "photos"
    err.print(f"described the parts of {described} {photos} archived without them")


@app.command()
def search(
    queries: Annotated[list[Path], typer.Argument(help="Images or videos to trace")],
    top: Annotated[int, typer.Option(min=1, max=100, help="Answers per query")] = 5,
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Find the sources of images or videos, with time, region and a match verdict."""
    archive = _archive()
    searcher = open_searcher(archive)
    failed = 0
    results = []
    with progress_bar(err, len(queries)) as progress:
        task = progress.add_task("searching", total=len(queries))
        for query in queries:
            result = searcher.search(query, top=top, name=shown(query))
            failed += result.error is not None
            if format is Format.jsonl:
                typer.echo(json_text(result_json(result)))
            elif format is Format.table:
                if result.error:
                    _error(f"{result.query}: {result.error}")
                elif result.matches:
                    out.print(results_table(result))
                elif archive.catalog.counts()[0]:
                    _say(f"{result.query}: nothing like it in the archive")
                else:
                    _say(f"{result.query}: no candidates (the archive is empty)")
            results.append(result)
            progress.advance(task)
    if format is Format.json:
        typer.echo(json_text([result_json(r) for r in results], indent=2))
    archive.catalog.close()
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_items(
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """List the archive's items."""
    archive = _archive()
    items = archive.catalog.items()
    if format is ListFormat.json:
        typer.echo(json_text([item_json(i) for i in items], indent=2))
    else:
        out.print(items_table(items))
        if hashes_only := [str(i.id) for i in items if i.origin != "media"]:
            out.print(f"hashes only (imported vPDQ, no media): {', '.join(hashes_only)}")


@app.command()
def info(
    item: Annotated[str, typer.Argument(help="Item id, SHA-256 prefix or path as added")],
) -> None:
    """Show one item and every sighting of it."""
    archive = _archive()
    found = archive.catalog.find_items(storable_path(item))  # as a path is stored
    if not found:
        _fail(_no_item(item), 1)
    for entry in found:
        data = item_json(entry)
        data["sightings"] = [asdict(s) for s in archive.catalog.sightings(entry.id)]
        typer.echo(json_text(data, indent=2))


@app.command()
def remove(
    items: Annotated[list[str], typer.Argument(help="Item ids, SHA-256 prefixes or paths")],
) -> None:
    """Remove items, their frames, thumbnails and sightings from the archive."""
    archive = _archive()
    missing = 0
    for ref in items:
        found = archive.catalog.find_items(storable_path(ref))  # as a path is stored
        if len(found) != 1:
            _error(_no_item(ref) if not found else _several_items(ref, found))
            missing += 1
            continue
        try:
            archive.remove(found[0])
        except (FirstseenError, OSError) as exc:
            _error(f"{ref}: not removed: {user_reason(exc)}")
            missing += 1
            continue
        _say(f"removed {found[0].id} {found[0].path}", err)
    if not _close(archive) or missing:
        raise typer.Exit(1)


def _no_item(ref: str) -> str:
    return (
        f"{ref}: no such item (name one by its id, by {MIN_PREFIX} or more hex digits of its"
        " SHA-256, or by a path it was added from)"
    )


def _several_items(ref: str, found: list[Item]) -> str:
    ids = ", ".join(str(i.id) for i in found)
    return f"{ref}: names {len(found)} items ({ids}): remove them by id, one by one"


@app.command()
def duplicates(
    all_pairs: Annotated[
        bool, typer.Option("--all", help="Also list compared pairs judged not to match")
    ] = False,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Find archived videos that share footage, with the stretches each pair shares."""
    archive = _archive()
    with err.status("comparing archived videos"):
        found = find_shared_footage(open_searcher(archive))
    if not all_pairs:
        found = [f for f in found if f.match]
    if format is ListFormat.json:
        typer.echo(json_text([shared_json(f) for f in found], indent=2))
    elif found:
        out.print(shared_table(found))
    else:
        out.print("no archived videos share footage")
    archive.catalog.close()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="Largest upload")] = 50.0,
    max_megapixels: Annotated[
        float,
        typer.Option(min=0.001, help="Largest picture (or GIF canvas) a search decodes"),
    ] = SEARCH_MAX_PIXELS / 1_000_000,
    search_seconds: Annotated[
        float, typer.Option(min=0.1, help="Longest a search may spend decoding a video")
    ] = SEARCH_SECONDS,
    search_workers: Annotated[
        int, typer.Option(min=0, help="Searches run at once (0: one per core, at most 4)")
    ] = 0,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Origin allowed to call the API (repeatable)")
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(help="Another name clients reach the server by (Host header; repeatable)"),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request")] = True,
) -> None:
    """Serve the web UI and HTTP API (writes need $FIRSTSEEN_TOKEN; without it, read-only)."""
    from firstseen.server import ServerSettings, Service
    from firstseen.server import serve as run_server

    token = os.environ.get("FIRSTSEEN_TOKEN") or None
    settings = ServerSettings(
        token=token,
        max_upload=int(max_upload_mb * 1024 * 1024),
        max_pixels=int(max_megapixels * 1_000_000),
        search_seconds=search_seconds,
        search_workers=search_workers,
        cors_origins=tuple(cors_origin or ()),
        bind=host,
        allowed_hosts=tuple(allow_host or ()),
    )
    mode = "token required for writes" if token else "read-only: set FIRSTSEEN_TOKEN for writes"
    service = Service(_archive(), settings)
    # A writable server catches up the parts of earlier photos, as `add` does, before serving.
    if service.writable:
        with progress_bar(err) as progress:
            _catch_up_parts(service.ingester, progress)
        service.archive.save()
    elif missing := len(service.ingester.photos_missing_parts()):
        photos = "1 photo has" if missing == 1 else f"{missing} photos have"
        err.print(f"{photos} no parts yet: `firstseen add` describes them")
    _say(f"starting on http://{host}:{port} for {_state['archive']} ({mode})", err)
    run_server(service, host, port, access_log)


# report, capture, import-warc, show-capture, captures (issue 5): src/firstseen/evidence/
register_evidence_commands(app, _archive, _fail, _error)
# hash --vpdq, import-vpdq: src/firstseen/vpdq_commands.py
register_vpdq_commands(app, _archive, _fail, _error)


def run() -> None:
    """Entry point: unexpected errors still end with one line, not a traceback; text that cannot
    be encoded for the terminal (a name's undecodable bytes) is escaped rather than fatal."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        app()
    except FirstseenError as exc:
        _error(str(exc))
        sys.exit(2)
