"""lex_dpr.utils.clock: records say UTC with ``Z``; old naive local times still read back."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from lex_dpr.utils.clock import parse_time, utc_file_stamp, utc_now


def test_times_are_utc_with_z_and_read_back():
    now = utc_now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now), now
    assert re.fullmatch(r"\d{8}T\d{6}Z", utc_file_stamp())
    assert abs(parse_time(now) - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert parse_time(utc_file_stamp()).tzinfo is not None


def test_a_naive_time_from_an_old_record_is_local_time():
    old = "2025-03-01T14:02:11"
    assert parse_time(old) == datetime(2025, 3, 1, 14, 2, 11).astimezone()
