"""Where-and-when metadata given on the command line or in a CSV file (path,url,title,published)."""

import csv
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from firstseen.archive.records import Sighting
from firstseen.errors import FirstseenError, user_reason


def parse_published(text: str | None) -> str | None:
    """Normalises a publication date to ISO 8601 (YYYY-MM-DD, or a full timestamp), so that dates
    sort correctly as text; YYYY and YYYY-MM are accepted as given."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    for pattern in ("%Y", "%Y-%m"):
        try:
            datetime.strptime(text, pattern)
            return text
        except ValueError:
            pass
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise FirstseenError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


Row = dict[str, str | None]  # url, title, published


def read_meta_csv(path: Path) -> list[tuple[Path, Row]]:
    """Every row in order, as (file, metadata): a file listed on several rows was seen in several
    places, and each row is a sighting of it. Relative paths are relative to the CSV's folder
    (so the file is the path as a user in the current folder would name it)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            if reader.fieldnames is None or "path" not in reader.fieldnames:
                raise FirstseenError(f"{path}: needs a header with a 'path' column")
            return [_row(path, number, row) for number, row in enumerate(reader, start=2)]
    except UnicodeDecodeError:
        raise FirstseenError(f"{path}: cannot read metadata: not UTF-8 text") from None
    except (OSError, csv.Error) as exc:
        raise FirstseenError(f"{path}: cannot read metadata: {user_reason(exc)}") from exc


def _row(path: Path, number: int, row: dict) -> tuple[Path, Row]:
    """One CSV row's file and metadata; raises FirstseenError naming the line."""
    text = row.get("path")
    if not isinstance(text, str) or not text.strip():
        raise FirstseenError(f"{path}:{number}: empty path")
    if "\0" in text:
        raise FirstseenError(f"{path}:{number}: a path cannot hold a NUL character")
    file = Path(text.strip())
    try:
        published = parse_published(_cell(row, "published"))
    except FirstseenError as exc:
        raise FirstseenError(f"{path}:{number}: {exc}") from None
    meta = {"url": _cell(row, "url"), "title": _cell(row, "title"), "published": published}
    return (file if file.is_absolute() else path.parent / file), meta


def _cell(row: dict, column: str) -> str | None:
    value = row.get(column)
    return (value.strip() or None) if isinstance(value, str) else None


def _same_file(path: Path) -> Path:
    """What tells two names of one file apart from names of two files: the resolved path, or
    the absolute one where a path cannot be resolved (a symlink loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return path.absolute()


def plan_sightings(
    paths: list[Path] | None,
    url: str | None,
    title: str | None,
    published: str | None,
    meta: Path | None,
) -> tuple[list[Path], Callable[[Path], list[Sighting]]]:
    """What an `add`-like command works on: the paths named, else those the CSV lists (each
    once), and each file's sightings, one per CSV row naming it, at least one (command-line
    options win over the file's CSV rows). A bad date or CSV raises FirstseenError before
    anything is read."""
    published = parse_published(published)
    rows = read_meta_csv(meta) if meta else []
    by_file: dict[Path, list[Row]] = {}
    for file, row in rows:
        by_file.setdefault(_same_file(file), []).append(row)

    def sightings(file: Path) -> list[Sighting]:
        made = (
            Sighting(
                str(file),
                url or row.get("url"),
                title or row.get("title"),
                published or row.get("published"),
            )
            for row in by_file.get(_same_file(file), [{}])
        )
        return list(dict.fromkeys(made))

    return list(paths or []) or list(dict.fromkeys(file for file, _ in rows)), sightings
