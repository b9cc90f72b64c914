"""Errors that name what went wrong with which input, so the CLI can print one line per bad file."""


class FirstseenError(Exception):
    """Base class for errors firstseen reports to the user instead of a traceback."""


class MediaError(FirstseenError):
    """A file that cannot be read as an image or video: corrupt, truncated, unsupported, huge."""


def internal_reason(exc: Exception) -> str:
    """The line for a failure firstseen did not foresee (a bug): named as one, so that it is
    reported rather than blamed on the file, while the rest of a batch carries on."""
    return f"internal error, please report it: {type(exc).__name__}: {exc}"


def user_reason(exc: Exception) -> str:
    """The one line a user sees for a failure: the OS's own words for an OSError (without the
    errno and path it repeats), else the error's message."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
