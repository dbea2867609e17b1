"""Daily time windows for sweep agents: ``--time-window 17-7 --timezone Asia/Seoul`` runs trials only at night.

A window is ``START-END`` in 24-hour local time of one zone (``17-7``, ``17:30-07:00``, ``9-18``); when
START is later than END it wraps past midnight (17:00 to 07:00 the next morning). ``0-24`` (or
``00:00-24:00``) means always; equal start and end (``22-22``) is rejected, as it could mean an empty or a
full day. START is inside the window, END is not.

Each day's window is one interval of real time, from the first instant whose local wall-clock time is at or
after START to the first instant whose local time is at or after END. On daylight-saving days this means:

* a START or END in the hour skipped in spring (02:30 in New York on 2026-03-08) falls on the end of
  the gap, 03:00; a window lying wholly inside the gap (02:10-02:40) does not open that day;
* a START or END in the hour repeated in autumn counts on its first occurrence, so the window neither opens
  nor closes twice (``22-1:30`` closes at 01:30 EDT and stays closed through 01:00-01:59 EST);
* durations are real seconds: the night ``22-6`` lasts 7 hours on the spring-forward day, 9 in autumn.

Times passed in must be aware (naive ones raise ``ValueError``: their zone would be a guess). They may be
in any zone; they are converted to the window's zone.

Example:
    >>> import datetime as dt
    >>> w = TimeWindow.parse("17-7", "Asia/Seoul")
    >>> w.describe()
    '17:00–07:00 Asia/Seoul'
    >>> noon = dt.datetime(2026, 6, 1, 12, 0, tzinfo=w.tz)
    >>> w.contains(noon), w.seconds_until_open(noon) / 3600
    (False, 5.0)
    >>> w.contains(dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.timezone.utc))  # 17:00 in Seoul
    True
    >>> clock = [noon]
    >>> waited = wait_for_window(w, lambda: clock[0],
    ...                          lambda s: clock.__setitem__(0, clock[0] + dt.timedelta(seconds=s)), poll=3600)
    >>> waited / 3600, w.contains(clock[0])
    (5.0, True)
    >>> TimeWindow.parse("25-3")
    Traceback (most recent call last):
    ...
    lex_dpr.errors.ConfigError: --time-window '25-3': 25 is not a time of day ...
"""

from __future__ import annotations

import datetime
import difflib
import math
import os
import re
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lex_dpr.errors import ConfigError

_UTC = datetime.timezone.utc
_DAY = datetime.timedelta(days=1)
_FORMS = "write START-END in 24-hour local time, like 17-7, 17:30-07:00, 9-18 or 0-24 (always)"
_PATTERN = re.compile(r"\s*(\d{1,2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2})(?::(\d{2}))?\s*")


@dataclass(frozen=True)
class TimeWindow:
    """A daily window ``[start, end)`` in local time of ``tz``; wraps past midnight when ``start > end``.

    ``start == end`` is the whole day (``parse`` builds it from ``0-24`` only). ``end`` midnight is
    written ``24:00``.
    """

    start: datetime.time
    end: datetime.time
    tz: datetime.tzinfo

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("TimeWindow: start and end are naive local times; the zone goes in tz")

    @classmethod
    def parse(cls, text: str, timezone: str | None = None) -> TimeWindow:
        """``"17-7"``, ``"17:30-07:00"``, ``"0-24"`` in ``timezone`` (an IANA name; ``None``: this machine's zone)."""
        match = _PATTERN.fullmatch(text)
        if match is None:
            raise ConfigError(f"--time-window {text!r}: expected START-END; {_FORMS}")
        start = _time_of_day(text, match[1], match[2], may_be_24=False)
        end = _time_of_day(text, match[3], match[4], may_be_24=True)
        if start == end and int(match[3]) != 24:  # 0-24 is the one way to write "always"
            raise ConfigError(f"--time-window {text!r}: start and end are both {start:%H:%M}, which could mean "
                              f"an empty or a full day; write 0-24 to run at any time, or a window like 17-7")
        return cls(start, end, local_zone() if timezone is None else zone(timezone))

    @property
    def always(self) -> bool:
        """True for ``0-24``: every instant is inside."""
        return self.start == self.end

    def contains(self, now: datetime.datetime) -> bool:
        """Whether ``now`` (aware) is inside the window: START counts as inside, END as outside."""
        return self.always or self._current(_utc(now)) is not None

    def seconds_until_open(self, now: datetime.datetime) -> float:
        """Real seconds from ``now`` until the window next opens; 0 when it is open."""
        instant = _utc(now)
        if self.contains(instant):
            return 0.0
        opening = min(o for o, c in self._occurrences(instant, days=range(-1, 4)) if o > instant and c > o)
        return (opening - instant).total_seconds()

    def seconds_until_close(self, now: datetime.datetime) -> float:
        """Real seconds from ``now`` until the window closes; 0 when it is closed, ``math.inf`` for ``0-24``."""
        if self.always:
            return math.inf
        instant = _utc(now)
        current = self._current(instant)
        if current is None:
            return 0.0
        closing = current[1]
        # Back-to-back days (both edges in one DST gap) leave no gap between them: the window stays open.
        following = {o: c for o, c in self._occurrences(instant, days=range(-1, 5)) if c > o}
        while closing in following:
            closing = following[closing]
        return (closing - instant).total_seconds()

    def describe(self) -> str:
        """``"17:00–07:00 Asia/Seoul"``; ``"00:00–24:00 …"`` for always."""
        end = "24:00" if self.end == datetime.time(0) else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}–{end} {zone_name(self.tz)}"

    def _occurrences(self, instant: datetime.datetime, days: range) -> Iterator[tuple[datetime.datetime, datetime.datetime]]:
        """(opening, closing) in UTC of the windows that start on the local days around ``instant``."""
        today = instant.astimezone(self.tz).date()
        for shift in days:
            day = today + shift * _DAY
            end_day = day + _DAY if self.end <= self.start else day
            yield (_first_instant_at_or_after(datetime.datetime.combine(day, self.start), self.tz),
                   _first_instant_at_or_after(datetime.datetime.combine(end_day, self.end), self.tz))

    def _current(self, instant: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime] | None:
        # Yesterday's window may still be open (wrapping), and a clock set back across midnight can put
        # tomorrow's in today's date: look one day either side.
        return next(((o, c) for o, c in self._occurrences(instant, days=range(-1, 2)) if o <= instant < c), None)


def wait_for_window(window: TimeWindow, clock: Callable[[], datetime.datetime], sleep: Callable[[float], None],
                    on_wait: Callable[[float], None] | None = None, poll: float = 30.0) -> float:
    """Block until ``window`` is open; return the seconds waited, as measured by ``clock``.

    Sleeps in steps of at most ``poll`` seconds, calling ``on_wait(seconds_left)`` before each, and reads the
    clock again after every step: a machine suspended overnight wakes up late, and the wait is then shorter
    (or, past a window that opened and closed while asleep, longer) than planned.
    """
    if not poll > 0:
        raise ValueError(f"wait_for_window: poll must be > 0 seconds, got {poll!r}")
    began = _utc(clock())
    while True:
        now = _utc(clock())
        left = window.seconds_until_open(now)
        if left <= 0:
            return max(0.0, (now - began).total_seconds())
        if on_wait is not None:
            on_wait(left)
        sleep(min(poll, left))


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``name`` (``Asia/Seoul``, ``UTC``); ``ConfigError`` naming the closest ones if unknown."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    known = {z.lower(): z for z in zoneinfo.available_timezones()}
    close = difflib.get_close_matches(name.lower(), list(known), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(known[c] for c in close)}?)" if close else ""
    raise ConfigError(f"--timezone {name!r}: unknown time zone{hint}; use an IANA name like Asia/Seoul, "
                      f"Europe/Berlin or UTC")


def local_zone() -> datetime.tzinfo:
    """This machine's time zone: ``$TZ``, else ``/etc/localtime``, else ``/etc/timezone``, as a ``ZoneInfo``.

    Falls back to the current fixed UTC offset (no DST) when none of them names an IANA zone.
    """
    names = [os.environ.get("TZ", "").removeprefix(":")]
    try:
        target = str(Path("/etc/localtime").resolve())
        names.append(target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else "")
    except OSError:
        pass
    try:
        names.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for name in filter(None, names):
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            continue
    fixed = datetime.datetime.now().astimezone().tzinfo
    return zoneinfo.ZoneInfo("UTC") if fixed is None or fixed.utcoffset(None) == datetime.timedelta(0) else fixed


def zone_name(tz: datetime.tzinfo) -> str:
    """``Asia/Seoul`` for a ZoneInfo, else the zone's own name (``UTC+09:00``)."""
    return getattr(tz, "key", None) or str(tz)


def _time_of_day(text: str, hours: str, minutes: str | None, may_be_24: bool) -> datetime.time:
    h, m = int(hours), int(minutes or 0)
    if m > 59 or h > 24 or (h == 24 and (m or not may_be_24)):
        written = f"{hours}:{minutes}" if minutes is not None else hours
        raise ConfigError(f"--time-window {text!r}: {written} is not a time of day (hours 0-23, minutes 00-59, "
                          f"24 or 24:00 only as the end); {_FORMS}")
    return datetime.time(h % 24, m)


def _utc(now: datetime.datetime) -> datetime.datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"time window: {now.isoformat()} has no time zone; pass an aware datetime "
                         f"(datetime.now(timezone.utc))")
    return now.astimezone(_UTC)


def _first_instant_at_or_after(local: datetime.datetime, tz: datetime.tzinfo) -> datetime.datetime:
    """The first instant (UTC) whose wall-clock time in ``tz`` is ``local`` or later.

    A repeated time (autumn) gives its first occurrence; a skipped one (spring) the end of the gap.
    """
    first, second = sorted(local.replace(tzinfo=tz, fold=fold).astimezone(_UTC) for fold in (0, 1))
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    # In a gap: wall-clock time rises monotonically between the two readings; find the jump to the second.
    low, high = math.floor(first.timestamp()), math.ceil(second.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= local:
            high = middle
        else:
            low = middle
    return datetime.datetime.fromtimestamp(high, _UTC)
