"""The progress bar of every long command (adding, hashing, searching many files), on stderr so
that what a command prints for other tools stays clean."""

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeElapsedColumn,
)
from rich.text import Text

from firstseen.text import printable


class _Description(ProgressColumn):
    """What is being done, as text: a description names files, whose names may hold markup
    (`[/]`), control characters or undecodable bytes."""

    def render(self, task: Task) -> Text:
        return Text(printable(task.description))


def progress_bar(console: Console, total: int | None = None) -> Progress:
    """What is being done, how far, and for how long; none for a batch of one or two (`total`),
    which is over before a bar would help."""
    return Progress(
        _Description(),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=total is not None and total < 3,
    )
