"""Dates as the archive keeps them (YYYY, YYYY-MM, YYYY-MM-DD or a timestamp) and the time between
two of them in words, never claiming more precision than the dates have."""

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from firstseen.archive.metadata import parse_published
from firstseen.errors import FirstseenError


@dataclass(frozen=True, slots=True)
class Period:
    """The days a date may mean: one day, or a whole month or year when only those are known."""

    text: str
    first: date
    last: date

    @property
    def exact(self) -> bool:
        return self.first == self.last


def period(text: str | None) -> Period | None:
    """The period an archive date names; None for no date or one that cannot be read."""
    try:
        text = parse_published(text)
    except FirstseenError:
        return None
    if text is None:
        return None
    try:
        if len(text) == 4:
            year = int(text)
            return Period(text, date(year, 1, 1), date(year, 12, 31))
        if len(text) == 7:
            year, month = int(text[:4]), int(text[5:7])
            end = calendar.monthrange(year, month)[1]
            return Period(text, date(year, month, 1), date(year, month, end))
        day = datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None
    return Period(text, day, day)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def span(earlier: date, later: date) -> str:
    """'4 years and 7 months', '3 months', '12 days': whole units, rounded down."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    if later.day < earlier.day:
        months -= 1
    years, months = divmod(months, 12)
    if years and months:
        return f"{_plural(years, 'year')} and {_plural(months, 'month')}"
    if years:
        return _plural(years, "year")
    if months:
        return _plural(months, "month")
    return _plural((later - earlier).days, "day")


def relation(source: Period, claim: Period) -> tuple[str, str]:
    """(kind, words) comparing a source's date with the claimed date: kind is 'before', 'after'
    or 'same'; words read '4 years and 7 months before the claimed date'. Partial dates are
    compared by their nearest ends, with 'at least'."""
    approx = "" if source.exact and claim.exact else "at least "
    if source.last < claim.first:
        return "before", f"{approx}{span(source.last, claim.first)} before the claimed date"
    if source.first > claim.last:
        return "after", f"{approx}{span(claim.last, source.first)} after the claimed date"
    if source.exact and claim.exact:
        return "same", "on the claimed date"
    return "same", "in the same period as the claimed date"
