"""`firstseen cluster up|down --dir DIR`: a deployment tried on one machine. PostgreSQL (Debian's
server, in DIR/postgres, on 127.0.0.1), a Milvus Lite server (DIR/milvus), a Ray head and a media
directory (DIR/media), described by DIR/deployment.toml for `--archive` to name."""

from pathlib import Path
from typing import Annotated

import typer

from firstseen.archive.milvus_server import start_local_milvus, stop_local_milvus
from firstseen.archive.pg_local import start_local_postgres, stop_local_postgres
from firstseen.archive.ray_local import start_local_ray, stop_local_ray
from firstseen.cli.lines import err, error, fail, say
from firstseen.config import Settings
from firstseen.deployment import Deployment, write_deployment
from firstseen.errors import FirstseenError

DEPLOYMENT = "deployment.toml"

cluster = typer.Typer(
    help="A deployment on this machine: PostgreSQL, Milvus Lite and Ray, for trying one out.",
    no_args_is_help=True,
)

DirOption = Annotated[Path, typer.Option("--dir", help="Where the services keep their data")]


@cluster.command()
def up(
    directory: DirOption,
    ray: Annotated[bool, typer.Option(help="Also start a Ray head for `add --ray`")] = True,
) -> None:
    """Starts the services (or finds them running) and writes DIR/deployment.toml."""
    directory = directory.resolve()
    try:
        postgres = start_local_postgres(directory / "postgres")
        say(f"PostgreSQL on {postgres.url}", err)
        vectors = start_local_milvus(directory / "milvus")
        say(f"Milvus Lite on {vectors}", err)
        address = start_local_ray(directory / "ray") if ray else None
        if address:
            say(f"Ray head on {address}", err)
        media = directory / "media"
        media.mkdir(exist_ok=True)
    except FirstseenError as exc:
        fail(str(exc), 1)
    deployment = Deployment(
        directory / DEPLOYMENT, postgres.url, vectors, media, address, Settings()
    )
    write_deployment(deployment)
    say(str(deployment.source))


@cluster.command()
def down(directory: DirOption) -> None:
    """Stops the services started in DIR; their data stays there for the next `up`."""
    directory = directory.resolve()
    stops = [
        lambda: stop_local_milvus(directory / "milvus"),
        lambda: stop_local_postgres(directory / "postgres"),
    ]
    if (directory / "ray").is_dir():
        stops.insert(0, lambda: stop_local_ray(directory / "ray"))
    failed = False
    for stop in stops:
        try:
            stop()
        except FirstseenError as exc:
            error(str(exc))
            failed = True
    if failed:
        raise typer.Exit(1)
