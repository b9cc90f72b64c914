"""Where-and-when metadata from CSV files: every row is a sighting, and any file, whatever its
cells or encoding, is either read or refused with one line naming it."""

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from firstseen.archive.metadata import plan_sightings, read_meta_csv
from firstseen.archive.records import Sighting
from firstseen.cli import app
from firstseen.errors import FirstseenError

# Bounded so that `make test` stays quick: enough examples to find the odd cell, a deadline
# loose enough for a busy machine.
FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=2),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    path.write_bytes(text.getvalue().encode(encoding, "replace"))
    return path


def test_a_file_listed_on_several_rows_gains_a_sighting_per_row(tmp_path, demo_dir):
    coffee = tmp_path / "coffee.png"
    coffee.write_bytes((demo_dir / "media" / "coffee.png").read_bytes())
    meta = write_csv(
        tmp_path / "meta.csv",
        [
            ["path", "url", "title", "published"],
            ["coffee.png", "https://a.example/1", "Later", "2019-01-01"],
            ["coffee.png", "https://b.example/2", "Earlier", "2015-06-01"],
            ["./coffee.png", "https://b.example/2", "Earlier", "2015-06-01"],  # the same again
        ],
    )
    rows = read_meta_csv(meta)
    assert [(file.name, row["published"]) for file, row in rows] == [
        ("coffee.png", "2019-01-01"),
        ("coffee.png", "2015-06-01"),
        ("coffee.png", "2015-06-01"),
    ]
    named, sightings_of = plan_sightings(None, None, None, None, meta)
    assert named == [coffee]
    assert sightings_of(coffee) == [
        Sighting(str(coffee), "https://a.example/1", "Later", "2019-01-01"),
        Sighting(str(coffee), "https://b.example/2", "Earlier", "2015-06-01"),
    ]

    runner = CliRunner()
    archive = str(tmp_path / "archive")
    added = runner.invoke(app, ["--archive", archive, "add", "--meta", str(meta)])
    assert added.exit_code == 0, added.output
    info = json.loads(runner.invoke(app, ["--archive", archive, "info", str(coffee)]).stdout)
    assert [s["published"] for s in info["sightings"]] == ["2015-06-01", "2019-01-01"]


def test_a_nul_in_a_path_is_refused_with_the_line(tmp_path):
    meta = write_csv(tmp_path / "meta.csv", [["path"], ["ok.jpg"], ["bad\0.jpg"]])
    with pytest.raises(FirstseenError, match=r"meta.csv:3: a path cannot hold a NUL"):
        read_meta_csv(meta)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("csv")


_COLUMNS = ["path", "url", "title", "published", "other", ""]
_cells = st.text(st.characters(codec="utf-8"), max_size=12)
_tables = st.tuples(
    st.lists(st.sampled_from(_COLUMNS) | _cells, min_size=1, max_size=5),
    st.lists(st.lists(_cells | st.sampled_from(["2019-07-30", "2019", "x.jpg"]), max_size=6)),
)


def _plan(meta: Path) -> list[Sighting]:
    """Every sighting the CSV gives, as `add --meta` makes them."""
    named, sightings_of = plan_sightings(None, None, None, None, meta)
    return [s for file in named for s in sightings_of(file)]


@FUZZ
@given(
    table=_tables,
    repeat=st.integers(1, 3),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]),
)
def test_any_table_in_any_encoding_is_read_or_refused_in_one_line(folder, table, repeat, encoding):
    header, rows = table
    meta = write_csv(folder / "any.csv", [header, *rows * repeat], encoding)
    try:
        _plan(meta)
    except FirstseenError as exc:
        assert str(meta) in str(exc) and "\n" not in str(exc)


@FUZZ
@given(data=st.binary(max_size=400))
def test_any_bytes_are_read_or_refused_in_one_line(folder, data):
    meta = folder / "bytes.csv"
    meta.write_bytes(b"path,url,published\n" + data)
    try:
        _plan(meta)
    except FirstseenError as exc:
        assert str(meta) in str(exc) and "\n" not in str(exc)


_texts = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=10)
_rows = st.lists(
    st.tuples(
        st.sampled_from(["a.jpg", "b.jpg", "sub/c.jpg", " a.jpg "]),
        _texts.map(str.strip),
        _texts.map(str.strip),
        st.none() | st.dates(date(1990, 1, 1), date(2030, 12, 31)),
    ),
    min_size=1,
    max_size=12,
)


@FUZZ
@given(rows=_rows)
def test_every_row_is_a_sighting(folder, rows):
    meta = write_csv(
        folder / "rows.csv",
        [["path", "url", "title", "published"]]
        + [[p, u, t, d.isoformat() if d else ""] for p, u, t, d in rows],
    )
    expected = {
        Sighting(str(folder / p.strip()), u or None, t or None, d.isoformat() if d else None)
        for p, u, t, d in rows
    }
    sightings = _plan(meta)
    assert len(sightings) == len(set(sightings)) and set(sightings) == expected
