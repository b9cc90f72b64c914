"""The FastAPI application: API, web UI, offline API docs, errors as JSON, closed by default."""

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firstseen import __version__
from firstseen.server.api import router
from firstseen.server.hosts import HostCheck, host_policy
from firstseen.server.service import Service
from firstseen.server.uploads import BodyLimit

STATIC = Path(__file__).parent / "static"
_DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
_UI_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")  # those a 405's Allow may name


def create_app(service: Service) -> FastAPI:
    """The application over a loaded service; the service is closed when the app shuts down."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        title="firstseen",
        version=__version__,
        description=(
            "Media provenance: upload an image or video, get the archived source it came from, "
            "the time in it, the region it shows, when it was first seen, and a match verdict."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.include_router(router)
    _errors(app)
    _pages(app)
    settings = service.settings
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization"],
        )
    app.add_middleware(Guard, allowed_origins=settings.cors_origins)
    app.add_middleware(BodyLimit, max_upload=settings.max_upload)
    # Outermost: a request for another host name is refused before anything else is done.
    app.add_middleware(HostCheck, policy=host_policy(settings.bind, settings.allowed_hosts))
    return app


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status, headers=headers)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 405 and (allowed := _allowed_methods(request)):
            headers = {"Allow": ", ".join(allowed)}
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=headers)
            return _error(405, f"{request.method} is not allowed here", headers)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"not found: {request.url.path}"
        return _error(exc.status_code, message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
            problems.append(f"{where}: {problem.get('msg', 'invalid')}")
        return _error(422, "invalid request: " + "; ".join(problems))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server's log (the exception is re-raised to the server).
        return _error(500, "internal error: the server's log has the details")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path takes (OPTIONS included): Starlette's own 405 names
    only the methods of the first route that matched the path. Mounted folders are not asked."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    allowed = {
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    }
    return sorted(allowed | {"OPTIONS"}) if allowed else []


def _pages(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=_DOCS_ASSETS), name="docs-assets")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="firstseen API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )


class Guard:
    """Refuses state-changing requests sent by pages of other origins (unless allowed), and adds
    protective headers: no MIME sniffing, no referrer, no framing, and for the web UI a content
    policy that allows nothing from outside this server."""

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = set(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if (
            scope["method"] in _UNSAFE_METHODS
            and origin is not None
            and origin not in self.allowed
            and urlsplit(origin).netloc != headers.get("host")
        ):
            await _error(403, "cross-origin request refused")(scope, receive, send)
            return
        path = scope["path"]

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = MutableHeaders(scope=message)
                extra["X-Content-Type-Options"] = "nosniff"
                extra["Referrer-Policy"] = "no-referrer"
                extra["X-Frame-Options"] = "DENY"
                if path == "/" or path.startswith("/static/"):
                    extra["Content-Security-Policy"] = _UI_POLICY
            await send(message)

        await self.app(scope, receive, send_guarded)
