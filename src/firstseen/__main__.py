"""`python -m firstseen` runs the CLI."""

from firstseen.cli import run

run()
