"""Reading a WARC's records without trusting them: each record's headers are checked before it is
read, a bad record is refused (its offset and the reason kept) and reading carries on after it, and
the whole file is refused once it has given more than a budget of decompressed bytes.

warcio still parses the records; this module wraps its reader so that header lines are capped in
length, every decompressed byte counts against the budget, gzip data that stops decompressing is an
error rather than a note on stderr, and a broken record is stepped over: by its Content-Length when
that is sound, else to the next gzip member of a .warc.gz (one record per member) or to the next
`WARC/1.x` line of a plain WARC.
"""

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders

from firstseen.errors import FirstseenError

MiB = 1 << 20
MAX_HEADER_LINE = 64 * 1024  # one header line: long URLs and cookies fit, a runaway line does not
MAX_HEADER_BYTES = MiB  # all the header lines of one record, WARC and HTTP together
_NEEDS_TARGET = {"response", "resource", "request", "revisit", "conversion", "continuation"}
_WARC_LINE = re.compile(rb"WARC/1\.[01]\r?\n")
_DIGITS = re.compile(r"[0-9]{1,20}")


class RecordError(FirstseenError):
    """One record cannot be read. `remaining` is how many bytes of it are still unread when its
    extent is known (reading goes on right after it), None when it is not."""

    def __init__(self, reason: str, remaining: int | None = None) -> None:
        super().__init__(reason)
        self.remaining = remaining


class NotWarc(FirstseenError):
    """The file's first record is not a WARC record."""


class OverBudget(FirstseenError):
    """The file holds more (decompressed) bytes than it may."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A record that was not read, where it starts in the file and why."""

    offset: int
    reason: str


def size(n: int) -> str:
    if n >= MiB:
        return f"{n / MiB:g} MiB"
    return f"{n / 1024:g} KiB" if n >= 1024 else f"{n} bytes"


class _Reader(DecompressingBufferedReader):
    """warcio's reader with header lines capped and decompressed bytes counted."""

    def __init__(self, stream: BinaryIO, budget: int | None) -> None:
        super().__init__(stream)
        self.budget = budget
        self.total = 0  # decompressed bytes given so far
        self.header_bytes = 0  # header-line bytes of the current record
        self.mid_line = False  # the last line read stopped short of its end

    @property
    def consumed(self) -> int:
        """Decompressed bytes read past (those given, less those still buffered)."""
        buffered = self.buff_size - self.buff.tell() if self.buff is not None else 0
        return self.total - buffered

    def _process_read(self, data: bytes) -> None:
        super()._process_read(data)
        if data and self.buff is not None:
            self.total += self.buff_size
            if self.budget is not None and self.total > self.budget:
                raise OverBudget(f"holds more than the {size(self.budget)} allowed")

    def _decompress(self, data: bytes) -> bytes:
        if self.decompressor is not None and data and self.num_block_read:
            try:
                return self.decompressor.decompress(data)
            except zlib.error as exc:
                raise RecordError(f"its gzip data is corrupt ({exc})") from None
        return super()._decompress(data)

    def _line(self, cap: int) -> bytes:
        """A line, or its first `cap` bytes (warcio's own readline miscounts a line that spans
        buffers)."""
        parts, got = [], 0
        while got < cap:
            self._fillbuff()
            if self.empty():
                break
            part = self.buff.readline(cap - got)
            parts.append(part)
            got += len(part)
            if part.endswith(b"\n"):
                break
        found = b"".join(parts)
        self.mid_line = bool(found) and not found.endswith(b"\n")
        return found

    def line(self) -> bytes:
        """A line of at most MAX_HEADER_LINE bytes (the start of a longer one), never an error."""
        return self._line(MAX_HEADER_LINE)

    def readline(self, length: int | None = None) -> bytes:
        """A header line (warcio reads headers only with readline), refused when too long."""
        if length == 0:
            return b""
        cap = MAX_HEADER_LINE + 1
        found = self._line(cap if length is None else min(length, cap))
        self.header_bytes += len(found)
        if len(found) > MAX_HEADER_LINE:
            raise RecordError(f"a header line is longer than {size(MAX_HEADER_LINE)}")
        if self.header_bytes > MAX_HEADER_BYTES:
            raise RecordError(f"its headers are longer than {size(MAX_HEADER_BYTES)}")
        return found


def _content_length(text: str | None, budget: int | None) -> int:
    if text is None:
        raise RecordError("it has no Content-Length")
    if not _DIGITS.fullmatch(text.strip()):
        raise RecordError(f"its Content-Length is not a number of bytes: {text.strip()[:40]!r}")
    length = int(text)
    if budget is not None and length > budget:
        raise RecordError(f"its Content-Length {length} is over the {size(budget)} allowed")
    return length


class _Loader(ArcWarcRecordLoader):
    """warcio's record loader that refuses records whose headers cannot be trusted."""

    def __init__(self) -> None:
        super().__init__(verify_http=False, arc2warc=False)

    def _detect_type_load_headers(
        self, stream: _Reader, statusline: bytes | None = None, known_format: str | None = None
    ) -> tuple[str, StatusAndHeaders]:
        try:
            _, headers = super()._detect_type_load_headers(stream, statusline, "warc")
        except ArchiveLoadFailed:
            raise NotWarc("does not begin with a WARC/1.0 or WARC/1.1 line") from None
        length = _content_length(headers.get_header("Content-Length"), stream.budget)
        kind = headers.get_header("WARC-Type")
        if not kind:
            raise RecordError("it has no WARC-Type", length)
        if kind in _NEEDS_TARGET and not headers.get_header("WARC-Target-URI"):
            raise RecordError(f"a {kind} record without WARC-Target-URI", length)
        if stream.budget is not None and stream.consumed + length > stream.budget:
            raise OverBudget(
                f"holds more than the {size(stream.budget)} allowed "
                f"(a record declares {size(length)})"
            )
        return "warc", headers

    def load_http_headers(self, rec_type, uri, stream: LimitReader, length):
        try:
            return super().load_http_headers(rec_type, uri, stream, length)
        except EOFError:
            raise RecordError("the file ends inside it") from None


class _Skipped:
    """Stands for a refused record whose extent is known, so warcio's bookkeeping skips it."""

    def __init__(self, reader: _Reader, remaining: int) -> None:
        self.raw_stream = LimitReader(reader, remaining)


class Records(ArchiveIterator):
    """The records of a WARC, each checked: yields warcio records, and `Refused` for each record
    that cannot be read. Raises NotWarc, OverBudget, or FirstseenError for a .warc.gz that is
    not one gzip member per record."""

    # ArchiveIterator's reading position, typed here as warcio is not: where the next record
    # begins, and the line read ahead of it.
    offset: int
    next_line: bytes | None

    def __init__(self, stream: BinaryIO, budget: int | None) -> None:
        super().__init__(stream)
        self.reader = _Reader(self.fh, budget)
        self.loader = _Loader()
        self.known_format = "warc"
        self.start = self.offset  # where the current record begins

    def _consume_blanklines(self) -> tuple[bytes | None, int]:
        """The blank lines after a record; the first other line begins the next record."""
        empty = 0
        while found := self.reader.line():
            if found.strip():
                return found, empty
            empty += len(found)
        return None, empty

    def _iterate_records(self) -> Iterator[ArcWarcRecord | Refused]:
        first = True
        one_member = False  # a .warc.gz whose last member held more than one record
        while True:
            self.start = self.offset
            self.reader.header_bytes = 0
            try:
                self.record = self._next_record(self.next_line)
            except EOFError:
                if self.reader.decompressor is not None and self.reader.read_next_member():
                    continue
                return
            except (NotWarc, RecordError) as exc:
                if first and isinstance(exc, NotWarc):
                    raise NotWarc(f"not a WARC file: it {exc}") from None
                first = False
                yield Refused(self.start, str(exc))
                if not self._step_over(getattr(exc, "remaining", None)):
                    return
                continue
            if one_member:
                raise FirstseenError(
                    "a .warc.gz must hold one gzip member per record (`warcio recompress` "
                    "rewrites it so)"
                )
            first = False
            yield self.record
            try:
                self.read_to_end()
            except RecordError as exc:
                yield Refused(self.start, f"{exc}; the rest of the file cannot be read")
                return
            if self.reader.decompressor is not None and not self.reader.read_next_member():
                one_member = True

    def _step_over(self, remaining: int | None) -> bool:
        """Moves to the record after a refused one: past its Content-Length when known, else to
        the next gzip member or `WARC/1.x` line. False when the file cannot be read further."""
        try:
            if remaining is not None:
                self.record, self.member_info = _Skipped(self.reader, remaining), None
                self.read_to_end()
            elif self.reader.decompressor is not None:
                while self.reader.read(1 << 16):
                    pass
                self.next_line = None
            else:
                self.next_line = self._next_warc_line()
        except RecordError:
            return False
        self.record, self.member_info = None, None
        self.offset = self.fh.tell() - self.reader.rem_length() - len(self.next_line or b"")
        if self.reader.decompressor is not None:
            self.reader.read_next_member()
        return True

    def _next_warc_line(self) -> bytes | None:
        """The next line of a plain WARC that begins a record."""
        at_start = not self.reader.mid_line
        while found := self.reader.line():
            if at_start and _WARC_LINE.fullmatch(found):
                return found
            at_start = found.endswith(b"\n")
        return None
