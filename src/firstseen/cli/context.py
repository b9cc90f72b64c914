"""The options every command shares (`--archive`, `--version`), and the archive they name:
opened when a command needs it, saved and closed when it is done."""

from pathlib import Path
from typing import Annotated

import typer

from firstseen import __version__
from firstseen.archive.location import open_location
from firstseen.archive.store import Archive
from firstseen.cli.lines import error, fail, out
from firstseen.config import default_archive
from firstseen.errors import FirstseenError

_state: dict[str, Path] = {}


def _version(value: bool) -> None:
    if value:
        out.print(f"firstseen {__version__}")
        raise typer.Exit()


def main(
    archive: Annotated[
        Path | None,
        typer.Option(
            help="Archive directory, or a deployment.toml "
            "[default: $FIRSTSEEN_ARCHIVE, else ~/.local/share/firstseen]"
        ),
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """firstseen: find where an image or video came from, and when it was first seen."""
    _state["archive"] = archive or default_archive()


def archive_root() -> Path:
    """The archive this run works on: a directory, or a deployment file."""
    return _state["archive"]


def open_archive() -> Archive:
    """The archive this run works on; one that cannot be opened ends the command in one line."""
    try:
        return open_location(archive_root())
    except FirstseenError as exc:
        fail(str(exc))
        raise


def save_and_close(archive: Archive) -> bool:
    """Saves the indexes and closes the archive. A save that fails loses nothing (the catalog
    has every change, and the index catches up from it when next opened): one line, False."""
    try:
        archive.write_indexes()
    except FirstseenError as exc:
        error(f"{exc} (every change is in the catalog; the index catches up from it next time)")
        return False
    finally:
        archive.catalog.close()
    return True
