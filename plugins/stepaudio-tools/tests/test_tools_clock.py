"""get_time and convert_time, on a stopped clock."""

from __future__ import annotations

import datetime as dt

import pytest

from stepaudio_api import ToolError
from stepaudio_tools.clock import Clock, parse_time, resolve_zone
from stepaudio_tools.testing import call_tool, tool_registry

# 00:30 UTC on the day central Europe moves its clocks forward (at 01:00 UTC)
NOW = dt.datetime(2025, 3, 30, 0, 30, 5, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(now=lambda: NOW)


def test_get_time_defaults_to_utc(clock: Clock) -> None:
    assert clock.get_time() == {
        "timezone": "UTC",
        "datetime": "2025-03-30T00:30:05+00:00",
        "date": "2025-03-30",
        "time": "00:30",
        "weekday": "Sunday",
        "utc_offset": "+00:00",
        "abbreviation": "UTC",
        "is_dst": False,
    }


def test_get_time_in_an_iana_zone_knows_daylight_saving_time() -> None:
    before = Clock(now=lambda: NOW).get_time("Europe/Berlin")
    assert (before["time"], before["abbreviation"], before["is_dst"]) == ("01:30", "CET", False)
    after = Clock(now=lambda: NOW + dt.timedelta(hours=1)).get_time("europe/berlin")
    assert (after["time"], after["abbreviation"], after["is_dst"]) == ("03:30", "CEST", True)
    assert after["timezone"] == "Europe/Berlin" and "location" not in after


@pytest.mark.parametrize(
    ("place", "zone", "time"),
    [
        ("Tokyo", "Asia/Tokyo", "09:30"),
        ("new york", "America/New_York", "20:30"),  # the day before, already on EDT
        ("San Francisco", "America/Los_Angeles", "17:30"),
        ("北京", "Asia/Shanghai", "08:30"),
        ("Mumbai", "Asia/Kolkata", "06:00"),
        ("Kiev", "Europe/Kyiv", "02:30"),
        ("Los_Angeles", "America/Los_Angeles", "17:30"),
        ("india", "Asia/Kolkata", "06:00"),
    ],
)
def test_get_time_by_city(clock: Clock, place: str, zone: str, time: str) -> None:
    result = clock.get_time(place)
    assert (result["timezone"], result["time"], result["location"]) == (zone, time, place)


def test_get_time_by_utc_offset(clock: Clock) -> None:
    result = clock.get_time("+05:30")
    assert (result["timezone"], result["time"], result["utc_offset"]) == ("UTC+05:30", "06:00",
                                                                          "+05:30")  # fmt: skip
    assert clock.get_time("UTC-8")["date"] == "2025-03-29"
    assert clock.get_time("GMT")["timezone"] == "UTC"


def test_an_unknown_place_is_a_tool_error(clock: Clock) -> None:
    with pytest.raises(ToolError, match=r"unknown time zone or city 'Atlantis'.*'Europe/Paris'"):
        clock.get_time("Atlantis")
    with pytest.raises(ToolError, match="not a UTC offset"):
        clock.get_time("+15:00")


def test_convert_time_between_zones(clock: Clock) -> None:
    result = clock.convert_time("09:00", "New York", "London", date="2025-06-02")
    assert result["from"]["datetime"] == "2025-06-02T09:00:00-04:00"
    assert result["to"]["datetime"] == "2025-06-02T14:00:00+01:00"
    assert result["to"]["abbreviation"] == "BST" and result["day_offset"] == 0


def test_convert_time_into_the_next_day(clock: Clock) -> None:
    result = clock.convert_time("11 pm", "America/Los_Angeles", "Tokyo", date="2025-01-15")
    assert (result["to"]["date"], result["to"]["time"]) == ("2025-01-16", "16:00")
    assert result["day_offset"] == 1 and result["to"]["weekday"] == "Thursday"


def test_convert_time_defaults_to_today_in_the_source_zone(clock: Clock) -> None:
    # 00:30 UTC is still the 29th in New York
    result = clock.convert_time("12:00", "New York", "UTC")
    assert result["from"]["date"] == "2025-03-29" and result["to"]["time"] == "16:00"


def test_convert_time_notes_a_time_the_clocks_skip(clock: Clock) -> None:
    result = clock.convert_time("02:30", "Europe/Berlin", "UTC", date="2025-03-30")
    assert "02:30 does not exist on 2025-03-30 in Europe/Berlin" in result["note"]


def test_convert_time_takes_an_iso_date_and_time(clock: Clock) -> None:
    result = clock.convert_time("2025-12-24T18:00", "Paris", "Asia/Shanghai")
    assert result["to"]["datetime"] == "2025-12-25T01:00:00+08:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("14:30", dt.time(14, 30)), ("2:30 pm", dt.time(14, 30)), ("9am", dt.time(9)),
     ("12 a.m.", dt.time(0)), ("12pm", dt.time(12)), ("noon", dt.time(12)),
     ("07:05:09", dt.time(7, 5, 9)), ("midnight", dt.time(0))],
)  # fmt: skip
def test_parse_time(text: str, expected: dt.time) -> None:
    assert parse_time(text) == (expected, None)


@pytest.mark.parametrize("text", ["25:00", "13 pm", "12:60", "half past", "2:30 p", "tea time"])
def test_a_time_that_is_not_one_is_a_tool_error(text: str) -> None:
    with pytest.raises(ToolError, match="is not a time of day"):
        parse_time(text)


def test_a_bad_date_is_a_tool_error(clock: Clock) -> None:
    with pytest.raises(ToolError, match="'2025-02-30' is not a date"):
        clock.convert_time("10:00", "UTC", "Tokyo", date="2025-02-30")


def test_resolve_zone_prefers_the_table_over_zone_names() -> None:
    assert resolve_zone("Beijing")[1] == "Asia/Shanghai"
    assert resolve_zone("Europe/Kiev")[1] == "Europe/Kiev"  # a link is still a valid name


def test_the_clock_tools_through_the_registry() -> None:
    tools = tool_registry()
    now = call_tool(tools, "get_time", timezone="Asia/Tokyo")
    assert now["timezone"] == "Asia/Tokyo" and now["utc_offset"] == "+09:00"
    assert abs(dt.datetime.fromisoformat(now["datetime"]) - dt.datetime.now(dt.UTC)).seconds < 5
    with pytest.raises(ToolError, match="'time' is a required property"):
        call_tool(tools, "convert_time", from_timezone="UTC", to_timezone="Tokyo")
    with pytest.raises(ToolError, match=r"date: '1 June' does not match"):
        call_tool(tools, "convert_time", time="10:00", from_timezone="UTC", to_timezone="Tokyo",
             date="1 June")  # fmt: skip
    with pytest.raises(ToolError, match=r"Additional properties are not allowed \('zone'"):
        call_tool(tools, "get_time", zone="UTC")
