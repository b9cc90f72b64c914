"""Paths are checked before they are opened: only regular files are ever read.

Opening a FIFO waits for a writer that may never come, reading a device such as /dev/zero never
ends, and a symlink loop cannot be resolved: each is refused with a reason naming what it is, so
a batch can carry on with its other files.
"""

import errno
import hashlib
import stat
from pathlib import Path

from firstseen.errors import MediaError, user_reason

_NOT_REGULAR = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


def check_regular_file(path: Path) -> None:
    """Raise MediaError unless `path` is a regular file (symlinks followed), without opening it."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise MediaError("symlink loop: too many levels of symbolic links") from None
        raise MediaError(user_reason(error)) from None
    except ValueError as error:  # a NUL byte in the name, from a CSV or an API caller
        raise MediaError(f"not a usable path: {error}") from None
    if stat.S_ISREG(mode):
        return
    reason = next((why for test, why in _NOT_REGULAR if test(mode)), "not a regular file")
    raise MediaError(reason)


def sha256_of(path: Path) -> tuple[str, int]:
    """Content hash and size in bytes, read in chunks so large videos need little memory."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
