"""What `--archive` names: an archive directory (the embedded default: SQLite, FAISS and the
media in one folder), or a `deployment.toml` naming the services an archive is spread over.

    [catalog]
    url = "postgresql://firstseen@db.example:5432/firstseen"   # libpq URL, no password
    [vectors]
    uri = "http://milvus.example:19530"                        # Milvus (or Milvus Lite's)
    [media]
    path = "/mnt/firstseen"              # thumbnails and captures: a mount every node reaches
    [ray]
    address = "head.example:6379"        # optional: where `add --ray` runs by default
    [settings]
    sample_fps = 1.0                     # optional: what an embedded archive's config.toml holds

Relative paths are read from the file's folder. Secrets come from the environment, never from
the file: PostgreSQL's password from `$PGPASSWORD` (or `~/.pgpass`, as libpq reads them), a
Milvus token from `$FIRSTSEEN_MILVUS_TOKEN`; a URL that carries a password is refused.
"""

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from firstseen.config import Settings, settings_from
from firstseen.errors import FirstseenError

MILVUS_TOKEN = "FIRSTSEEN_MILVUS_TOKEN"
_TABLES = {"catalog", "vectors", "media", "ray", "settings"}


@dataclass(frozen=True, slots=True)
class Deployment:
    """An archive spread over services: the catalog on PostgreSQL, vectors on Milvus, media in
    a directory every node can reach."""

    source: Path  # the deployment.toml
    catalog_url: str
    vectors_uri: str
    media: Path
    ray_address: str | None
    settings: Settings

    @property
    def vectors_token(self) -> str:
        return os.environ.get(MILVUS_TOKEN, "")


def is_deployment(location: Path) -> bool:
    """Whether `--archive` names a deployment file rather than an archive directory."""
    return location.suffix == ".toml" and not location.is_dir()


def read_deployment(path: Path) -> Deployment:
    """The deployment `path` describes; anything missing, unknown or secret is one clear error."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FirstseenError(f"{path}: {exc}") from exc
    unknown = sorted(set(raw) - _TABLES)
    if unknown:
        raise FirstseenError(f"{path}: unknown tables {', '.join(unknown)}")
    catalog_url = _text(raw, "catalog", "url", path)
    if urlsplit(catalog_url).scheme not in ("postgresql", "postgres"):
        raise FirstseenError(f"{path}: catalog.url must be a postgresql:// URL")
    if urlsplit(catalog_url).password is not None:
        raise FirstseenError(
            f"{path}: catalog.url carries a password: give it in $PGPASSWORD instead"
        )
    ray = raw.get("ray", {})
    return Deployment(
        source=path,
        catalog_url=catalog_url,
        vectors_uri=_local_path(_text(raw, "vectors", "uri", path), path.parent),
        media=path.parent / Path(_text(raw, "media", "path", path)).expanduser(),
        ray_address=str(ray["address"]) if isinstance(ray, dict) and "address" in ray else None,
        settings=settings_from(_table(raw, "settings", path), f"{path}: settings"),
    )


def ray_address(location: Path, given: str | None) -> str | None:
    """Where `add --ray` runs: `auto` on a deployment that names a Ray cluster joins that
    cluster; otherwise as given (`auto` joins or starts one on this machine)."""
    if given != "auto" or not is_deployment(location):
        return given
    return read_deployment(location).ray_address or given


def write_deployment(deployment: Deployment) -> None:
    """Writes the file a deployment is read from (`firstseen cluster up`)."""
    lines = [
        "# Written by `firstseen cluster up`: README.md (Deployments) says how to point it",
        "# at other services.",
        "[catalog]",
        f"url = {_quoted(deployment.catalog_url)}",
        "[vectors]",
        f"uri = {_quoted(deployment.vectors_uri)}",
        "[media]",
        f"path = {_quoted(str(deployment.media))}",
    ]
    if deployment.ray_address:
        lines += ["[ray]", f"address = {_quoted(deployment.ray_address)}"]
    deployment.source.write_text("\n".join(lines) + "\n")


def _quoted(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(text)


def _table(raw: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise FirstseenError(f"{path}: {name} must be a table")
    return table


def _text(raw: dict[str, Any], table: str, key: str, path: Path) -> str:
    value = _table(raw, table, path).get(key)
    if not isinstance(value, str) or not value:
        raise FirstseenError(f"{path}: {table}.{key} is missing")
    return value


def _local_path(uri: str, folder: Path) -> str:
    """A Milvus Lite file named relative to the deployment file, made absolute; a URL as is."""
    if "://" in uri or Path(uri).is_absolute():
        return uri
    return str(folder / uri)
