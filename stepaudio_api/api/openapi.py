"""The OpenAPI document (GET /openapi.json) and its docs page (GET /docs).

Litestar draws the document from the routes themselves: their paths, path and query
parameters, and the answers their return types say. What it cannot see there, each handler
says in ``opt=documented(...)``: the bodies we decode ourselves (msgspec Structs in
``protocol/``, so the document is the decoder's own schema), and the media types of streamed
answers. Every operation answers errors in OpenAI's shape (the ``default`` response), and all
but /health need a key when auth is required (the ``bearer`` scheme).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from stepaudio_api import __version__
from stepaudio_api.protocol.errors import ErrorResponse

OPT_KEY = "openapi"
DOCUMENT_STATE = "openapi_document"
DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
BINARY = {"type": "string", "format": "binary"}
TEXT = {"type": "string"}
AUDIO = {kind: BINARY for kind in ("audio/mpeg", "audio/ogg", "audio/aac", "audio/flac",
                                   "audio/wav", "audio/pcm")}  # fmt: skip
EVENTS = {"text/event-stream": {
    "type": "object", "required": ["data"],
    "properties": {"data": {"type": "string", "description": "One JSON object (or [DONE])"},
                   "event": TEXT, "id": TEXT, "retry": {"type": "integer"}},
}}  # fmt: skip
"""Server-sent events, each as its fields (every one a JSON text in ``data``)."""


@dataclass(frozen=True, slots=True)
class Documented:
    body: type[msgspec.Struct] | None = None
    """The JSON body, decoded by the handler with this Struct."""
    form: type[msgspec.Struct] | None = None
    """The multipart form, read by the handler field by field as this Struct says."""
    answers: dict[str, Any] = field(default_factory=dict)
    """Media type -> schema of the success answer (a dict, a Struct, or a tuple of Structs
    for any of them), replacing what the return type says (a streamed answer's many media
    types)."""
    statuses: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Other answers that are not errors in OpenAI's shape (/ready's 503)."""
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Query parameters the handler reads from the request itself: name -> schema."""
    example: dict[str, Any] | None = None
    """A whole JSON body that works (the docs page fills it in; schemathesis sends it)."""


def documented(**what: Any) -> dict[str, Documented]:
    """A handler's ``opt``: what the OpenAPI document should say that the handler cannot."""
    return {OPT_KEY: Documented(**what)}


def openapi_config() -> OpenAPIConfig:
    assets = ASSETS_PATH
    swagger = SwaggerRenderPlugin(
        js_url=f"{assets}/swagger-ui-bundle.js", css_url=f"{assets}/swagger-ui.css",
        standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js", path="/",
        favicon=f'<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">',
    )  # fmt: skip
    return OpenAPIConfig(
        title="stepaudio-api",
        version=__version__,
        description="OpenAI's audio API for the Step-Audio model family: speech, "
        "transcription, audio chat, voices, and (over WebSocket, not described here) "
        "realtime at /v1/realtime.",
        path=DOCS_PATH,
        render_plugins=[swagger],
        use_handler_docstrings=True,
        components=Components(security_schemes={
            "bearer": SecurityScheme(type="http", scheme="bearer",
                                     description="An API key: Authorization: Bearer sk-...")}),
        security=[{"bearer": []}],
    )  # fmt: skip


@get("/openapi.json", include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request) -> Response[bytes]:
    """The document, as /docs/openapi.json serves it (made once, at start)."""
    document = request.app.state.get(DOCUMENT_STATE)
    if document is None:
        document = request.app.state[DOCUMENT_STATE] = msgspec.json.encode(
            request.app.openapi_schema.to_schema()
        )
    return Response(document, media_type="application/vnd.oai.openapi+json")


def docs_assets_router() -> Any:
    """Swagger UI's files, served from the swagger-ui-py package: the docs page works on a
    machine with no internet."""
    static = resources.files("swagger_ui") / "static"
    return create_static_files_router(ASSETS_PATH, directories=[str(static)],
                                      include_in_schema=False)  # fmt: skip


def complete_document(app: Litestar, public_paths: Collection[str] = ()) -> None:
    """Add to the document Litestar drew what the handlers say in ``opt`` (once, at start);
    ``public_paths`` (auth.public_paths) need no key."""
    openapi = app.openapi_schema
    structs: list[type[msgspec.Struct]] = [ErrorResponse]
    documented_routes: list[tuple[Any, Documented]] = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not handler.resolve_include_in_schema():
                continue
            path_item = openapi.paths[route.path_format or "/"]
            for method in handler.http_methods:
                operation = getattr(path_item, method.lower())
                doc = handler.opt.get(OPT_KEY) or Documented()
                documented_routes.append((operation, doc))
                structs += [t for t in (doc.body, doc.form) if t is not None]
                for answer in doc.answers.values():
                    structs += [answer] if isinstance(answer, type) else (
                        list(answer) if isinstance(answer, tuple) else [])  # fmt: skip
    schemas, components = msgspec.json.schema_components(
        structs, ref_template="#/components/schemas/{name}"
    )
    by_type = dict(zip(structs, schemas, strict=True))
    assert openapi.components is not None and openapi.components.schemas is not None
    openapi.components.schemas.update({name: _files_as_binary(c) for name, c in components.items()})
    for operation, doc in documented_routes:
        _complete_operation(operation, doc, by_type)
    for path in public_paths:
        if path in openapi.paths:
            for method in ("get", "post", "put", "patch", "delete"):
                if (operation := getattr(openapi.paths[path], method)) is not None:
                    operation.security = []


def _complete_operation(operation: Any, doc: Documented, by_type: dict[type, Any]) -> None:
    if doc.body is not None:
        media: dict[str, Any] = {"schema": by_type[doc.body]}
        if doc.example is not None:
            media["example"] = doc.example
        operation.request_body = {"required": True, "content": {"application/json": media}}
    if doc.form is not None:
        operation.request_body = {"required": True, "content": {
            "multipart/form-data": {"schema": by_type[doc.form]}}}  # fmt: skip
    for name, schema in doc.query.items():
        operation.parameters = [*(operation.parameters or []),
                                {"name": name, "in": "query", "required": False,
                                 "schema": schema}]  # fmt: skip
    responses = {code: r for code, r in (operation.responses or {}).items()
                 if code.startswith("2")}  # fmt: skip
    if doc.answers:
        success = next(iter(responses), "200")
        content = {kind: {"schema": _schema(s, by_type)} for kind, s in doc.answers.items()}
        responses[success] = {"description": "Success", "content": content}
    for status, content in doc.statuses.items():
        responses[str(status)] = {"description": "See the body", "content": {
            kind: {"schema": schema} for kind, schema in content.items()}}  # fmt: skip
    responses["default"] = {
        "description": 'An error, in OpenAI\'s shape: {"error": {message, type, param, code}}',
        "content": {"application/json": {"schema": by_type[ErrorResponse]}},
    }
    operation.responses = responses


def _schema(answer: Any, by_type: dict[type, Any]) -> Any:
    if isinstance(answer, type):
        return by_type[answer]
    if isinstance(answer, tuple):
        return {"anyOf": [by_type[t] for t in answer]}
    return answer


def _files_as_binary(schema: dict[str, Any]) -> dict[str, Any]:
    """A form's file fields are bytes to msgspec (base64 strings in JSON); in a multipart
    form they are files."""
    properties = schema.get("properties") or {}
    for name, prop in properties.items():
        if prop.get("contentEncoding") == "base64":
            properties[name] = {**BINARY, **{k: v for k, v in prop.items()
                                             if k in ("title", "description")}}  # fmt: skip
    return schema
