"""Daily time windows for sweep agents: parsing, wrap past midnight, time zones, DST days, waiting on a fake clock."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lex_dpr.errors import ConfigError
from lex_dpr.sweep.window import TimeWindow, local_zone, wait_for_window

UTC = dt.timezone.utc
SEOUL, BERLIN, NEW_YORK = ZoneInfo("Asia/Seoul"), ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
HOUR = 3600


def at(tz, *fields, fold=0):
    return dt.datetime(*fields, tzinfo=tz, fold=fold)


def utc(*fields):
    return dt.datetime(*fields, tzinfo=UTC)


class FakeClock:
    """``now()`` and ``sleep(s)``; ``sleep`` advances the clock by ``s * oversleep`` (> 1: a suspended laptop)."""

    def __init__(self, start: dt.datetime, oversleep: float = 1.0, jumps: list[float] | None = None):
        self.time, self.oversleep, self.jumps = start, oversleep, list(jumps or [])
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        advance = self.jumps.pop(0) if self.jumps else seconds * self.oversleep
        self.time += dt.timedelta(seconds=advance)


# --- parsing -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "start", "end", "described"), [
    ("17-7", dt.time(17), dt.time(7), "17:00–07:00 Asia/Seoul"),
    ("17:30-07:00", dt.time(17, 30), dt.time(7), "17:30–07:00 Asia/Seoul"),
    ("9-18", dt.time(9), dt.time(18), "09:00–18:00 Asia/Seoul"),
    (" 9 - 18 ", dt.time(9), dt.time(18), "09:00–18:00 Asia/Seoul"),
    ("17:00–07:00", dt.time(17), dt.time(7), "17:00–07:00 Asia/Seoul"),  # describe()'s own output parses back
    ("7-24", dt.time(7), dt.time(0), "07:00–24:00 Asia/Seoul"),
    ("0-24", dt.time(0), dt.time(0), "00:00–24:00 Asia/Seoul"),
    ("00:00-24:00", dt.time(0), dt.time(0), "00:00–24:00 Asia/Seoul"),
])
def test_parse_accepts_hours_and_minutes(text, start, end, described):
    window = TimeWindow.parse(text, "Asia/Seoul")
    assert (window.start, window.end, window.tz) == (start, end, SEOUL)
    assert window.describe() == described
    assert TimeWindow.parse(window.describe().rsplit(" ", 1)[0], "Asia/Seoul") == window


@pytest.mark.parametrize(("text", "named"), [
    ("25-3", "25"), ("17", "'17'"), ("a-b", "'a-b'"), ("17-7-3", "'17-7-3'"), ("", "''"), ("17-7:60", "7:60"),
    ("24-3", "24"), ("17:5-7", "'17:5-7'"), ("-5-3", "'-5-3'"), ("17-24:30", "24:30"),
])
def test_parse_rejects_malformed_windows_in_one_line(text, named):
    with pytest.raises(ConfigError) as caught:
        TimeWindow.parse(text, "Asia/Seoul")
    message = str(caught.value)
    assert "\n" not in message and named in message and "17-7" in message and "0-24" in message


@pytest.mark.parametrize("text", ["22-22", "0-0", "07:30-7:30"])
def test_equal_start_and_end_is_rejected_as_ambiguous(text):
    with pytest.raises(ConfigError, match="empty or a full day; write 0-24"):
        TimeWindow.parse(text, "Asia/Seoul")


@pytest.mark.parametrize(("name", "hint"), [("Mars/Olympus_Mons", None), ("Asia/seoul", "Asia/Seoul"),
                                            ("Europe/Berln", "Europe/Berlin"), ("../../etc/passwd", None),
                                            ("/etc/localtime", None), ("", None), ("Asia", None)])
def test_unknown_timezone_is_a_config_error(name, hint):
    with pytest.raises(ConfigError) as caught:
        TimeWindow.parse("17-7", name)
    message = str(caught.value)
    assert f"--timezone {name!r}" in message and "Asia/Seoul" in message and "\n" not in message
    if hint:
        assert f"did you mean {hint}" in message


@pytest.mark.parametrize("tz", ["Asia/Seoul", ":Europe/Berlin"])
def test_no_timezone_means_the_machines_zone_from_tz(monkeypatch, tz):
    monkeypatch.setenv("TZ", tz)
    window = TimeWindow.parse("17-7")
    assert window.tz == ZoneInfo(tz.lstrip(":")) and window.describe().endswith(tz.lstrip(":"))


def test_no_timezone_without_tz_still_gives_a_working_zone(monkeypatch):
    monkeypatch.delenv("TZ", raising=False)
    window = TimeWindow.parse("17-7")
    assert window.tz == local_zone()
    assert isinstance(window.contains(dt.datetime.now(UTC)), bool)


def test_times_must_be_aware():
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    for method in (window.contains, window.seconds_until_open, window.seconds_until_close):
        with pytest.raises(ValueError, match="no time zone"):
            method(dt.datetime(2026, 6, 1, 20, 0))


# --- a zone without DST --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("hour", "minute", "second", "inside"), [
    (12, 0, 0, False), (16, 59, 59, False), (17, 0, 0, True), (20, 0, 0, True), (23, 59, 59, True),
    (0, 0, 0, True), (2, 0, 0, True), (6, 59, 59, True), (7, 0, 0, False), (8, 0, 0, False),
])
def test_seoul_window_wrapping_midnight(hour, minute, second, inside):
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    now = at(SEOUL, 2026, 6, 1, hour, minute, second)
    assert window.contains(now) is inside
    assert (window.seconds_until_open(now) == 0) is inside
    assert (window.seconds_until_close(now) > 0) is inside


def test_seoul_seconds_until_open_and_close():
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    assert window.seconds_until_open(at(SEOUL, 2026, 6, 1, 12)) == 5 * HOUR
    assert window.seconds_until_open(at(SEOUL, 2026, 6, 1, 7)) == 10 * HOUR  # exactly at the end: closed
    assert window.seconds_until_open(at(SEOUL, 2026, 6, 1, 16, 59, 59, 500000)) == 0.5
    assert window.seconds_until_close(at(SEOUL, 2026, 6, 1, 17)) == 14 * HOUR  # exactly at the start: open
    assert window.seconds_until_close(at(SEOUL, 2026, 6, 2, 6)) == HOUR  # after midnight: yesterday's window
    assert window.seconds_until_close(at(SEOUL, 2026, 6, 1, 12)) == 0


def test_window_within_one_day():
    window = TimeWindow.parse("9-18", "Asia/Seoul")
    assert not window.contains(at(SEOUL, 2026, 6, 1, 8, 59))
    assert window.contains(at(SEOUL, 2026, 6, 1, 9)) and window.contains(at(SEOUL, 2026, 6, 1, 17, 59))
    assert not window.contains(at(SEOUL, 2026, 6, 1, 18))
    assert window.seconds_until_open(at(SEOUL, 2026, 6, 1, 18)) == 15 * HOUR  # tomorrow
    assert window.seconds_until_close(at(SEOUL, 2026, 6, 1, 10)) == 8 * HOUR


def test_always():
    window = TimeWindow.parse("0-24", "Europe/Berlin")
    for now in (at(BERLIN, 2026, 3, 29, 2, 30), at(BERLIN, 2026, 10, 25, 2, 30, fold=1), utc(2026, 1, 1)):
        assert window.contains(now) and window.seconds_until_open(now) == 0
        assert window.seconds_until_close(now) == math.inf


def test_end_at_midnight():
    window = TimeWindow.parse("20-24", "Asia/Seoul")
    assert window.contains(at(SEOUL, 2026, 6, 1, 23, 59)) and not window.contains(at(SEOUL, 2026, 6, 2, 0))
    assert window.seconds_until_close(at(SEOUL, 2026, 6, 1, 20)) == 4 * HOUR


# --- time zones ----------------------------------------------------------------------------------------------------


def test_the_same_instant_is_inside_in_seoul_and_outside_in_berlin():
    instant = utc(2026, 6, 1, 10)  # 19:00 in Seoul, 12:00 (CEST) in Berlin
    assert TimeWindow.parse("17-7", "Asia/Seoul").contains(instant)
    assert not TimeWindow.parse("17-7", "Europe/Berlin").contains(instant)
    assert TimeWindow.parse("17-7", "Europe/Berlin").seconds_until_open(instant) == 5 * HOUR


def test_now_may_be_given_in_any_zone():
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    same = [at(SEOUL, 2026, 6, 1, 16), utc(2026, 6, 1, 7), at(BERLIN, 2026, 6, 1, 9), at(NEW_YORK, 2026, 6, 1, 3)]
    assert {window.seconds_until_open(now) for now in same} == {HOUR}


# --- daylight saving time ------------------------------------------------------------------------------------------


def test_night_is_an_hour_shorter_on_spring_forward_day():
    night = TimeWindow.parse("22-6", "America/New_York")  # 2026-03-08: 02:00 EST -> 03:00 EDT
    assert night.seconds_until_close(at(NEW_YORK, 2026, 3, 7, 22)) == 7 * HOUR
    assert night.seconds_until_close(at(NEW_YORK, 2026, 3, 8, 0)) == 5 * HOUR
    assert night.contains(at(NEW_YORK, 2026, 3, 8, 5, 59)) and not night.contains(at(NEW_YORK, 2026, 3, 8, 6))
    assert night.seconds_until_open(at(NEW_YORK, 2026, 3, 7, 12)) == 10 * HOUR
    day = TimeWindow.parse("9-18", "America/New_York")
    assert day.seconds_until_open(at(NEW_YORK, 2026, 3, 7, 20)) == 12 * HOUR  # 13 hours on the wall clock


def test_night_is_an_hour_longer_on_fall_back_day():
    night = TimeWindow.parse("22-6", "America/New_York")  # 2026-11-01: 02:00 EDT -> 01:00 EST
    assert night.seconds_until_close(at(NEW_YORK, 2026, 10, 31, 22)) == 9 * HOUR
    assert night.contains(at(NEW_YORK, 2026, 11, 1, 1, 30, fold=1))
    day = TimeWindow.parse("9-18", "America/New_York")
    assert day.seconds_until_open(at(NEW_YORK, 2026, 10, 31, 20)) == 14 * HOUR  # 13 hours on the wall clock


def test_berlin_both_transitions():
    window = TimeWindow.parse("17-7", "Europe/Berlin")
    assert window.seconds_until_close(at(BERLIN, 2026, 3, 28, 17)) == 13 * HOUR  # 2026-03-29 02:00 -> 03:00
    assert window.seconds_until_close(at(BERLIN, 2026, 10, 24, 17)) == 15 * HOUR  # 2026-10-25 03:00 -> 02:00
    assert window.seconds_until_open(at(BERLIN, 2026, 3, 29, 7)) == 10 * HOUR
    assert window.seconds_until_open(utc(2026, 10, 25, 0, 30)) == 0  # 02:30 CEST, the first one


def test_start_in_the_skipped_hour_opens_at_the_end_of_the_gap():
    window = TimeWindow.parse("2:30-5", "America/New_York")  # 02:00-02:59 does not exist on 2026-03-08
    assert window.seconds_until_open(at(NEW_YORK, 2026, 3, 8, 0)) == 2 * HOUR  # opens at 03:00 EDT = 07:00 UTC
    assert not window.contains(utc(2026, 3, 8, 6, 59, 59)) and window.contains(utc(2026, 3, 8, 7))
    assert window.seconds_until_close(utc(2026, 3, 8, 7)) == 2 * HOUR
    assert window.seconds_until_open(at(NEW_YORK, 2026, 3, 8, 5)) == (21 * 60 + 30) * 60  # next: 03-09 02:30 EDT


def test_end_in_the_skipped_hour_closes_at_the_end_of_the_gap():
    window = TimeWindow.parse("22-2:30", "America/New_York")
    assert window.seconds_until_close(at(NEW_YORK, 2026, 3, 7, 22)) == 4 * HOUR  # 22:00 EST to 03:00 EDT (02:00 EST)
    assert not window.contains(at(NEW_YORK, 2026, 3, 8, 3))


def test_window_inside_the_skipped_hour_does_not_open_that_day():
    window = TimeWindow.parse("2:10-2:40", "America/New_York")
    for minute in range(0, 120, 5):
        assert not window.contains(utc(2026, 3, 8, 6) + dt.timedelta(minutes=minute))
    next_open = at(NEW_YORK, 2026, 3, 9, 2, 10)
    assert window.seconds_until_open(at(NEW_YORK, 2026, 3, 8, 0)) == (next_open - utc(2026, 3, 8, 5)).total_seconds()


def test_back_to_back_days_with_both_edges_in_the_gap_stay_open():
    window = TimeWindow.parse("2:30-2:15", "America/New_York")  # closes 03-08 03:00 EDT, reopens the same instant
    assert window.contains(at(NEW_YORK, 2026, 3, 8, 3)) and window.contains(at(NEW_YORK, 2026, 3, 8, 1))
    expected = at(NEW_YORK, 2026, 3, 9, 2, 15).astimezone(UTC) - utc(2026, 3, 8, 6)  # 01:00 EST on 03-08
    assert window.seconds_until_close(at(NEW_YORK, 2026, 3, 8, 1)) == expected.total_seconds()


def test_start_in_the_repeated_hour_counts_on_its_first_occurrence():
    window = TimeWindow.parse("1:30-4", "America/New_York")  # 01:00-01:59 happens twice on 2026-11-01
    assert window.seconds_until_open(at(NEW_YORK, 2026, 11, 1, 0)) == 1.5 * HOUR  # 01:30 EDT = 05:30 UTC
    assert window.contains(utc(2026, 11, 1, 5, 30)) and not window.contains(utc(2026, 11, 1, 5, 29, 59))
    assert window.contains(at(NEW_YORK, 2026, 11, 1, 1, 10, fold=1))  # 01:10 EST: still open, not reopened
    assert window.seconds_until_close(utc(2026, 11, 1, 5, 30)) == 3.5 * HOUR  # to 04:00 EST = 09:00 UTC


def test_end_in_the_repeated_hour_counts_on_its_first_occurrence():
    window = TimeWindow.parse("22-1:30", "America/New_York")
    assert window.seconds_until_close(at(NEW_YORK, 2026, 10, 31, 22)) == 3.5 * HOUR  # to 01:30 EDT
    second_time_round = at(NEW_YORK, 2026, 11, 1, 1, 15, fold=1)  # 01:15 EST, before 01:30 on the wall clock
    assert not window.contains(second_time_round)
    assert window.seconds_until_open(second_time_round) == (20 * 60 + 45) * 60


def test_window_inside_the_repeated_hour_opens_once():
    window = TimeWindow.parse("1:10-1:40", "America/New_York")
    assert window.contains(at(NEW_YORK, 2026, 11, 1, 1, 20, fold=0))
    assert not window.contains(at(NEW_YORK, 2026, 11, 1, 1, 20, fold=1))
    assert window.seconds_until_open(at(NEW_YORK, 2026, 11, 1, 1, 40, fold=0)) == 24.5 * HOUR  # 01:10 EST on 11-02


@settings(max_examples=300, deadline=None)
@given(start=st.integers(0, 47), end=st.integers(0, 47), minute=st.integers(0, 366 * 24 * 60 * 3),
       zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Asia/Seoul", "Australia/Lord_Howe"]))
def test_the_window_opens_and_closes_when_it_says(start, end, minute, zone):
    if start == end:
        return
    window = TimeWindow(dt.time(start // 2, 30 * (start % 2)), dt.time(end // 2, 30 * (end % 2)), ZoneInfo(zone))
    now = utc(2025, 1, 1) + dt.timedelta(minutes=minute // 3, seconds=20 * (minute % 3))
    later = lambda seconds: now + dt.timedelta(seconds=seconds)
    if window.contains(now):
        close = window.seconds_until_close(now)
        assert 0 < close <= 25 * HOUR and window.contains(later(close - 1)) and not window.contains(later(close))
        assert window.seconds_until_open(now) == 0
    else:
        opening = window.seconds_until_open(now)
        assert 0 < opening <= 49 * HOUR and window.contains(later(opening)) and not window.contains(later(opening - 1))
        assert window.seconds_until_close(now) == 0
    if zone == "Asia/Seoul":  # no DST: the plain wall-clock rule
        local = now.astimezone(window.tz).time()
        wall = window.start <= local < window.end if window.start < window.end else not window.end <= local < window.start
        assert window.contains(now) is wall


# --- waiting -------------------------------------------------------------------------------------------------------


def test_wait_counts_down_and_returns_once_open():
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    clock, shown = FakeClock(at(SEOUL, 2026, 6, 1, 16, 58)), []
    waited = wait_for_window(window, clock.now, clock.sleep, on_wait=shown.append, poll=30)
    assert waited == 120 and shown == [120, 90, 60, 30] and clock.slept == [30, 30, 30, 30]
    assert window.contains(clock.now())


def test_wait_takes_a_short_last_step():
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    clock, shown = FakeClock(at(SEOUL, 2026, 6, 1, 16, 59, 15)), []
    assert wait_for_window(window, clock.now, clock.sleep, shown.append, poll=30) == 45
    assert shown == [45, 15] and clock.slept == [30, 15]


def test_wait_returns_at_once_inside_the_window():
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    clock, shown = FakeClock(at(SEOUL, 2026, 6, 2, 3)), []
    assert wait_for_window(window, clock.now, clock.sleep, shown.append) == 0
    assert shown == [] and clock.slept == []


def test_wait_rechecks_the_clock_after_a_suspend():
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    clock, shown = FakeClock(at(SEOUL, 2026, 6, 1, 16), jumps=[3 * HOUR]), []  # asked for 10 minutes, slept 3 hours
    assert wait_for_window(window, clock.now, clock.sleep, shown.append, poll=600) == 3 * HOUR
    assert shown == [HOUR] and clock.slept == [600]


def test_wait_goes_on_when_the_window_passed_during_a_suspend():
    window = TimeWindow.parse("9-18", "Asia/Seoul")
    clock, shown = FakeClock(at(SEOUL, 2026, 6, 1, 8), jumps=[11 * HOUR]), []  # wakes at 19:00: closed again
    waited = wait_for_window(window, clock.now, clock.sleep, shown.append, poll=HOUR)
    assert waited == 25 * HOUR and shown[:2] == [HOUR, 14 * HOUR]
    assert all(a > b for a, b in zip(shown[1:], shown[2:], strict=False)) and clock.now() == at(SEOUL, 2026, 6, 2, 9)


def test_wait_oversleeping_every_step_never_overshoots_the_count():
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    clock, shown = FakeClock(at(SEOUL, 2026, 6, 1, 12), oversleep=1.5), []
    waited = wait_for_window(window, clock.now, clock.sleep, shown.append, poll=HOUR)
    assert all(a > b for a, b in zip(shown, shown[1:], strict=False))
    assert waited == (clock.now() - at(SEOUL, 2026, 6, 1, 12)).total_seconds() >= 5 * HOUR
    assert window.contains(clock.now())


def test_wait_across_spring_forward_counts_real_seconds():
    window = TimeWindow.parse("2:30-5", "America/New_York")
    clock, shown = FakeClock(at(NEW_YORK, 2026, 3, 8, 0)), []
    assert wait_for_window(window, clock.now, clock.sleep, shown.append, poll=HOUR) == 2 * HOUR
    assert shown == [2 * HOUR, HOUR]


def test_wait_rejects_a_non_positive_poll():
    window = TimeWindow.parse("17-7", "Asia/Seoul")
    clock = FakeClock(at(SEOUL, 2026, 6, 1, 12))
    with pytest.raises(ValueError, match="poll"):
        wait_for_window(window, clock.now, clock.sleep, poll=0)
