"""`search`: find the sources of images or videos."""

from pathlib import Path
from typing import Annotated

import typer

from firstseen.archive.catalog_api import CatalogReader
from firstseen.cli.batch import exit_if, run_batch
from firstseen.cli.context import open_archive
from firstseen.cli.lines import err, out, say
from firstseen.cli.options import Format
from firstseen.cli.progress import progress_bar
from firstseen.cli.tables import provenance_line, results_table
from firstseen.engine import open_searcher
from firstseen.evidence.credentials import with_summaries
from firstseen.matching.answers import result_json
from firstseen.matching.results import QueryResult
from firstseen.text import json_text, shown


def search(
    queries: Annotated[list[Path], typer.Argument(help="Images or videos to trace")],
    top: Annotated[int, typer.Option(min=1, max=100, help="Answers per query")] = 5,
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    budget: Annotated[
        float | None,
        typer.Option(
            "--fallback-budget",
            min=0,
            help="Pictures a still's fallbacks (mirror image, tonings, parts, insets) may"
            " describe: fewer is faster where nothing is confirmed, and may miss heavily edited"
            " copies (default: the archive's fallback_budget, else no limit)",
        ),
    ] = None,
) -> None:
    """Find the sources of images or videos, with time, region and a match verdict."""
    archive = open_archive()
    searcher = open_searcher(archive, budget=budget)
    results: list[QueryResult] = []

    def step(query: Path) -> str | None:
        """Searches one query and prints its answer as it comes (a table, or a JSON line); a
        failed query has its error line in a table, its `error` field in JSON."""
        result = searcher.search(query, top=top, name=shown(query))
        results.append(result)
        if format is Format.jsonl:
            typer.echo(json_text(with_summaries(result_json(result))))
        elif format is Format.table and not result.error:
            _print_table(result, archive.catalog)
        return result.error if format is Format.table else None

    with progress_bar(err, len(queries)) as progress:
        run_batch(progress, queries, "searching", step, named=False)
    if format is Format.json:
        typer.echo(json_text([with_summaries(result_json(r)) for r in results], indent=2))
    archive.catalog.close()
    exit_if(any(r.error is not None for r in results))


def _print_table(result: QueryResult, catalog: CatalogReader) -> None:
    if (line := provenance_line(result)) is not None:
        out.print(line)
    if result.matches:
        out.print(results_table(result))
    elif not catalog.counts().items:
        say(f"{result.query}: no candidates (the archive is empty)")
        return
    else:
        say(f"{result.query}: nothing like it in the archive")
    if result.budget_reached:
        say(f"{result.query}: the fallback budget ended the search before every fallback was tried")
