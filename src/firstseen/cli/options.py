"""Options shared by several commands, so they read and check the same everywhere."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


# Where and when media was seen, for every command that archives something (`add`, `import-vpdq`).
Url = Annotated[str | None, typer.Option(help="Where it was seen")]
Title = Annotated[str | None, typer.Option(help="Its title there")]
Published = Annotated[str | None, typer.Option(help="Publication date, YYYY-MM-DD")]
Meta = Annotated[Path | None, typer.Option(help="CSV with columns path,url,title,published")]
# Where `add` decodes and describes: in this process, or on a Ray cluster.
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="auto|ADDRESS",
        help="Decode and describe on a Ray cluster: auto joins the one a deployment.toml names,"
        " else joins or starts one on this machine (127.0.0.1 only); ADDRESS (host:port or"
        " ray://host:port) joins that one",
    ),
]
