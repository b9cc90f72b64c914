"""The `firstseen` command line: one module per command or group of commands (`items`, `search`,
`duplicates`, `serve`, `report`, `captures`, `vpdq`), the app that gathers them (`main`), and what
they share: the archive option (`context`), output lines (`lines`), the batch loop (`batch`), the
progress bar, the options and the tables people read (`tables`; the JSON contract is
`firstseen.matching.answers`)."""

from firstseen.cli.main import app, run

__all__ = ["app", "run"]
