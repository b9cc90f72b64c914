"""Where-and-when metadata given on the command line or in a CSV file (path,url,title,published)."""

import csv
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from firstseen.archive.catalog import Sighting
from firstseen.errors import FirstseenError


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


def read_meta_csv(path: Path) -> dict[Path, dict[str, str | None]]:
    """Rows keyed by file path; relative paths are relative to the CSV's folder (so the key is
    the path as a user in the current folder would name it)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            if reader.fieldnames is None or "path" not in reader.fieldnames:
                raise FirstseenError(f"{path}: needs a header with a 'path' column")
            rows = {}
            for number, row in enumerate(reader, start=2):
                if not (row.get("path") or "").strip():
                    raise FirstseenError(f"{path}:{number}: empty path")
                file = Path(row["path"].strip())
                file = file if file.is_absolute() else path.parent / file
                try:
                    published = parse_published(row.get("published"))
                except FirstseenError as exc:
                    raise FirstseenError(f"{path}:{number}: {exc}") from None
                rows[file] = {
                    "url": (row.get("url") or "").strip() or None,
                    "title": (row.get("title") or "").strip() or None,
                    "published": published,
                }
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FirstseenError(f"{path}: cannot read metadata: {exc}") from exc


def plan_sightings(
    paths: list[Path] | None,
    url: str | None,
    title: str | None,
    published: str | None,
    meta: Path | None,
) -> tuple[list[Path], Callable[[Path], Sighting]]:
    """What an `add`-like command works on: the paths named, else those the CSV lists, and how
    each file's sighting is made (command-line options win over the file's CSV row). A bad date
    or CSV raises FirstseenError before anything is read."""
    published = parse_published(published)
    rows = read_meta_csv(meta) if meta else {}
    by_file = {file.resolve(): row for file, row in rows.items()}

    def sighting(file: Path) -> Sighting:
        row = by_file.get(file.resolve(), {})
        return Sighting(
            str(file),
            url or row.get("url"),
            title or row.get("title"),
            published or row.get("published"),
        )

    return list(paths or []) or list(rows), sighting
