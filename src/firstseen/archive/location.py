"""The archive `--archive` names: an archive directory (the embedded default), or a
`deployment.toml` (firstseen/deployment.py) whose catalog is on PostgreSQL, vectors on Milvus and
media in a directory every node reaches. Both open as the same `Archive`, so every command, the
server and the reports work alike on either."""

from pathlib import Path

from firstseen.archive.milvus_index import milvus_indexes
from firstseen.archive.pg_catalog import PgCatalog
from firstseen.archive.store import Archive
from firstseen.deployment import is_deployment, read_deployment


def open_location(location: Path) -> Archive:
    """The archive at `location`; anything that cannot be opened or reached is a
    FirstseenError of one line."""
    if not is_deployment(location):
        return Archive(location)
    deployment = read_deployment(location)
    catalog = PgCatalog(deployment.catalog_url)
    try:
        indexes = milvus_indexes(deployment.vectors_uri, deployment.vectors_token)
        return Archive(
            location,
            catalog=catalog,
            indexes=indexes,
            media=deployment.media,
            settings=deployment.settings,
        )
    except BaseException:
        catalog.close()
        raise
