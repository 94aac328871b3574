"""Parse `YYYY-MM-DD` strings into `datetime.date` objects."""

import datetime
import re

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_date(text: str) -> datetime.date:
    """Parse an ISO date. Raises ValueError for malformed or impossible dates."""
    match = _ISO_DATE.match(text.strip())
    if match is None:
        raise ValueError(f"not an ISO date: {text!r}")
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        raise ValueError(f"month out of range: {text!r}")
    if day < 1:
        raise ValueError(f"day out of range: {text!r}")
    first = datetime.date(year, month, 1)
    return first + datetime.timedelta(days=day - 1)
