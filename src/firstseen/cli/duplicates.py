"""`duplicates`: archived videos that share footage."""

from typing import Annotated

import typer

from firstseen.cli.context import open_archive
from firstseen.cli.lines import err, out
from firstseen.cli.options import ListFormat
from firstseen.cli.tables import shared_table
from firstseen.engine import open_searcher
from firstseen.matching.answers import shared_json
from firstseen.matching.duplicates import find_shared_footage
from firstseen.text import json_text


def duplicates(
    all_pairs: Annotated[
        bool, typer.Option("--all", help="Also list compared pairs judged not to match")
    ] = False,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Find archived videos that share footage, with the stretches each pair shares."""
    archive = open_archive()
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
