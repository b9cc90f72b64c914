"""Uploaded files: size limits, storage in private temporary files, kind decided by content.

An upload's name is only ever a label: it never becomes part of a path on the server. The bytes go
to a temporary file with a random name, are judged by their content (`probe`), and are deleted
when the request is done.
"""

import contextlib
import shutil
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, UploadFile
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firstseen.errors import MediaError
from firstseen.media import probe

# Room for the multipart framing and the text fields next to the file itself.
_FORM_OVERHEAD = 256 * 1024


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"upload too large: the limit is {limit / 1024 / 1024:g} MB")


class BodyLimit:
    """Refuses request bodies over the limit with 413: at once when Content-Length says so,
    else as soon as the streamed body passes it (chunked uploads), before it is all read."""

    def __init__(self, app: ASGIApp, max_upload: int) -> None:
        self.app = app
        self.max_upload = max_upload
        self.limit = max_upload + _FORM_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            error = too_large(self.max_upload)
            if length.isdigit():
                response = JSONResponse({"error": error.detail, "status": 413}, 413)
            else:
                response = JSONResponse({"error": "bad Content-Length", "status": 400}, 400)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(self.max_upload)
            return message

        await self.app(scope, limited, send)


def label(filename: str | None, fallback: str = "upload") -> str:
    """A display name from an uploaded file's name: its last component, printable, short."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:200] if name.strip(".") else fallback


@contextlib.asynccontextmanager
async def saved(upload: UploadFile, max_upload: int) -> AsyncIterator[tuple[Path, str]]:
    """The upload copied to a private temporary file: yields (path, kind). Raises 413 when too
    large, 415 when the content is no image or video, 422 when it is empty."""
    folder = Path(tempfile.mkdtemp(prefix="firstseen-upload-"))
    try:
        path = folder / "upload"
        size = await run_in_threadpool(_copy, upload, path)
        if size > max_upload:
            raise too_large(max_upload)
        if size == 0:
            raise HTTPException(422, "empty file")
        try:
            kind = await run_in_threadpool(probe, path)
        except MediaError as exc:
            raise HTTPException(415, f"unsupported file: {exc}") from None
        yield path, kind
    finally:
        await upload.close()
        shutil.rmtree(folder, ignore_errors=True)


def _copy(upload: UploadFile, path: Path) -> int:
    upload.file.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)
        return out.tell()
