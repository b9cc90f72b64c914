"""The loop of every command that works through a batch of files (add, import-vpdq, hash,
search): the progress bar names the file being worked on, each file that fails gets one error
line naming it and the reason, the rest of the batch carries on, and the exit code says whether
any failed."""

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import typer
from rich.progress import Progress

from firstseen.archive.catalog_api import CatalogStore
from firstseen.archive.ingest import AddResult, add_named, also_seen, named_sightings
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
        return _counted(counts, add_named(add, catalog, file, sightings_of))

    run_batch(progress, files, verb, step)
    return counts


# Adds many files at once: yields (a request's place, its result) as each is settled.
AddMany = Callable[[Sequence[tuple[Path, Sighting]]], Iterator[tuple[int, AddResult]]]


def add_all(
    progress: Progress,
    files: Sequence[Path],
    verb: str,
    add_many: AddMany,
    catalog: CatalogStore,
    sightings_of: Callable[[Path], list[Sighting]],
) -> Counter[str]:
    """`add_each` for an ingester that works on many files at once (on a Ray cluster): each
    file gets its line and moves the bar as its result comes, in whatever order they come."""
    task = progress.add_task(verb, total=len(files))
    counts: Counter[str] = Counter()

    def settle(file: Path, result: AddResult) -> None:
        progress.update(task, description=f"{verb} {file.name}")
        if (reason := _counted(counts, result)) is not None:
            error(f"{file}: {reason}", progress.console)
        progress.advance(task)

    requests: list[tuple[Path, Sighting]] = []
    also: list[list[Sighting]] = []
    for file in files:
        sightings = named_sightings(file, sightings_of)
        if isinstance(sightings, AddResult):
            settle(file, sightings)
        else:
            requests.append((file, sightings[0]))
            also.append(sightings[1:])
    for index, result in add_many(requests):
        settle(requests[index][0], also_seen(catalog, result, also[index]))
    return counts


def _counted(counts: Counter[str], result: AddResult) -> str | None:
    """Counts a file's result for the summary line; the reason it failed, else None."""
    counts[result.status] += 1
    counts["frames"] += result.frames
    return str(result.reason) if result.status == "failed" else None


def exit_if(failed: bool) -> None:
    """Exit code 1 when any input of the batch failed (each has had its line)."""
    if failed:
        raise typer.Exit(1)
