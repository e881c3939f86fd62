"""/admin/keys: create (the secret is shown once), list, read, change quotas, revoke."""

from __future__ import annotations

import msgspec
from litestar import Request, Router, delete, get, patch, post
from litestar.params import FromPath

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.json_body import decode_json_body
from stepaudio_api.api.openapi import documented
from stepaudio_api.errors import InvalidRequest, NotFound
from stepaudio_api.protocol.admin import (
    KeyCreateRequest,
    KeyDeleted,
    KeyList,
    KeyObject,
    KeyUpdateRequest,
    MonthUsage,
)
from stepaudio_api.store.tables import ApiKey, QuotaCounter, utc_now
from stepaudio_api.store.usage import month_of


def key_object(key: ApiKey, counter: QuotaCounter | None, period: str) -> KeyObject:
    usage = MonthUsage(
        period=period,
        characters=counter.characters if counter else 0,
        audio_seconds=counter.audio_milliseconds / 1000 if counter else 0.0,
    )
    return KeyObject(
        id=key.id,
        name=key.name,
        scope=key.scope,
        redacted_value=key.redacted,
        created_at=int(key.created_at.timestamp()),
        quota_characters=key.quota_characters,
        quota_audio_seconds=key.quota_audio_seconds,
        usage=usage,
        revoked_at=int(key.revoked_at.timestamp()) if key.revoked_at else None,
    )


async def _described(services: ServicesDependency, keys: list[ApiKey]) -> list[KeyObject]:
    period = month_of(utc_now())
    counters = await services.usage.month_usage([k.id for k in keys], period)
    return [key_object(k, counters.get(k.id), period) for k in keys]


def _check_quotas(quota_characters: object, quota_audio_seconds: object) -> None:
    for name, value in (("quota_characters", quota_characters),
                        ("quota_audio_seconds", quota_audio_seconds)):  # fmt: skip
        if isinstance(value, int | float) and value < 0:
            raise InvalidRequest(f"{name} must be >= 0, or null for unlimited", param=name)


async def _key(services: ServicesDependency, key_id: FromPath[str]) -> ApiKey:
    key = await services.keys.get(key_id)
    if key is None:
        raise NotFound(f"No API key with id '{key_id}'", param="key_id", code="key_not_found")
    return key


@post("/", status_code=201, opt=documented(body=KeyCreateRequest))
async def create_key(request: Request, services: ServicesDependency) -> KeyObject:
    body = decode_json_body(await request.body(), KeyCreateRequest)
    if not body.name.strip():
        raise InvalidRequest("'name' must not be empty", param="name")
    _check_quotas(body.quota_characters, body.quota_audio_seconds)
    created = await services.keys.create(
        body.name.strip(), body.scope, body.quota_characters, body.quota_audio_seconds
    )
    (described,) = await _described(services, [created.key])
    described.value = created.secret
    return described


@get("/")
async def list_keys(services: ServicesDependency) -> KeyList:
    return KeyList(data=await _described(services, await services.keys.list()))


@get("/{key_id:str}")
async def retrieve_key(key_id: FromPath[str], services: ServicesDependency) -> KeyObject:
    (described,) = await _described(services, [await _key(services, key_id)])
    return described


@patch("/{key_id:str}", opt=documented(body=KeyUpdateRequest))
async def update_key(
    key_id: FromPath[str], request: Request, services: ServicesDependency
) -> KeyObject:
    body = decode_json_body(await request.body(), KeyUpdateRequest)
    _check_quotas(body.quota_characters, body.quota_audio_seconds)
    await _key(services, key_id)
    changes = {
        name: getattr(body, name)
        for name in ("name", "quota_characters", "quota_audio_seconds")
        if getattr(body, name) is not msgspec.UNSET
    }
    key = await services.keys.set_quotas(key_id, changes)
    assert key is not None
    (described,) = await _described(services, [key])
    return described


@delete("/{key_id:str}", status_code=200)
async def revoke_key(key_id: FromPath[str], services: ServicesDependency) -> KeyDeleted:
    await _key(services, key_id)
    await services.keys.revoke(key_id)
    return KeyDeleted(id=key_id)


keys_router = Router(
    path="/admin/keys",
    route_handlers=[create_key, list_keys, retrieve_key, update_key, revoke_key],
)
