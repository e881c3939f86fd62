"""/admin/usage: totals by key, model, capability and day (JSON or CSV), and raw records."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from litestar import Request, Response, Router, get

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.openapi import TEXT, documented
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.store.usage import GROUPS

CSV_COLUMNS = {
    "key": ["key_id", "key_name"],
    "model": ["model"],
    "capability": ["capability"],
    "day": ["day"],
}
TOTALS = [
    "requests", "completed_requests", "input_characters", "audio_seconds_in",
    "audio_seconds_out", "input_tokens", "output_tokens", "mean_latency_ms",
]  # fmt: skip

RECORD_FIELDS = [
    "id", "request_id", "key_id", "model", "capability", "status", "input_characters",
    "audio_seconds_in", "audio_seconds_out", "input_tokens", "output_tokens", "latency_ms",
]  # fmt: skip


DAY = {"type": "string", "format": "date"}


def _day(request: Request, name: str) -> dt.date | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date like 2026-11-01", param=name) from None


def _group_by(request: Request) -> list[str]:
    raw = request.query_params.get("group_by")
    if raw is None:
        return list(GROUPS)
    groups = [g.strip() for g in raw.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown or len(set(groups)) != len(groups):
        raise InvalidRequest(
            f"group_by takes distinct names among {', '.join(GROUPS)}; got '{raw}'",
            param="group_by",
        )
    return groups


def _csv(rows: list[dict[str, Any]], groups: list[str]) -> bytes:
    columns = [c for g in groups for c in CSV_COLUMNS[g]] + TOTALS
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@get(
    "/",
    opt=documented(
        answers={"application/json": {"type": "object"}, "text/csv": TEXT},
        query={
            "group_by": TEXT,
            "start": DAY,
            "end": DAY,
            "key_id": TEXT,
            "format": {"type": "string", "enum": ["json", "csv"], "default": "json"},
        },
    ),
)
async def usage_totals(request: Request, services: ServicesDependency) -> Response[Any]:
    groups = _group_by(request)
    start, end = _day(request, "start"), _day(request, "end")
    if start and end and start > end:
        raise InvalidRequest("start must not be after end", param="start")
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidRequest("format must be json or csv", param="format")
    rows = await services.usage.aggregate(groups, start, end, request.query_params.get("key_id"))
    if fmt == "csv":
        return Response(
            _csv(rows, groups),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="usage.csv"'},
        )
    body = {
        "object": "list",
        "group_by": groups,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "data": rows,
    }
    return Response(body)


@get(
    "/records",
    opt=documented(
        query={
            "request_id": TEXT,
            "key_id": TEXT,
            "after": {"type": "integer"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        }
    ),
)
async def usage_records(request: Request, services: ServicesDependency) -> dict[str, Any]:
    params = request.query_params
    try:
        limit = int(params.get("limit", "100"))
        after = int(params["after"]) if params.get("after") else None
    except ValueError:
        raise InvalidRequest("limit and after must be integers", param="limit") from None
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be between 1 and 1000", param="limit")
    records = await services.usage.records(
        params.get("request_id"), params.get("key_id"), limit, after
    )
    data = [
        {
            **{name: getattr(r, name) for name in RECORD_FIELDS},
            "created_at": int(r.created_at.timestamp()),
        }
        for r in records
    ]
    return {"object": "list", "data": data, "has_more": len(data) == limit,
            "last_id": data[-1]["id"] if data else None}  # fmt: skip


usage_router = Router(path="/admin/usage", route_handlers=[usage_totals, usage_records])
