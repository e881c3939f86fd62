"""/admin/keys and `stepaudio-api keys`: create (secret once), list, read, quotas, revoke."""

from __future__ import annotations

import openai
import pytest
from conftest import ServerProcess
from keys import admin, admin_get, admin_post, sdk


def test_create_shows_the_secret_once_and_it_works(
    auth_server: ServerProcess, admin_key: str
) -> None:
    created = admin_post(auth_server, admin_key, "/admin/keys",
                         {"name": "made-over-http", "quota_characters": 1000})  # fmt: skip
    secret = created["value"]
    assert secret.startswith("sk-sa-") and len(secret) > 40
    assert created["scope"] == "user" and created["object"] == "api_key"
    assert created["quota_characters"] == 1000 and created["quota_audio_seconds"] is None
    assert created["redacted_value"].endswith(secret[-4:])
    assert secret not in created["redacted_value"]
    assert sdk(auth_server, secret).models.list().data
    listed = admin_get(auth_server, admin_key, "/admin/keys")["data"]
    mine = [k for k in listed if k["id"] == created["id"]]
    assert len(mine) == 1 and "value" not in mine[0]
    one = admin_get(auth_server, admin_key, f"/admin/keys/{created['id']}")
    assert "value" not in one and one["name"] == "made-over-http"
    assert one["usage"]["characters"] == 0


def test_quotas_can_be_changed_and_removed(auth_server: ServerProcess, admin_key: str) -> None:
    created = admin_post(auth_server, admin_key, "/admin/keys", {"name": "quota-change"})
    client = admin(auth_server, admin_key)
    path = f"/admin/keys/{created['id']}"
    changed = client.patch(path, cast_to=object, body={"quota_audio_seconds": 60.5})
    assert changed["quota_audio_seconds"] == 60.5 and changed["quota_characters"] is None
    cleared = client.patch(path, cast_to=object, body={"quota_audio_seconds": None})
    assert cleared["quota_audio_seconds"] is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "name"),
        ({"name": " "}, "name"),
        ({"name": "x", "scope": "root"}, "scope"),
        ({"name": "x", "quota_characters": -1}, "quota_characters"),
        ({"name": "x", "quota_characters": "lots"}, "quota_characters"),
        ({"name": "x", "colour": "blue"}, "colour"),
    ],
)
def test_bad_key_requests_are_400(
    auth_server: ServerProcess, admin_key: str, body: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        admin_post(auth_server, admin_key, "/admin/keys", body)
    assert caught.value.param == param


def test_unknown_key_ids_are_404(auth_server: ServerProcess, admin_key: str) -> None:
    client = admin(auth_server, admin_key)
    with pytest.raises(openai.NotFoundError):
        client.get("/admin/keys/key_nope", cast_to=object)
    with pytest.raises(openai.NotFoundError):
        client.delete("/admin/keys/key_nope", cast_to=object)


def test_revoked_keys_stay_listed_with_their_revocation_time(
    auth_server: ServerProcess, admin_key: str
) -> None:
    created = admin_post(auth_server, admin_key, "/admin/keys", {"name": "listed-revoked"})
    admin(auth_server, admin_key).delete(f"/admin/keys/{created['id']}", cast_to=object)
    one = admin_get(auth_server, admin_key, f"/admin/keys/{created['id']}")
    assert one["revoked_at"] >= one["created_at"]


def test_cli_creates_admin_keys_with_quotas(auth_server: ServerProcess) -> None:
    result = auth_server.cli(
        "keys", "create", "--name", "cli-made", "--admin",
        "--quota-characters", "500", "--quota-audio-seconds", "30",
    )  # fmt: skip
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk-sa-")
    listing = auth_server.cli("keys", "list").stdout
    line = next(line for line in listing.splitlines() if "\tcli-made\t" in line)
    assert "\tadmin\t" in line and "\t500\t30\t" in line
    assert admin_get(auth_server, secret, "/admin/keys")["object"] == "list"
    bad = auth_server.cli("keys", "create", "--name", "x", "--quota-characters", "-5", check=False)
    assert bad.returncode != 0
    missing = auth_server.cli("keys", "revoke", "key_missing", check=False)
    assert missing.returncode == 1 and "no key" in missing.stderr
