"""The tables and lines people read in a terminal: search results, archived items, videos
sharing footage, captures.

They print what the archive holds (paths, titles, URLs) as text: never as Rich markup, with
control characters escaped (`cell`), whatever a file name or a page put there.
"""

from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text

from firstseen.archive.records import Item
from firstseen.evidence.credentials import credentials_line, metadata_line
from firstseen.matching.align import Segment
from firstseen.matching.answers import clock, clock_span
from firstseen.matching.duplicates import SharedFootage
from firstseen.matching.results import QueryResult
from firstseen.text import printable


def cell(value: str | None) -> Text:
    """Stored or given text for a table cell or a line: shown, not obeyed."""
    return Text(printable(value or ""))


def _name(path: str) -> Text:
    return cell(Path(path).name)


def span(segment: Segment) -> str:
    """A query stretch and the source stretch it copies: `00:12–00:19 ← source 01:03–01:10`."""
    (qs, qe), (rs, re) = segment.query, segment.reference
    return f"{clock(qs)}–{clock(qe)} ← source {clock(rs)}–{clock(re)}"


def results_table(r: QueryResult) -> Group:
    """A compact table that fits an 80-column terminal, then the provenance of each match."""
    table = Table(title=cell(r.query), title_justify="left", expand=False)
    for column in ("verdict", "source", "time", "region x,y wxh", "score", "published"):
        table.add_column(column, overflow="fold")
    for m in r.matches:
        region = ""
        if m.check.region:
            x, y, w, h = m.check.region
            region = f"{x},{y} {w}x{h}"
        table.add_row(
            "[bold green]MATCH[/]" if m.match else "[dim]no[/]",
            _name(m.item.path),
            clock_span(m.time_span) if m.time_span else clock(m.time),
            region,
            f"{m.score:.3f}",
            cell(m.item.first_seen.published),
        )
    lines = []
    for m in r.matches:
        for s in m.segments:
            verdict = ("MATCH", "bold green") if s.match else ("no", "dim")
            lines.append(
                Text.assemble(
                    _name(m.item.path),
                    f"  {span(s.segment)}  ",
                    verdict,
                    f" {s.score:.3f}",
                )
            )
    for m in r.matches:
        if m.match:
            first = m.item.first_seen
            where = f" at {clock(m.time)}" if m.time is not None else ""
            if m.time_span:
                where += f" (or any frame from {clock_span(m.time_span, ' to ')})"
            lines.append(
                Text.assemble(
                    ("MATCH ", "bold green"),
                    cell(
                        f"{m.item.path}{where}: {first.title or 'untitled'}, "
                        f"published {first.published or 'on an unknown date'}"
                        + (f", {first.url}" if first.url else "")
                    ),
                )
            )
    return Group(table, *lines)


def provenance_line(r: QueryResult) -> Text | None:
    """One line on what the query file says of itself: its credentials, then its metadata."""
    if r.provenance is None:
        return None
    p = r.provenance
    return Text.assemble(
        cell(r.query),
        ": ",
        cell(credentials_line(p.credentials)),
        " · ",
        cell(metadata_line(p.metadata)),
    )


def shared_table(found: list[SharedFootage]) -> Table:
    table = Table()
    for column in ("verdict", "video a", "video b", "shared stretches (a ← b)", "score"):
        table.add_column(column, overflow="fold")
    for f in found:
        spans = [span(s.segment).replace(" ← source ", " ← ") for s in f.segments if s.match]
        table.add_row(
            "[bold green]MATCH[/]" if f.match else "[dim]no[/]",
            _name(f.a.path),
            _name(f.b.path),
            "\n".join(spans or [span(f.segments[0].segment).replace(" ← source ", " ← ")]),
            f"{f.score:.3f}",
        )
    return table


def items_table(items: list[Item]) -> Table:
    table = Table()
    for column in ("id", "kind", "path", "frames", "size", "published", "title"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            str(item.id),
            item.kind,
            cell(item.path),
            str(item.frames),
            f"{item.width}x{item.height}",
            cell(item.first_seen.published),
            cell(item.first_seen.title),
        )
    return table


def captures_table(rows: list[dict]) -> Table:
    """The stored captures, one row each (the rows `captures --json` prints)."""
    columns = ("id", "source", "captured_at", "media", "title", "url")
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "captured_at"))
    for row in rows:
        table.add_row(*(cell(str(row[c] or "")) for c in columns))
    return table
