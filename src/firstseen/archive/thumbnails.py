"""Small JPEG copies of every indexed frame, in a directory (the media store's default,
archive/media_api.py): verification reads them at query time, and reports show them, so an answer
never needs the original file (which may have moved or gone).

The thumbnails of an item being added are written to a staging folder of their own and moved into
place, in one rename, as the catalog commits the item; those of an item being removed are moved
out the same way. A writer that fails undoes its move; one that is killed leaves its staging
folder, which the next archive to open puts right: back in place if the catalog still has the
item, else deleted. So every thumbnail folder belongs to an item of the catalog.
"""

import fcntl
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from firstseen.archive.durable import sync_folder, write_new
from firstseen.archive.media_api import StagedThumbnails
from firstseen.media.frames import shrink

_STAGING = ".staging"  # staging folders of writers: `<sha256>.<random>/{lock,frames/}`
_LOCK = ".lock"  # held while thumbnails move in or out with a catalog change, and while sweeping


class Thumbnails:
    """Thumbnails stored as `<root>/<sha[:2]>/<sha>/<ordinal>.jpg`. `known(sha)` tells whether the
    catalog has an item of that content."""

    def __init__(self, root: Path, long_edge: int, known: Callable[[str], bool]) -> None:
        self.root = root
        self.long_edge = long_edge
        self._known = known

    def folder(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def path(self, sha256: str, ordinal: int) -> Path:
        return self.folder(sha256) / f"{ordinal}.jpg"

    def read(self, sha256: str, ordinal: int) -> np.ndarray | None:
        """The RGB thumbnail, or None if it is missing (a frame imported without one: read
        here, not by OpenCV, which would print a warning for each)."""
        data = self.read_jpeg(sha256, ordinal)
        if data is None:
            return None
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def has(self, sha256: str, ordinal: int) -> bool:
        return self.path(sha256, ordinal).is_file()

    def read_jpeg(self, sha256: str, ordinal: int) -> bytes | None:
        try:
            return self.path(sha256, ordinal).read_bytes()
        except FileNotFoundError:
            return None

    def stage(self, sha256: str) -> "Staged":
        """A staging folder for the thumbnails of an item about to be added."""
        with self._locked():  # a sweep never sees it half-made
            return Staged(self.root / _STAGING / f"{sha256}.{secrets.token_hex(4)}", sha256)

    @contextmanager
    def placing(self, staged: StagedThumbnails) -> Iterator[None]:
        """Moves the staged thumbnails into place while the body commits their item to the
        catalog; they go back out if it fails. Content the catalog already has keeps its own."""
        with self.placing_all([staged]):
            yield

    @contextmanager
    def placing_all(self, staged: Sequence[StagedThumbnails]) -> Iterator[None]:
        """`placing` for the items of one transaction (a bulk import): all move in under one
        hold of the lock, and all go back out if the body fails."""
        with self._locked():
            placed: list[tuple[Staged, Path]] = []
            try:
                for one in map(_own, staged):
                    target = self.folder(one.sha256)
                    if self._known(one.sha256):  # the body's insert finds it and says so
                        continue
                    if target.exists():  # left by a writer killed between placing and committing
                        shutil.rmtree(target)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    sync_folder(one.frames)
                    os.rename(one.frames, target)
                    placed.append((one, target))
                for parent in {target.parent for _, target in placed}:
                    sync_folder(parent)
                yield
            except BaseException:
                for one, target in reversed(placed):
                    os.rename(target, one.frames)
                    with suppress(OSError):  # the prefix folder, if it holds nothing else
                        target.parent.rmdir()
                raise

    @contextmanager
    def removing(self, sha256: str) -> Iterator[None]:
        """Moves an item's thumbnails out while the body removes it from the catalog, and
        deletes them once it has; they go back if it fails."""
        with self.stage(sha256) as tomb, self._locked():
            target = self.folder(sha256)
            moved = target.is_dir()
            if moved:
                shutil.rmtree(tomb.frames)
                os.rename(target, tomb.frames)
            try:
                yield
            except BaseException:
                if moved:
                    os.rename(tomb.frames, target)
                raise

    def sweep(self) -> None:
        """Puts right what killed writers left: thumbnails of a removal that never committed go
        back in place; any other staged or placed thumbnails the catalog does not know go."""
        staging = self.root / _STAGING
        if not staging.is_dir() or not any(staging.iterdir()):
            return
        with self._locked():
            for folder in staging.iterdir():
                with _claimed(folder / _LOCK) as dead:
                    if dead:
                        self._settle(folder)

    def _settle(self, folder: Path) -> None:
        sha256 = folder.name.split(".")[0]
        target, frames = self.folder(sha256), folder / "frames"
        if self._known(sha256):
            if not target.exists() and frames.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(frames, target)
        elif target.exists():
            shutil.rmtree(target)
        shutil.rmtree(folder)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / _LOCK).open("ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def _own(staged: StagedThumbnails) -> "Staged":
    """A staging handle is placed by the store that made it."""
    if not isinstance(staged, Staged):
        raise TypeError(f"thumbnails staged elsewhere: {type(staged).__name__}")
    return staged


class Staged:
    """One writer's staging folder: the thumbnails in `frames/`, and a lock held for as long as
    the writer has the folder, which tells a sweep that it is alive. Deleted on leaving the
    `with` block, whatever was moved out of it."""

    def __init__(self, folder: Path, sha256: str) -> None:
        self.sha256 = sha256
        self.folder = folder
        self.frames = folder / "frames"
        self.frames.mkdir(parents=True)
        self._lock = (folder / _LOCK).open("ab")
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    def write_jpeg(self, ordinal: int, data: bytes) -> None:
        """A thumbnail as encoded where its frame was decoded (`encode_thumbnail`), or an
        imported archive's."""
        write_new(self.frames / f"{ordinal}.jpg", data, "its thumbnails")

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self._lock.close()

    def __enter__(self) -> "Staged":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()


def encode_thumbnail(rgb: np.ndarray, long_edge: int) -> bytes:
    """A frame's thumbnail as JPEG bytes, made wherever the frame was decoded (a Ray worker
    too), so that only the small file travels to the writer."""
    small = shrink(rgb, long_edge)
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    if not ok:
        raise OSError("could not encode a thumbnail")
    return data.tobytes()


@contextmanager
def _claimed(lock: Path) -> Iterator[bool]:
    """True if no live writer holds `lock` (its writer was killed); held until the end."""
    try:
        stream = lock.open("ab")
    except OSError:  # killed before it made its lock: dead
        yield True
        return
    with stream:
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
