"""Dates as exports write them -> ISO 8601 (YYYY-MM-DD).

Seen in the award files: ``2021-09-28``, ``2007-08-30 00:00:00``, ``25/07/2013``
(day first, the archive), ``12/22/17`` and ``5/31/21 0:00`` (month first, two-digit
year). Slash dates are ambiguous when both numbers are 12 or less, so a parser
is made per file and keeps the order that the file's unambiguous dates showed.
"""
from __future__ import annotations

import re
from datetime import date

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")
_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\b")


class DateParser:
    """Parse one file's dates; remembers whether slash dates are day-first."""

    def __init__(self, day_first: bool | None = None) -> None:
        self.day_first = day_first
        self.ambiguous = False  # a slash date was read before the order was known
        self._seen: dict[str, str | None] = {}  # dates repeat a lot within a file

    def parse(self, text: str) -> str | None:
        if not text:  # most date columns of most records are empty
            return None
        found = self._seen.get(text)
        if found is not None:
            return found
        value = self._parse(text.strip())
        # keep results that later dates cannot change: ISO, or the order is known
        if value and (self.day_first is not None or "/" not in text) \
                and len(self._seen) < 100_000:
            self._seen[text] = value
        return value

    def _parse(self, text: str) -> str | None:
        if not text:
            return None
        m = _ISO.match(text)
        if m:
            return _iso(int(m[1]), int(m[2]), int(m[3]))
        m = _SLASH.match(text)
        if not m:
            return None
        a, b, year = int(m[1]), int(m[2]), int(m[3])
        if len(m[3]) == 2:
            year += 2000 if year < 70 else 1900
        if a > 12:
            self.day_first = True
        elif b > 12:
            self.day_first = False
        elif self.day_first is None:
            self.ambiguous = True
        day, month = (a, b) if self.day_first else (b, a)
        return _iso(year, month, day)


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None
