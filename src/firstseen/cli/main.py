"""The `firstseen` app: every command, in the order `--help` lists them, and the entry point."""

import io
import sys

import typer

from firstseen.cli.bulk import export, import_archive
from firstseen.cli.captures import capture, captures, import_warc, show_capture
from firstseen.cli.cluster import cluster
from firstseen.cli.context import main
from firstseen.cli.duplicates import duplicates
from firstseen.cli.items import add, info, list_items, remove
from firstseen.cli.keyframes import keyframes_command
from firstseen.cli.lines import error
from firstseen.cli.report import report
from firstseen.cli.search import search
from firstseen.cli.serve import serve
from firstseen.cli.vpdq import hash_videos, import_vpdq_files
from firstseen.errors import FirstseenError

app = typer.Typer(
    help="The `firstseen` command line: archive media, search it, inspect it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.callback()(main)
app.command()(add)
app.command()(search)
app.command("list")(list_items)
app.command()(info)
app.command()(remove)
app.command()(duplicates)
app.command("keyframes")(keyframes_command)
app.command()(serve)
app.command()(report)
app.command()(capture)
app.command("import-warc")(import_warc)
app.command("show-capture")(show_capture)
app.command()(captures)
app.command("hash")(hash_videos)
app.command("import-vpdq")(import_vpdq_files)
app.command()(export)
app.command("import")(import_archive)
app.add_typer(cluster, name="cluster")


def run() -> None:
    """Entry point: unexpected errors still end with one line, not a traceback; text that cannot
    be encoded for the terminal (a name's undecodable bytes) is escaped rather than fatal."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        app()
    except FirstseenError as exc:
        error(str(exc))
        sys.exit(2)
