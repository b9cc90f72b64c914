"""The capture commands: `capture` (preserve pages before they disappear), `import-warc`
(captures made by other archivers), `show-capture` and `captures`. Heavy libraries (trafilatura,
warcio) are imported only when a command needs them."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from firstseen.archive.ingest import Ingester
from firstseen.archive.store import Archive
from firstseen.cli.batch import exit_if
from firstseen.cli.context import open_archive
from firstseen.cli.lines import err, error, fail, out
from firstseen.cli.tables import captures_table
from firstseen.engine import open_descriptor
from firstseen.errors import FirstseenError
from firstseen.evidence.fetch import TOTAL_MB, WARC_HEADERS_MB
from firstseen.text import printable


def capture(
    urls: Annotated[list[str], typer.Argument(help="Pages (or media URLs) to capture")],
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private", help="Also fetch from loopback, private, link-local addresses"
        ),
    ] = False,
    allow_network: Annotated[
        list[str] | None,
        typer.Option(help="Allow this non-public network only (CIDR); repeatable"),
    ] = None,
    add: Annotated[
        bool, typer.Option(help="Add the captured media to the archive as sources")
    ] = True,
    players: Annotated[
        bool,
        typer.Option(help="Also keep the video a page plays through a player (HLS, DASH; yt-dlp)"),
    ] = True,
    max_media: Annotated[int, typer.Option(min=0, help="Images and videos per page")] = 40,
    max_mb: Annotated[float, typer.Option(min=0.001, help="Largest file fetched, MiB")] = 200,
    total_mb: Annotated[float, typer.Option(min=0.001, help="All files of a page, MiB")] = TOTAL_MB,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds of silence allowed")] = 20,
    max_seconds: Annotated[float, typer.Option(min=1, help="Whole capture, seconds")] = 600,
    redirects: Annotated[int, typer.Option(min=0, max=20, help="Redirects followed")] = 5,
) -> None:
    """Preserve pages before they disappear: page, media, every exchange in a WARC."""
    from firstseen.evidence.capture import capture as run_capture
    from firstseen.evidence.fetch import Limits, MiB
    from firstseen.evidence.netsafety import Policy

    try:
        policy = Policy.allowing(allow_network or (), allow_private)
    except FirstseenError as exc:
        fail(str(exc))
    limits = Limits(
        max_media=max_media,
        max_bytes=int(max_mb * MiB),
        max_total_bytes=int(total_mb * MiB),
        timeout=timeout,
        total_seconds=max_seconds,
        max_redirects=redirects,
    )
    archive = open_archive()
    make = _lazy_ingester(archive)

    _each(
        urls,
        lambda url: run_capture(
            url, archive, policy, limits, make if add else None, _log, players=players
        ),
        archive,
    )


def import_warc(
    files: Annotated[list[Path], typer.Argument(help="WARC files (.warc or .warc.gz)")],
    add: Annotated[bool, typer.Option(help="Add the media found to the archive as sources")] = True,
    total_mb: Annotated[
        float,
        typer.Option(
            min=0.001, help="Most a WARC may hold, decompressed (MiB; any default capture fits)"
        ),
    ] = TOTAL_MB + WARC_HEADERS_MB,
) -> None:
    """Import captures made by other archivers; their media become searchable sources."""
    from firstseen.evidence.capture import import_warc as run_import
    from firstseen.evidence.fetch import MiB

    archive = open_archive()
    make = _lazy_ingester(archive)
    budget = int(total_mb * MiB)

    _each(
        files,
        lambda file: run_import(file, archive, make if add else None, budget=budget),
        archive,
    )


def show_capture(
    capture_id: Annotated[str, typer.Argument(help="Capture id (or a unique prefix)")],
    serve: Annotated[bool, typer.Option(help="Replay it on a local HTTP port")] = False,
    host: Annotated[str, typer.Option(help="Address to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free)")] = 8765,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the page and media to this folder")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON")] = False,
) -> None:
    """Show a stored capture, check its digests, and replay it (serve or write out)."""
    from firstseen.evidence.replay import Replay

    archive = open_archive()
    try:
        replay = Replay(archive.captures, capture_id)
        problems = replay.verify()
    except FirstseenError as exc:
        fail(str(exc), 1)
    for problem in problems:
        error(problem)
    if as_json:
        typer.echo(json.dumps(replay.info | {"problems": problems}, indent=2))
    else:
        _summary(replay.info, detail=True)
        err.print("digests: " + ("all match" if not problems else f"{len(problems)} problems"))
    if out_dir is not None:
        try:
            written = replay.export(out_dir)
        except (FirstseenError, OSError) as exc:
            fail(str(exc), 1)
        err.print(f"wrote {len(written)} files and manifest.json to {out_dir}")
    if serve:
        server = replay.serve(host, port)
        address = f"http://{host}:{server.server_address[1]}"
        typer.echo(f"replaying capture {replay.id} at {address}{replay.main_path()}")
        typer.echo(f"all captured URLs: {address}/_capture   (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    if problems:
        raise typer.Exit(1)


def captures(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON")] = False,
) -> None:
    """List the stored captures."""
    archive = open_archive()
    rows = []
    for ref in archive.captures.refs():
        try:
            info = json.loads(ref.info.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        page = info.get("page") or {}
        rows.append(
            {
                "id": ref.id,
                "source": info.get("source"),
                "url": info.get("url"),
                "captured_at": info.get("captured_at"),
                "title": page.get("title"),
                "media": sum(r.get("kind") in ("image", "video") for r in info["resources"]),
                "warc": ref.warc.name,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    out.print(captures_table(rows))


def _each[S: (str, Path)](sources: list[S], run: Callable[[S], dict], archive: Archive) -> None:
    """Runs a capture or import per source: one line per failure (and per record of a WARC that
    could not be read), the rest carry on, and the exit code says whether any failed, a medium
    that could not be added included."""
    failed = 0
    for source in sources:
        try:
            info = run(source)
        except FirstseenError as exc:
            error(_named(str(source), exc))
            failed += 1
            continue
        _summary(info)
        for refused in info.get("refused", []):
            error(f"{source}: record at offset {refused['offset']}: {refused['reason']}")
        media_failed = any(r.get("added") == "failed" for r in info["resources"])
        failed += bool(info.get("refused")) or media_failed
    archive.close()
    exit_if(failed > 0)


def _lazy_ingester(archive: Archive) -> Callable[[], Ingester]:
    """An ingester made on first use: a capture that finds no media never loads the model."""
    made: list[Ingester] = []

    def make() -> Ingester:
        if not made:
            made.append(Ingester(archive, open_descriptor(archive)))
        return made[0]

    return make


def _named(name: str, exc: Exception) -> str:
    """The error, naming its input once."""
    message = str(exc)
    return message if message.startswith(name) else f"{name}: {message}"


def _log(message: str) -> None:
    err.print(message, highlight=False, soft_wrap=True)


def _shown(value: object) -> str:
    """A value from a page or WARC as printed among Rich markup: unsafe characters (terminal
    escapes, bidi overrides) as backslash escapes and the markup escaped, so a hostile page cannot
    rewrite the terminal."""
    return escape(printable(str(value)))


def _summary(info: dict, detail: bool = False) -> None:
    page = info.get("page") or {}
    media = [r for r in info["resources"] if r.get("kind") in ("image", "video")]
    out.print(f"capture [bold]{info['id']}[/] of {_shown(info.get('url'))}", highlight=False)
    for label, value in (
        ("title", page.get("title")),
        ("author", page.get("author")),
        ("published", page.get("published")),
        ("captured", info.get("captured_at")),
        ("warc", f"{info['warc']} ({info['warc_bytes']:,} bytes, SHA-256 {info['warc_sha256']})"),
    ):
        if value:
            out.print(f"  {label}: {_shown(value)}", highlight=False, soft_wrap=True)
    if detail and page.get("text"):
        text = " ".join(page["text"].split())
        shown = _shown(text[:400])
        out.print(f"  text: {shown}{'…' if len(text) > 400 else ''}", highlight=False)
    for note in [*page.get("notes", []), *info.get("notes", [])]:
        out.print(f"  [yellow]note[/] {_shown(note)}", highlight=False, soft_wrap=True)
    for r in media:
        added = r.get("added", "not added")
        item = f" item {r['item_id']}" if r.get("item_id") else ""
        reason = f" ({r['reason']})" if r.get("reason") else ""
        out.print(
            f"  {r['kind']} {_shown(r['url'])}: {added}{item}{_shown(reason)}",
            highlight=False,
            soft_wrap=True,
        )
    if detail:
        for r in info["resources"]:
            if r.get("kind") not in ("image", "video"):
                state = r.get("status") or "no response"
                out.print(
                    f"  {r['kind']} {_shown(r['url'])}: {state}, {r['bytes']:,} bytes",
                    highlight=False,
                )
    for e in info.get("errors", []):
        out.print(
            f"  [yellow]not captured[/] {_shown(e['url'])}: {_shown(e['error'])}", highlight=False
        )
