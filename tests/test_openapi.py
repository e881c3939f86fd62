"""GET /openapi.json and /docs: the document names every route the server has, the docs page
loads with no internet, and schemathesis, generating requests from the document, finds no
server error and no answer that the document does not describe (bounded: a few examples an
operation, every operation)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from chat_stand_in import ChatStandIn, Reply
from conftest import ServerProcess
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from stepaudio_api.app import create_litestar
from stepaudio_api.services import Services
from stepaudio_api.settings import load_settings


@pytest.fixture(scope="module")
def stand_in() -> Iterator[ChatStandIn]:
    with ChatStandIn() as upstream:
        upstream.default = Reply(content=["Okay."])
        yield upstream


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory,
                stand_in: ChatStandIn) -> Iterator[ServerProcess]:  # fmt: skip
    """A server that requires keys, with a chat brain, on its own SQLite database."""
    tmp = tmp_path_factory.mktemp("fuzz")
    env = {"STEPAUDIO_AUTH_REQUIRED": "true", "STEPAUDIO_CHAT_BASE_URL": stand_in.base_url,
           "STEPAUDIO_CHAT_MODEL": "stand-in-brain"}  # fmt: skip
    server = ServerProcess(tmp, f"sqlite+aiosqlite:///{tmp}/fuzz.db", env=env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin_headers(fuzz_server: ServerProcess) -> dict[str, str]:
    key = fuzz_server.cli("keys", "create", "--name", "fuzz-admin", "--admin")
    return {"Authorization": f"Bearer {key.stdout.strip().splitlines()[-1]}"}


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every HTTP route the application has, but the docs' own."""
    services = Services.build(load_settings(environ={"STEPAUDIO_DATA_DIR": "/nonexistent"}))
    app = create_litestar(services)
    found = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if handler.resolve_include_in_schema() and hasattr(handler, "http_methods"):
                found |= {(m.lower(), route.path_format) for m in handler.http_methods}
    return found


def test_the_document_describes_every_route(fuzz_server: ServerProcess,
                                            admin_headers: dict[str, str]) -> None:  # fmt: skip
    assert httpx.get(f"{fuzz_server.base_url}/openapi.json").status_code == 401  # keys needed
    response = httpx.get(f"{fuzz_server.base_url}/openapi.json", headers=admin_headers)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1") and document["info"]["title"] == "stepaudio-api"
    methods = ("get", "post", "patch", "delete", "put")
    documented = {(method, path) for path, item in document["paths"].items()
                  for method in item if method in methods}  # fmt: skip
    assert documented == app_routes() - {("get", "/openapi.json")}
    speech = document["paths"]["/v1/audio/speech"]["post"]
    body = speech["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/SpeechRequest"}
    assert {"audio/mpeg", "audio/pcm", "text/event-stream"} <= set(
        speech["responses"]["200"]["content"]
    )
    form = document["components"]["schemas"]["TranscriptionForm"]["properties"]
    assert form["file"] == {"type": "string", "format": "binary"}
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                error = operation["responses"]["default"]["content"]["application/json"]
                assert error["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}


def test_the_docs_page_loads_its_assets_from_the_server(
    fuzz_server: ServerProcess, admin_headers: dict[str, str]
) -> None:
    page = httpx.get(f"{fuzz_server.base_url}/docs", headers=admin_headers)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), page.text
    for asset in assets:
        served = httpx.get(f"{fuzz_server.base_url}{asset}", headers=admin_headers)
        assert served.status_code == 200 and len(served.content) > 100, asset
    assert "SpeechRequest" in page.text  # the document, in the page
    same = httpx.get(f"{fuzz_server.base_url}/docs/openapi.json", headers=admin_headers)
    root = httpx.get(f"{fuzz_server.base_url}/openapi.json", headers=admin_headers)
    assert same.json() == root.json()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess, admin_headers: dict[str, str]) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json",
                                         headers=admin_headers)  # fmt: skip


schema = schemathesis.pytest.from_fixture("api_schema")
CHECKS = [
    checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
    checks.response_headers_conformance, checks.response_schema_conformance,
    checks.ignored_auth,
]  # fmt: skip
"""Not the checks of how strictly requests are validated (a schema-valid transcription of an
audio file that is not audio is rightly refused), nor of OPTIONS (CORS preflight answers)."""


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_the_server_answers_as_its_document_says(case: Any, admin_headers: dict[str, str]) -> None:
    """No 5xx, and every answer (status, media type, headers, body) as the document describes
    it; and no operation the document says needs a key answers without one."""
    case.call_and_validate(headers=admin_headers, timeout=120, checks=CHECKS)
