"""What the CLI prints besides its answers: the two consoles, error lines and plain lines.

Answers go to stdout (`out`), for people or for other tools; errors, summaries and progress go to
stderr (`err`), so that what a command prints for other tools stays clean.
"""

import typer
from rich.console import Console
from rich.text import Text

from firstseen.text import printable

out = Console()
err = Console(stderr=True)


def error(message: str, console: Console = err) -> None:
    """One unwrapped line per problem, so each bad file's line names it whole; the message is
    shown as text, never obeyed (no markup, control characters escaped)."""
    console.print(Text.assemble(("error:", "red"), " ", printable(message)), soft_wrap=True)


def say(message: str, console: Console = out) -> None:
    """A line that names a file or an item, printed as text whatever it holds."""
    console.print(Text(printable(message)), soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    """An error that ends the command: one line, then exit `code` (2: the command was misused)."""
    error(message)
    raise typer.Exit(code)
