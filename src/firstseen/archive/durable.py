"""Writing the archive's files so that a full disk, a kill or a power cut never leaves one
half-written: the bytes go to a new file, every one is checked written, the file is synced to
the disk, and only then does it take its name (a rename, which is atomic). A write that fails
leaves the previous file as it was, removes what it wrote, and says why in one line.

numpy's `tofile` cannot be used for this: on a full disk it may lose a buffered tail without
raising. Here every write's count is checked, and the size on disk against the size meant.
"""

import errno
import os
import stat
import tempfile
from collections.abc import Buffer
from contextlib import suppress
from pathlib import Path

from firstseen.errors import FirstseenError

# Bytes handed to one write call: large enough to cost nothing, small enough that a big index
# is not copied whole into the kernel's buffers at once.
_CHUNK = 16 << 20
_MODE = 0o644  # of a new file: readable by all, as files written by `open` usually are


class SaveError(FirstseenError):
    """A file of the archive could not be written; nothing that was there before is lost."""

    def __init__(self, what: str, cause: OSError, outcome: str) -> None:
        reason = (cause.strerror or str(cause)).lower()
        super().__init__(f"{reason} while saving {what}; {outcome}")


def replace_file(path: Path, *parts: Buffer) -> None:
    """Gives `path` the contents `parts` (one after the other), all or nothing; raises
    SaveError."""
    existed = path.exists()
    tmp: str | None = None
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if existed else _MODE
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, mode)
        _write_synced(fd, *parts)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
        outcome = f"the previous {path.name} is kept" if existed else "nothing was written"
        raise SaveError(str(path), exc, outcome) from exc
    sync_folder(path.parent)


def write_new(path: Path, data: Buffer, what: str) -> None:
    """Writes a file that must not exist yet, inside a folder that will be put in place by a
    rename once complete (a staging folder); raises SaveError naming `what`, leaving no part of
    the file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _MODE)
    except OSError as exc:
        raise SaveError(what, exc, "nothing was written") from exc
    try:
        _write_synced(fd, data)
    except OSError as exc:
        with suppress(OSError):
            path.unlink()
        raise SaveError(what, exc, "nothing was written") from exc


def _write_synced(fd: int, *parts: Buffer) -> None:
    """Writes every byte to `fd`, syncs it to the disk and closes it; raises OSError if any of
    that fails or the file does not end up the size written."""
    meant = 0
    try:
        for part in parts:
            view = memoryview(part).cast("B")
            meant += len(view)
            done = 0
            while done < len(view):
                written = os.write(fd, view[done : done + _CHUNK])
                if not written:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += written
        os.fsync(fd)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size != meant:
        raise OSError(errno.EIO, f"{size} of {meant} bytes reached the disk")


def sync_folder(folder: Path) -> None:
    """Makes the names in `folder` (a rename into it) survive a power cut. Best effort: some
    file systems refuse to sync a folder, and the file itself is already whole on disk."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
