"""The clock tools: the time now in a time zone or city, and a time from one zone to another."""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

from stepaudio_api import ToolError

# Cities (and one-zone countries) that are not the last part of an IANA name; any city that is
# one ("Tokyo", "Los Angeles", "Sao Paulo") is found among the zones themselves.
CITIES = {
    "Asia/Shanghai": "Beijing Guangzhou Shenzhen Chengdu Hangzhou Wuhan Nanjing Tianjin Xi'an "
    "Xian Suzhou China 北京 上海 广州 深圳 成都 重庆 杭州 武汉 南京 天津 西安 苏州 中国",
    "Asia/Hong_Kong": "香港",
    "Asia/Macau": "澳门 Macao",
    "Asia/Taipei": "台北 Taiwan 台湾",
    "Asia/Tokyo": "Osaka Kyoto Yokohama Nagoya Sapporo Japan 东京 大阪 日本",
    "Asia/Seoul": "Busan Incheon Korea South_Korea 首尔 韩国",
    "Asia/Singapore": "新加坡",
    "Asia/Bangkok": "Thailand 曼谷",
    "Asia/Ho_Chi_Minh": "Saigon Ho_Chi_Minh_City Hanoi Vietnam",
    "Asia/Kolkata": "Delhi New_Delhi Mumbai Bombay Bangalore Bengaluru Chennai Madras Hyderabad "
    "Pune Ahmedabad Calcutta India 孟买 新德里 印度",
    "Asia/Karachi": "Lahore Islamabad Pakistan",
    "Asia/Dubai": "Abu_Dhabi 迪拜",
    "Asia/Riyadh": "Jeddah Mecca Saudi_Arabia",
    "Asia/Jerusalem": "Tel_Aviv Israel",
    "Europe/Istanbul": "Ankara Turkey Türkiye",
    "Africa/Cairo": "Egypt 开罗",
    "Africa/Johannesburg": "Cape_Town Pretoria Durban South_Africa",
    "Africa/Lagos": "Abuja Nigeria",
    "Europe/Moscow": "Saint_Petersburg St_Petersburg 莫斯科",
    "Europe/London": "Manchester Birmingham Edinburgh Glasgow Liverpool UK United_Kingdom "
    "England Scotland Britain 伦敦 英国",
    "Europe/Paris": "Lyon Marseille Nice France 巴黎 法国",
    "Europe/Berlin": "Munich Frankfurt Hamburg Cologne Stuttgart Germany 柏林 德国",
    "Europe/Madrid": "Barcelona Valencia Seville Spain",
    "Europe/Rome": "Milan Naples Florence Venice Italy 罗马",
    "Europe/Amsterdam": "Rotterdam The_Hague Netherlands",
    "Europe/Zurich": "Geneva Basel Bern Switzerland",
    "Europe/Kyiv": "Kiev Ukraine",
    "America/New_York": "Washington Washington_DC Boston Philadelphia Miami Atlanta Pittsburgh "
    "Baltimore Orlando 纽约 华盛顿 波士顿",
    "America/Chicago": "Houston Dallas Austin San_Antonio Minneapolis New_Orleans 芝加哥",
    "America/Denver": "Salt_Lake_City Albuquerque",
    "America/Los_Angeles": "San_Francisco Seattle San_Diego San_Jose Las_Vegas Portland "
    "Sacramento Silicon_Valley 洛杉矶 旧金山 西雅图",
    "America/Toronto": "Montreal Ottawa Quebec 多伦多",
    "America/Vancouver": "温哥华",
    "America/Sao_Paulo": "Rio_de_Janeiro Rio Brasilia Brazil",
    "America/Argentina/Buenos_Aires": "Argentina",
    "Australia/Sydney": "Canberra 悉尼",
    "Australia/Melbourne": "墨尔本",
    "Pacific/Auckland": "Wellington Christchurch New_Zealand",
    "Pacific/Honolulu": "Hawaii",
}
_REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)
_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*([ap])?\.?\s*(m\.?)?$", re.IGNORECASE)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]+", " ", name.strip().casefold())


@functools.cache
def _places() -> dict[str, str]:
    """Lower-cased zone names, cities and countries -> IANA zone."""
    places: dict[str, str] = {}
    for zone in sorted(zoneinfo.available_timezones()):
        places[_key(zone)] = zone
        region, _, city = zone.rpartition("/")
        if region.split("/")[0] in _REGIONS:
            places.setdefault(_key(city), zone)
    for zone, names in CITIES.items():
        for name in names.split():
            places[_key(name)] = zone
    return places


def resolve_zone(place: str) -> tuple[dt.tzinfo, str]:
    """A time zone from an IANA name, a city, a country with one zone or a UTC offset."""
    text = place.strip()
    if _key(text) in ("utc", "gmt", "z", "zulu", "universal"):
        return dt.UTC, "UTC"
    if match := _OFFSET.match(text):
        sign, hours, minutes = match.groups()
        offset = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset > dt.timedelta(hours=14):
            raise ToolError(f"'{place}' is not a UTC offset (-14:00 to +14:00)")
        zone = dt.timezone(-offset if sign == "-" else offset)
        return zone, f"UTC{sign}{int(hours):02d}:{int(minutes or 0):02d}"
    name = _places().get(_key(text))
    if name is None:
        raise ToolError(
            f"unknown time zone or city '{place}'; give an IANA time zone such as "
            "'Europe/Paris' or 'America/New_York', a major city, or a UTC offset such as '+05:30'"
        )
    return zoneinfo.ZoneInfo(name), name


def describe(moment: dt.datetime, zone_name: str) -> dict[str, Any]:
    offset = moment.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    hours, rest = divmod(abs(int(offset.total_seconds())), 3600)
    return {
        "timezone": zone_name,
        "datetime": moment.replace(microsecond=0).isoformat(),
        "date": moment.date().isoformat(),
        "time": moment.strftime("%H:%M"),
        "weekday": moment.strftime("%A"),
        "utc_offset": f"{sign}{hours:02d}:{rest // 60:02d}",
        "abbreviation": moment.tzname(),
        "is_dst": bool(moment.dst()),
    }


def parse_time(text: str) -> tuple[dt.time, dt.date | None]:
    """'14:30', '2:30 pm', '9am', '14:30:15', 'noon', 'midnight' or an ISO date and time."""
    value = text.strip()
    named = {"noon": dt.time(12), "midday": dt.time(12), "midnight": dt.time(0)}
    if value.casefold() in named:
        return named[value.casefold()], None
    if "T" in value or (len(value) > 10 and value[4:5] == "-"):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ToolError(f"'{text}' is not an ISO date and time (2025-06-01T14:30)") from None
        return moment.time().replace(tzinfo=None), moment.date()
    match = _TIME.match(value)
    if match:
        hour, minute, second = (int(g or 0) for g in match.groups()[:3])
        meridiem = (match.group(4) or "").lower()
        if meridiem and (match.group(5) is None or not 1 <= hour <= 12):
            match = None
        elif meridiem:
            hour = hour % 12 + (12 if meridiem == "p" else 0)
    if not match or hour > 23 or minute > 59 or second > 59:
        raise ToolError(f"'{text}' is not a time of day; use 24-hour 'HH:MM' or '2:30 pm'")
    return dt.time(hour, minute, second), None


class Clock:
    """The two clock tools; `now` is replaceable so that tests can stop the clock."""

    def __init__(self, now: Callable[[], dt.datetime] | None = None) -> None:
        self.now = now or (lambda: dt.datetime.now(dt.UTC))

    def get_time(self, timezone: str = "UTC") -> dict[str, Any]:
        zone, name = resolve_zone(timezone)
        result = describe(self.now().astimezone(zone), name)
        if _key(timezone) != _key(name):
            result["location"] = timezone.strip()
        return result

    def convert_time(
        self, time: str, from_timezone: str, to_timezone: str, date: str | None = None
    ) -> dict[str, Any]:
        source, source_name = resolve_zone(from_timezone)
        target, target_name = resolve_zone(to_timezone)
        wall, day = parse_time(time)
        if date is not None:
            try:
                day = dt.date.fromisoformat(date)
            except ValueError:
                raise ToolError(f"'{date}' is not a date; use YYYY-MM-DD") from None
        day = day or self.now().astimezone(source).date()
        moment = dt.datetime.combine(day, wall, tzinfo=source)
        converted = moment.astimezone(target)
        result = {
            "from": describe(moment, source_name),
            "to": describe(converted, target_name),
            "day_offset": (converted.date() - moment.date()).days,
        }
        if moment.astimezone(dt.UTC).astimezone(source).time() != wall:
            result["note"] = (
                f"{wall:%H:%M} does not exist on {day} in {source_name}: the clocks "
                "skip it when daylight saving time starts"
            )
        return result


TIME_ZONE = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
}

GET_TIME_PARAMETERS = {
    "type": "object",
    "properties": {
        "timezone": {
            **TIME_ZONE,
            "description": "An IANA time zone ('Europe/Paris', 'America/New_York'), the name "
            "of a major city ('Tokyo', 'San Francisco', '北京'), or a UTC offset ('+05:30'). "
            "Default: UTC.",
        }
    },
    "additionalProperties": False,
}

CONVERT_TIME_PARAMETERS = {
    "type": "object",
    "properties": {
        "time": {
            "type": "string",
            "minLength": 1,
            "maxLength": 40,
            "description": "The time of day in the source zone: 24-hour '14:30', '2:30 pm', "
            "'noon', or an ISO date and time '2025-06-01T14:30'.",
        },
        "from_timezone": {
            **TIME_ZONE,
            "description": "Where that time is: an IANA time zone, a major city or a UTC offset.",
        },
        "to_timezone": {
            **TIME_ZONE,
            "description": "The zone to convert to: an IANA time zone, a major city or a UTC "
            "offset.",
        },
        "date": {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}$",
            "description": "The date in the source zone, YYYY-MM-DD; default: today there. It "
            "matters when daylight saving time differs between dates.",
        },
    },
    "required": ["time", "from_timezone", "to_timezone"],
    "additionalProperties": False,
}
