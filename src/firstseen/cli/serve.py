"""`serve`: the web UI and the HTTP API."""

import os
from typing import Annotated

import typer

from firstseen.cli.context import archive_root, open_archive
from firstseen.cli.items import catch_up_parts
from firstseen.cli.lines import err, say
from firstseen.cli.progress import progress_bar
from firstseen.media.budget import SEARCH_MAX_PIXELS, SEARCH_SECONDS


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
    service = Service(open_archive(), settings)
    # A writable server catches up the parts of earlier photos, as `add` does, before serving.
    if service.writable:
        with progress_bar(err) as progress:
            catch_up_parts(service.ingester, progress)
        service.archive.save()
    elif missing := len(service.ingester.photos_missing_parts()):
        photos = "1 photo has" if missing == 1 else f"{missing} photos have"
        err.print(f"{photos} no parts yet: `firstseen add` describes them")
    say(f"starting on http://{host}:{port} for {archive_root()} ({mode})", err)
    run_server(service, host, port, access_log)
