"""Auth when it is required: no key, wrong key, revoked key, user key on admin routes, the
WebSocket handshake; secrets are stored only as hashes."""

from __future__ import annotations

import asyncio
import hashlib
import time

import httpx
import openai
import pytest
import websockets
from conftest import ServerProcess
from keys import admin, admin_get, create_key, sdk
from sqlalchemy import select

from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import ApiKey


def test_a_missing_key_is_401_in_openai_shape(auth_server: ServerProcess) -> None:
    # the SDK always sends a key, so this one request goes without it, by hand
    for path in ("/v1/models", "/v1/audio/speech", "/metrics", "/ready", "/v1/no-such-route"):
        response = httpx.get(auth_server.base_url + path)
        assert response.status_code == 401, path
        error = response.json()["error"]
        assert error["code"] == "missing_api_key"
        assert "Authorization: Bearer" in error["message"]
        assert set(error) == {"message", "type", "param", "code"}
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_health_stays_open_for_liveness_probes(auth_server: ServerProcess) -> None:
    assert httpx.get(auth_server.base_url + "/health").status_code == 200


def test_a_wrong_key_is_401(auth_server: ServerProcess) -> None:
    client = sdk(auth_server, "sk-sa-not-a-real-key-0000000000")
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.code == "invalid_api_key"
    assert "sk-sa-not-a-real-key" not in caught.value.message  # the key is redacted
    with pytest.raises(openai.AuthenticationError):
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hello.")


def test_a_user_key_works_on_v1_and_is_forbidden_on_admin(auth_server: ServerProcess) -> None:
    key = create_key(auth_server, "user-one")
    client = sdk(auth_server, key)
    assert any(m.id == "tts-1" for m in client.models.list())
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.").read()
    assert len(audio) > 1000
    for path in ("/admin/keys", "/admin/usage", "/admin/usage/records"):
        with pytest.raises(openai.PermissionDeniedError) as caught:
            admin_get(auth_server, key, path)
        assert caught.value.code == "insufficient_permissions"
    with pytest.raises(openai.PermissionDeniedError):
        admin(auth_server, key).post("/admin/keys", cast_to=object, body={"name": "escalate"})


def test_an_admin_key_works_everywhere(auth_server: ServerProcess, admin_key: str) -> None:
    assert admin_get(auth_server, admin_key, "/admin/keys")["object"] == "list"
    assert sdk(auth_server, admin_key).models.retrieve("whisper-1").id == "whisper-1"


def test_a_key_revoked_over_http_stops_at_once(auth_server: ServerProcess, admin_key: str) -> None:
    key = create_key(auth_server, "to-revoke-http")
    client = sdk(auth_server, key)
    client.models.list()
    key_id = next(k["id"] for k in admin_get(auth_server, admin_key, "/admin/keys")["data"]
                  if k["name"] == "to-revoke-http")  # fmt: skip
    deleted = admin(auth_server, admin_key).delete(f"/admin/keys/{key_id}", cast_to=object)
    assert deleted == {"id": key_id, "deleted": True, "object": "api_key.deleted"}
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_a_key_revoked_by_the_cli_stops_within_the_cache_time(
    auth_server: ServerProcess,
) -> None:
    key = create_key(auth_server, "to-revoke-cli")
    client = sdk(auth_server, key)
    client.models.list()
    listing = auth_server.cli("keys", "list").stdout
    key_id = next(line.split("\t")[0] for line in listing.splitlines() if "to-revoke-cli" in line)
    assert key not in listing  # never printed again
    auth_server.cli("keys", "revoke", key_id)
    time.sleep(1.2)  # the auth server runs with auth.key_cache_seconds = 1
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_only_a_hash_of_each_secret_is_stored(auth_server: ServerProcess) -> None:
    key = create_key(auth_server, "hashed")

    async def stored() -> list[ApiKey]:
        database = Database(auth_server.database_url)
        try:
            async with database.sessions() as session:
                return list((await session.scalars(select(ApiKey))).all())
        finally:
            await database.dispose()

    rows = asyncio.run(stored())
    mine = [row for row in rows if row.name == "hashed"]
    assert len(mine) == 1
    assert mine[0].secret_hash == hashlib.sha256(key.encode()).hexdigest()
    for row in rows:
        assert key not in {str(value) for value in vars(row).values()}


async def _handshake(url: str, **kwargs: object) -> int | None:
    """The HTTP status a refused handshake got, or None when the WebSocket opened."""
    try:
        async with websockets.connect(url, open_timeout=5, **kwargs):  # type: ignore[arg-type]
            return None
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


def test_the_websocket_handshake_needs_a_key(auth_server: ServerProcess) -> None:
    url = auth_server.base_url.replace("http", "ws") + "/v1/realtime?model=step-audio-chat"
    assert asyncio.run(_handshake(url)) == 401
    wrong = {"additional_headers": {"Authorization": "Bearer sk-sa-wrong-000000000000"}}
    assert asyncio.run(_handshake(url, **wrong)) == 401
    wrong_subprotocol = ["realtime", "openai-insecure-api-key.sk-sa-wrong-000000000000"]
    assert asyncio.run(_handshake(url, subprotocols=wrong_subprotocol)) == 401


def test_a_valid_key_gets_past_the_websocket_guard(auth_server: ServerProcess) -> None:
    """With a valid key (header or subprotocol) the handshake is not refused for auth: there
    is no realtime route yet, so the router answers instead (not 401)."""
    key = create_key(auth_server, "websocket")
    url = auth_server.base_url.replace("http", "ws") + "/v1/realtime?model=step-audio-chat"
    by_header = {"additional_headers": {"Authorization": f"Bearer {key}"}}
    by_subprotocol = {"subprotocols": ["realtime", f"openai-insecure-api-key.{key}"]}
    for kwargs in (by_header, by_subprotocol):
        status = asyncio.run(_handshake(url, **kwargs))
        assert status != 401


def test_without_auth_required_any_key_works_but_admin_routes_still_need_one(
    server: ServerProcess,
) -> None:
    """The quickstart: any key reaches /v1 (metered as anonymous), never /admin."""
    assert sdk(server, "sk-whatever").models.list().data
    with pytest.raises(openai.AuthenticationError):
        admin_get(server, "sk-whatever", "/admin/keys")
    assert httpx.get(server.base_url + "/admin/usage").status_code == 401
    user = create_key(server, "quickstart-user")
    with pytest.raises(openai.PermissionDeniedError):
        admin_get(server, user, "/admin/keys")
    boss = create_key(server, "quickstart-admin", "--admin")
    assert admin_get(server, boss, "/admin/keys")["object"] == "list"
