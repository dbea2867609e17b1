"""Times written into files: UTC, ISO 8601, whole seconds, ``Z``, the same on every machine of a sweep.

:func:`utc_now` is what a record says (``"2026-12-07T05:10:17Z"``, as the index manifest writes it);
:func:`utc_file_stamp` the same instant in the basic form, for a file name (``20261207T051017Z``).
:func:`parse_time` reads both back, and also the naive local times older run records hold
(``"updated": "2025-03-01T14:02:11"``).

Example:
    >>> utc_now().endswith("Z"), len(utc_now()), len(utc_file_stamp())
    (True, 20, 16)
    >>> parse_time("2026-12-07T05:10:17Z").isoformat()
    '2026-12-07T05:10:17+00:00'
    >>> parse_time("20261207T051017Z") == parse_time("2026-12-07T05:10:17Z")
    True
"""

from __future__ import annotations

import time
from datetime import datetime, timezone


def utc_now() -> str:
    """Now as a record holds it: UTC, ISO 8601, whole seconds, ``Z`` (``2026-12-07T05:10:17Z``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_file_stamp() -> str:
    """Now in UTC for a file name: ``20261207T051017Z`` (ISO 8601 basic form)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def parse_time(text: str) -> datetime:
    """A time lex-dpr wrote, as an aware datetime: ``...Z`` (either form) is UTC; a time without a zone
    (records older than UTC times) is this machine's local time.

    Raises:
        ValueError: not such a time.
    """
    if len(text) == 16 and text[8] == "T" and text.endswith("Z"):
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    return parsed if parsed.tzinfo is not None else parsed.astimezone()
