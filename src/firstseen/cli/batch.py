"""The loop of every command that works through a batch of files (add, import-vpdq, hash,
search): the progress bar names the file being worked on, each file that fails gets one error
line naming it and the reason, the rest of the batch carries on, and the exit code says whether
any failed."""

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import typer
from rich.progress import Progress

from firstseen.archive.catalog_api import CatalogStore
from firstseen.archive.ingest import AddResult, add_named
from firstseen.archive.records import Sighting
from firstseen.cli.lines import error

# One file's work: None when it went well, else the reason it failed.
Step = Callable[[Path], str | None]


def run_batch(
    progress: Progress, files: Sequence[Path], verb: str, step: Step, *, named: bool = True
) -> int:
    """Runs `step` on each file in turn under `progress` (`verb` and, when `named`, the file's
    name as its description); returns how many failed."""
    task = progress.add_task(verb, total=len(files))
    failed = 0
    for file in files:
        if named:
            progress.update(task, description=f"{verb} {file.name}")
        if (reason := step(file)) is not None:
            error(f"{file}: {reason}", progress.console)
            failed += 1
        progress.advance(task)
    return failed


def add_each(
    progress: Progress,
    files: Sequence[Path],
    verb: str,
    add: Callable[[Path, Sighting], AddResult],
    catalog: CatalogStore,
    sightings_of: Callable[[Path], list[Sighting]],
) -> Counter[str]:
    """Adds (or imports) each file with `add`, with the sightings the user gave for it; counts
    each status (`added`, `duplicate`, `failed`) and the `frames` added, for the summary line."""
    counts: Counter[str] = Counter()

    def step(file: Path) -> str | None:
        result = add_named(add, catalog, file, sightings_of)
        counts[result.status] += 1
        counts["frames"] += result.frames
        return str(result.reason) if result.status == "failed" else None

    run_batch(progress, files, verb, step)
    return counts


def exit_if(failed: bool) -> None:
    """Exit code 1 when any input of the batch failed (each has had its line)."""
    if failed:
        raise typer.Exit(1)
