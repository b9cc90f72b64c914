"""The HTTP service and web UI (`firstseen serve`): search by upload, browse, add and remove."""

from firstseen.server.app import create_app
from firstseen.server.service import ServerSettings, Service

__all__ = ["ServerSettings", "Service", "create_app", "serve"]


def serve(service: Service, host: str, port: int, access_log: bool) -> None:
    """Serves the archive with its models loaded once, until interrupted.

    One process serves everything: its threads share the loaded models and the in-memory index,
    which a second worker process could not see change.
    """
    import uvicorn

    uvicorn.run(
        create_app(service),
        host=host,
        port=port,
        workers=1,
        access_log=access_log,
        server_header=False,
        log_level="info",
    )
