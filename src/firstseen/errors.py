"""Errors that name what went wrong with which input, so the CLI can print one line per bad file."""


class FirstseenError(Exception):
    """Base class for errors firstseen reports to the user instead of a traceback."""


class MediaError(FirstseenError):
    """A file that cannot be read as an image or video: corrupt, truncated, unsupported, huge."""
