"""The HTTP service and web UI (`firstseen serve`): search by upload, browse, add and remove."""

from pathlib import Path

from firstseen.archive.store import Archive
from firstseen.server.app import create_app
from firstseen.server.service import ServerSettings, Service

__all__ = ["ServerSettings", "Service", "create_app", "serve"]


def serve(root: Path, host: str, port: int, settings: ServerSettings, access_log: bool) -> None:
    """Loads the archive and its models once, then serves until interrupted.

    One process serves everything: its threads share the loaded models and the in-memory index,
    which a second worker process could not see change.
    """
    import uvicorn

    service = Service(Archive(root), settings)
    uvicorn.run(
        create_app(service),
        host=host,
        port=port,
        workers=1,
        access_log=access_log,
        server_header=False,
        log_level="info",
    )
