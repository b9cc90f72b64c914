"""Text that reaches a terminal or the catalog: escape what would act rather than show.

A file name may hold any bytes but "/" and NUL: bytes that are not UTF-8 come to Python as
surrogate escapes (which neither a UTF-8 terminal nor SQLite accepts), and control characters
(ESC starts colour and hyperlink sequences) would be obeyed by the terminal rather than shown.
Metadata (a URL, a title) comes from CSV files, pages and API clients, so it is cleaned before it
is stored; names and paths are escaped where they are printed.
"""

import json
import re
from pathlib import PurePath
from typing import Any

# Characters a terminal obeys or that reorder or break a line, besides the C0 controls: DEL and
# C1 controls, lone surrogates (undecodable bytes of a file name), line and paragraph separators,
# and the bidi embeddings, overrides and isolates of "Trojan Source".
_ACTING = "\x7f-\x9f\ud800-\udfff\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f{_ACTING}]")
_RAW_IN_JSON = re.compile(f"[{_ACTING}]")  # json.dumps escapes the C0 controls itself
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACING = re.compile("[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]")
# Surrogate escapes stand for the bytes 0x80-0xff that were not valid UTF-8 (PEP 383).
_ESCAPED_BYTES = range(0xDC80, 0xDD00)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` as it can be printed anywhere: each unsafe character as a backslash escape
    (`\\x1b`, `\\u202e`; an undecodable byte of a file name as `\\xff`)."""
    return _UNSAFE.sub(_escape, text)


def shown(path: PurePath | str) -> str:
    """A path as printed in lines, tables and JSON, whatever bytes its name holds."""
    return printable(str(path))


def storable_path(path: str) -> str:
    """A path as the catalog keeps it: as given, but for undecodable bytes, written `\\xff`."""
    return _SURROGATE.sub(_escape, path)


def stored(text: str | None) -> str | None:
    """Metadata as the catalog keeps it: whitespace controls (tab, newline) become spaces, other
    unsafe characters are dropped, undecodable bytes are kept as `\\xff` escapes; None when
    nothing is left."""
    if text is None:
        return None
    text = _SPACING.sub(" ", text)
    text = _UNSAFE.sub(lambda m: _escape(m) if ord(m.group()) in _ESCAPED_BYTES else "", text)
    return text.strip() or None


def json_text(data: Any, indent: int | None = None) -> str:
    """JSON for a terminal or a pipe: UTF-8 text left readable, and every unsafe character that
    JSON leaves raw (DEL, C1 controls, separators, bidi controls) written as a \\u escape."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
