"""The options that say where and when media was seen, shared by every command that archives
something (`add`, `import-vpdq`), so they read and check the same everywhere."""

from pathlib import Path
from typing import Annotated

import typer

Url = Annotated[str | None, typer.Option(help="Where it was seen")]
Title = Annotated[str | None, typer.Option(help="Its title there")]
Published = Annotated[str | None, typer.Option(help="Publication date, YYYY-MM-DD")]
Meta = Annotated[Path | None, typer.Option(help="CSV with columns path,url,title,published")]
