"""WARC files as a hostile archiver might write them: records without a target, absurd lengths,
runaway header lines, gzip bombs, cut-off files. Each bad record is refused with its offset and
the reason, the good ones are imported, the exit code says so, and no traceback reaches the user.
"""

import gzip
import hashlib
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from firstseen.archive.captures import CaptureStore
from firstseen.archive.ingest import Ingester
from firstseen.archive.store import Archive
from firstseen.cli import app
from firstseen.engine import open_descriptor
from firstseen.errors import FirstseenError
from firstseen.evidence.capture import import_warc
from firstseen.evidence.warc import scan

MiB = 1 << 20
PAGE = b"<html><head><title>Launch day</title></head><body><img src='/r.jpg'></body></html>"


def record(
    uri: bytes | None = b"https://news.example/launch",
    body: bytes = PAGE,
    content_type: bytes = b"text/html",
    length: bytes | None = None,
    extra: bytes = b"",
    kind: bytes = b"response",
) -> bytes:
    """One WARC response record, written by hand so that any header can be wrong."""
    block = b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\n\r\n" + body
    head = [b"WARC/1.1", b"WARC-Type: " + kind, b"WARC-Date: 2020-05-05T10:00:00Z"]
    if uri is not None:
        head.append(b"WARC-Target-URI: " + uri)
    head.append(b"Content-Type: application/http; msgtype=response")
    head.append(b"Content-Length: " + (length if length is not None else str(len(block)).encode()))
    return b"\r\n".join(head) + b"\r\n" + extra + b"\r\n" + block + b"\r\n\r\n"


def gz(*records: bytes) -> bytes:
    """A .warc.gz: one gzip member per record, as the standard asks."""
    return b"".join(gzip.compress(r, compresslevel=1) for r in records)


@pytest.fixture(scope="module")
def photo(demo_dir) -> bytes:
    return (demo_dir / "media" / "rocket.jpg").read_bytes()


def photo_record(photo: bytes) -> bytes:
    return record(b"https://news.example/r.jpg", photo, b"image/jpeg")


def offsets(found) -> list[int]:
    return [r.offset for r in found.refused]


def cli_import(tmp_path, *args) -> object:
    root = tmp_path / "archive"
    return CliRunner().invoke(app, ["--archive", str(root), "import-warc", *map(str, args)])


def test_record_without_target_uri_is_refused_and_the_rest_read(tmp_path, photo):
    bad = record(uri=None)
    for name, data, bad_offset in (
        ("plain.warc", bad + photo_record(photo), 0),
        ("member.warc.gz", gz(photo_record(photo), bad, record()), len(gz(photo_record(photo)))),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        found = scan(path)
        assert offsets(found) == [bad_offset], found.refused
        assert "WARC-Target-URI" in found.refused[0].reason
        assert "https://news.example/r.jpg" in {r.uri for r in found.responses}


def test_absurd_content_length_is_refused_and_the_rest_read(tmp_path, photo):
    absurd = record(length=b"99999999999999999999")
    path = tmp_path / "absurd.warc"
    path.write_bytes(photo_record(photo) + absurd + record(b"https://news.example/after"))
    found = scan(path)
    assert offsets(found) == [len(photo_record(photo))]
    assert "Content-Length" in found.refused[0].reason
    assert {r.uri for r in found.responses} >= {
        "https://news.example/r.jpg",
        "https://news.example/after",
    }
    packed = tmp_path / "absurd.warc.gz"
    packed.write_bytes(gz(absurd, record(b"https://news.example/after")))
    found = scan(packed)
    assert offsets(found) == [0] and [r.uri for r in found.responses] == [
        "https://news.example/after"
    ]


@pytest.mark.parametrize("length", [b"-5", b"12abc", b"\xc2\xb2", b""])
def test_unreadable_content_length_is_refused(tmp_path, length):
    path = tmp_path / "bad.warc.gz"
    path.write_bytes(gz(record(length=length), record(b"https://news.example/after")))
    found = scan(path)
    assert offsets(found) == [0] and "Content-Length" in found.refused[0].reason
    assert [r.uri for r in found.responses] == ["https://news.example/after"]


def test_runaway_header_line_is_refused_quickly(tmp_path, photo):
    long_line = b"X-Long: " + b"a" * (20 * MiB) + b"\r\n"
    path = tmp_path / "long.warc"
    path.write_bytes(photo_record(photo) + record(extra=long_line) + record(b"https://x.example/"))
    started = time.monotonic()
    found = scan(path)
    assert time.monotonic() - started < 10
    assert offsets(found) == [len(photo_record(photo))]
    assert "header line" in found.refused[0].reason
    assert [r.uri for r in found.responses] == ["https://news.example/r.jpg", "https://x.example/"]


def test_gzip_bomb_is_refused_within_the_total_budget(tmp_path):
    zeros = b"\0" * (40 * MiB)
    bomb = tmp_path / "bomb.warc.gz"
    bomb.write_bytes(
        gz(*(record(f"https://x.example/{n}.jpg".encode(), zeros, b"image/jpeg") for n in range(3)))
    )
    assert bomb.stat().st_size < 2 * MiB
    with pytest.raises(FirstseenError, match=r"more than the 64 MiB"):
        scan(bomb, budget=64 * MiB)
    result = cli_import(tmp_path, bomb, "--total-mb", "64", "--no-add")
    assert result.exit_code == 1 and "more than the 64 MiB" in result.output
    assert "Traceback" not in result.output
    assert CaptureStore(tmp_path / "archive").refs() == []


def test_lying_lengths_cannot_escape_the_budget(tmp_path):
    """Records that declare little but hold a lot (garbage between records) still count."""
    path = tmp_path / "padded.warc.gz"
    padding = gzip.compress(b"\r\n" * (30 * MiB), compresslevel=1)
    path.write_bytes(gz(record()) + padding + gz(record(b"https://x.example/")))
    with pytest.raises(FirstseenError, match=r"more than the 16 MiB"):
        scan(path, budget=16 * MiB)


def test_cut_off_warc_names_the_record_and_keeps_what_came_before(tmp_path, photo):
    whole = record() + photo_record(photo)
    path = tmp_path / "cut.warc"
    path.write_bytes(whole[: len(whole) - 2000])
    found = scan(path)
    assert offsets(found) == [len(record())] and "ends" in found.refused[0].reason
    assert [r.uri for r in found.responses] == ["https://news.example/launch"]
    packed = tmp_path / "cut.warc.gz"
    data = gz(record(), photo_record(photo))
    packed.write_bytes(data[: len(data) - 2000])
    found = scan(packed)
    assert offsets(found) == [len(gz(record()))]
    assert [r.uri for r in found.responses] == ["https://news.example/launch"]


def test_not_a_warc_and_whole_file_gzip_are_refused_whole(tmp_path):
    for name, data, message in (
        ("junk.warc", b"GET / HTTP/1.1\r\n\r\n" * 10, "not a WARC file"),
        ("empty.warc", b"", "no response records"),
        ("whole.warc.gz", gzip.compress(record() + record()), "one gzip member per record"),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(FirstseenError, match=message):
            scan(path)


def test_import_reports_each_refused_record_and_exits_non_zero(tmp_path, photo):
    path = tmp_path / "mixed.warc"
    path.write_bytes(record(uri=None) + record(length=b"99999999999999999999") + record())
    result = cli_import(tmp_path, path, "--no-add")
    assert result.exit_code == 1, result.output
    assert f"{path}: record at offset 0: " in result.output
    assert f"{path}: record at offset {len(record(uri=None))}: " in result.output
    assert "Traceback" not in result.output
    (ref,) = CaptureStore(tmp_path / "archive").refs()  # the good record was imported
    assert ref.warc.read_bytes() == path.read_bytes()


def test_import_adds_the_good_media_beside_a_bad_record(tmp_path, photo):
    path = tmp_path / "mixed.warc.gz"
    path.write_bytes(gz(record(), record(uri=None), photo_record(photo)))
    archive = Archive(tmp_path / "a")
    info = import_warc(path, archive, lambda: Ingester(archive, open_descriptor(archive)))
    assert [r["offset"] for r in info["refused"]] == [len(gz(record()))]
    (item,) = archive.catalog.items()
    assert item.first_seen.url == "https://news.example/launch"


def test_a_failed_image_prints_its_reason(tmp_path, photo):
    path = tmp_path / "cut-image.warc"
    path.write_bytes(record() + photo_record(photo[:3000]))
    result = cli_import(tmp_path, path)
    assert "https://news.example/r.jpg: failed (truncated image data)" in result.output
    assert "Traceback" not in result.output
    assert result.exit_code == 1  # the exit code says a medium failed


# --- property: any bytes built from records, mutated, are imported or refused clearly ---

_HEADER_LINES = st.sampled_from(
    [b"WARC-Target-URI: http://[bad", b"WARC-Type: revisit", b"Content-Length: -1",
     b"Content-Length: 18446744073709551616", b"WARC-Date: yesterday", b"X: \xff\xfe",
     b"Content-Type: application/vnd.firstseen.capture+json", b"WARC-Type: metadata",
     b"WARC-Truncated: length", b"WARC-Payload-Digest: sha1:XYZ", b" continued", b"no colon"]
)  # fmt: skip


@st.composite
def warc_bytes(draw) -> bytes:
    """A few records (page, image, metadata), each perhaps mutated, perhaps gzipped."""
    records = []
    for _ in range(draw(st.integers(1, 4))):
        body = draw(
            st.sampled_from([PAGE, b"<a href='http://[x/'>", b"{}", b"[1]", b"\x89PNG\r\n\x1a\n"])
        )
        raw = record(
            uri=draw(st.sampled_from([b"https://news.example/a", None, b"http://[::1/", b"x"])),
            body=body + draw(st.binary(max_size=64)),
            content_type=draw(st.sampled_from([b"text/html", b"image/png", b""])),
            length=draw(st.sampled_from([None, None, b"0", b"5", b"99999999999999999999"])),
            extra=b"".join(line + b"\r\n" for line in draw(st.lists(_HEADER_LINES, max_size=3))),
            kind=draw(st.sampled_from([b"response", b"resource", b"metadata", b"request"])),
        )
        if draw(st.booleans()):  # a few bytes flipped or cut anywhere
            at = draw(st.integers(0, len(raw) - 1))
            raw = raw[:at] + draw(st.binary(max_size=8)) + raw[at + draw(st.integers(0, 8)) :]
        records.append(raw)
    data = gz(*records) if draw(st.booleans()) else b"".join(records)
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=warc_bytes())
def test_any_warc_bytes_are_imported_or_refused_clearly(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.warc"
        path.write_bytes(data)
        archive = Archive(Path(folder) / "archive")
        try:
            info = import_warc(path, archive, budget=4 * MiB)
        except FirstseenError as exc:
            assert str(exc).startswith(str(path)), exc
            assert CaptureStore(archive.root).refs() == []
            return
        for refused in info["refused"]:
            assert isinstance(refused["offset"], int) and refused["reason"]
        assert info["warc_sha256"] == hashlib.sha256(data).hexdigest()


def test_hostile_page_text_cannot_rewrite_the_terminal(tmp_path):
    title = b"\x1b]8;;https://evil.example\x07Launch\x1b]8;;\x07 [bold]day\x1b[2J"
    path = tmp_path / "hostile.warc"
    path.write_bytes(record(body=PAGE.replace(b"Launch day", title)))
    result = cli_import(tmp_path, path, "--no-add")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    shown = r"title: \x1b]8;;https://evil.example\x07Launch\x1b]8;;\x07 [bold]day\x1b[2J"
    assert shown in result.output  # escapes shown as text, as everywhere else


def test_budget_counts_each_byte_once_and_show_capture_reads_it_back(tmp_path):
    """A gzip member decompressed ahead of reading is not counted again for its record."""
    path = tmp_path / "big.warc.gz"
    path.write_bytes(gz(record(), record(b"https://x.example/z.bin", b"\0" * (3 * MiB), b"")))
    assert cli_import(tmp_path, path, "--no-add", "--total-mb", "4").exit_code == 0
    (ref,) = CaptureStore(tmp_path / "archive").refs()
    shown = CliRunner().invoke(
        app, ["--archive", str(tmp_path / "archive"), "show-capture", ref.id, "--json"]
    )
    assert shown.exit_code == 0, shown.output
