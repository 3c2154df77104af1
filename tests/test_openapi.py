"""GET /openapi.json and /docs: generated from the validating models, complete, and true of the real app.

The property-based tests send requests generated from the document (and
junk) to a real gateway on loopback: never a 500, every error body is the
Error schema, every JSON answer matches its documented schema.
"""

from __future__ import annotations

import asyncio
import html.parser
import http.client
import json
import string
import urllib.parse
from typing import Any

import attrs
import pytest
from acme_gateway import acme_gateway
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reelay.http.app import create_app
from reelay.http.openapi import OPERATIONS, build_document, render_html, served_routes
from reelay.http.wire import NOT_FROM_JSON, parse_unified_request, task_to_json
from reelay.models import UnifiedRequest
from reelay.testing import TEST_TOKEN, gateway_config

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# ---------------------------------------------------------------- a small JSON Schema kit for the tests


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def errors_of(value: Any, schema: dict[str, Any], document: dict[str, Any], where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (the subset of JSON Schema the document uses)."""
    schema = resolve(schema, document)
    if "anyOf" in schema and all(errors_of(value, option, document, where) for option in schema["anyOf"]):
        return [f"{where}: matches none of {schema['anyOf']}"]
    if "const" in schema and value != schema["const"]:
        return [f"{where}: {value!r} != {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_TYPES[kind](value) for kind in kinds):
            return [f"{where}: {value!r} is not {kinds}"]
    found = []
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        found += [f"{where}.{key}: missing" for key in schema.get("required", ()) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                found += errors_of(value[key], sub, document, f"{where}.{key}")
        if schema.get("additionalProperties") is False or ("properties" in schema and schema.get("title") == "Task"):
            extra = set(value) - set(schema.get("properties", {}))
            found += [f"{where}: undocumented keys {sorted(extra)}"] if extra else []
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += errors_of(item, schema["items"], document, f"{where}[{index}]")
    return found


def from_schema(schema: dict[str, Any], document: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against ``schema``, for the subset of JSON Schema the document uses."""
    schema = resolve(schema, document)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, document) for option in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type", "string")
    if isinstance(kinds, list):
        return st.one_of([from_schema({**schema, "type": kind}, document) for kind in kinds])
    if kinds == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(min_size=schema.get("minLength", 0), max_size=30)
    if kinds == "number":
        low = schema.get("exclusiveMinimum")
        return st.floats(min_value=low, exclude_min=low is not None, allow_nan=False, allow_infinity=False)
    if kinds == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kinds == "boolean":
        return st.booleans()
    if kinds == "null":
        return st.none()
    if kinds == "array":
        return st.lists(from_schema(schema.get("items", {}), document), max_size=3)
    if kinds == "object":
        properties = schema.get("properties", {})
        if not properties:
            return st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3)
        required = {key: from_schema(sub, document) for key, sub in properties.items() if key in schema["required"]}
        optional = {key: from_schema(sub, document) for key, sub in properties.items() if key not in required}
        return st.fixed_dictionaries(required, optional=optional)
    raise AssertionError(f"no strategy for {schema}")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def call(base_url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    """One plain HTTP request; (status, headers, body bytes)."""
    host = urllib.parse.urlsplit(base_url).netloc
    connection = http.client.HTTPConnection(host, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


# ---------------------------------------------------------------- the document


@pytest.fixture
def app(acme_pm, tmp_path):
    from reelay.engine import Dispatcher

    config = gateway_config([], tmp_path)
    return create_app(config, dispatcher=Dispatcher(config, pm=acme_pm))


def test_every_served_route_is_in_the_document(app):
    routes = served_routes(app)
    document = build_document(routes)
    served = {(method.lower(), path) for method, path, _ in routes}
    documented = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert served == documented
    assert {"/openapi.json", "/docs", "/v1/video/generations", "/v1/videos/{task_id}/cancel"} <= set(document["paths"])
    for _, _, name in routes:
        assert name in OPERATIONS, f"route {name} has no documented operation"


def test_request_schema_is_derived_from_the_unified_request(app):
    schema = build_document(served_routes(app))["components"]["schemas"]["UnifiedRequest"]
    assert set(schema["properties"]) == {f.name for f in attrs.fields(UnifiedRequest)} - set(NOT_FROM_JSON)
    assert schema["required"] == ["model"]
    assert schema["properties"]["metadata"]["type"] == ["object", "null"]


def test_task_schema_documents_exactly_the_task_keys(app):
    document = build_document(served_routes(app))
    task = document["components"]["schemas"]["Task"]
    from reelay.http.openapi import _sample_tasks

    minimal, others = _sample_tasks()
    assert task["required"] == list(task_to_json(minimal, "u"))
    for sample in [minimal, *others]:
        assert errors_of(task_to_json(sample, "http://x/content"), task, document) == []


def _examples(content: dict[str, Any]) -> list[Any]:
    """The values of a media type's ``example`` and ``examples``."""
    found = [content["example"]] if "example" in content else []
    return found + [example["value"] for example in content.get("examples", {}).values()]


#: Media types whose examples are not shown (a video's bytes).
_BINARY = {"video/mp4"}


@pytest.fixture
def full_document(acme_pm, tmp_path):
    """The document of an app serving every optional route (admin, metrics) too."""
    from reelay.engine import Dispatcher

    config = gateway_config([], tmp_path)
    config = attrs.evolve(
        config,
        admin=attrs.evolve(config.admin, key="admin-key-for-tests-0123"),
        metrics=attrs.evolve(config.metrics, enabled=True),
    )
    return build_document(served_routes(create_app(config, dispatcher=Dispatcher(config, pm=acme_pm))))


def test_every_operation_has_examples(full_document):
    document = full_document
    assert {"admin_reload", "metrics", "content"} <= {op["operationId"] for op in _operations(document)}
    for operation in _operations(document):
        name = operation["operationId"]
        for media, content in (operation.get("requestBody") or {}).get("content", {}).items():
            assert _examples(content), f"{name}: no {media} request example"
        success = [
            (media, content)
            for status, answer in operation["responses"].items()
            if status.startswith("2")
            for media, content in resolve(answer, document).get("content", {}).items()
            if media not in _BINARY
        ]
        if success:
            assert any(_examples(content) for _, content in success), f"{name}: no 2xx example"
        errors = [
            content
            for status, answer in operation["responses"].items()
            if status[0] in "45" or status == "default"
            for content in resolve(answer, document)["content"].values()
        ]
        assert errors and all(_examples(content) for content in errors), f"{name}: an error answer has no example"


def test_every_example_is_valid_against_its_schema(full_document):
    document = full_document
    answers = [
        (f"{op['operationId']} {status}", resolve(answer, document))
        for op in _operations(document)
        for status, answer in op["responses"].items()
    ]
    bodies = [(f"{op['operationId']} body", op["requestBody"]) for op in _operations(document) if "requestBody" in op]
    bodies += [(f"components {name}", answer) for name, answer in document["components"]["responses"].items()]
    checked = 0
    for where, part in answers + bodies:
        for media, content in part.get("content", {}).items():
            for example in _examples(content):
                checked += 1
                assert errors_of(example, content["schema"], document) == [], (where, media, example)
    assert checked > 50


def test_error_examples_use_the_gateways_codes(full_document):
    examples = {
        status: [value["error"] for value in _examples(answer["content"]["application/json"])]
        for status, answer in full_document["components"]["responses"].items()
    }
    assert {"rate_limit_exceeded", "too_many_connections"} <= {error["code"] for error in examples["E429"]}
    assert [error["code"] for error in examples["E401"]] == ["invalid_api_key"]
    assert all(error["type"] and error["message"] for errors in examples.values() for error in errors)


def test_task_examples_are_what_the_wire_writes(full_document):
    """The Task examples are task_to_json of the sample tasks, not a hand-kept copy."""
    from reelay.http.openapi_examples import sample_tasks, task_json

    _, (completed, _) = sample_tasks()
    example = full_document["paths"]["/v1/videos/{task_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert example["example"] == task_json(completed)


def test_docs_page_shows_the_examples_and_nested_fields(full_document):
    text = render_html(full_document)
    assert text.count("<pre>") >= len(list(_operations(full_document)))
    assert "too_many_connections" in text
    assert "<code>error.code</code>" in text and "<code>error.param</code>" in text  # Error and Task's error


def _operations(document: dict[str, Any]):
    for methods in document["paths"].values():
        yield from methods.values()


@given(data=st.data())
@SETTINGS
def test_bodies_valid_against_the_schema_parse(data):
    """The schema never promises more than the wire accepts."""
    document = build_document([("POST", "/v1/video/generations", "create")])
    body = data.draw(from_schema({"$ref": "#/components/schemas/UnifiedRequest"}, document))
    parsed = parse_unified_request(body)
    assert parsed.model == body["model"]


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and "//" in value:
                self.external.append(value)


async def test_openapi_and_docs_are_served(gateway):
    status, headers, raw = await asyncio.to_thread(call, gateway.base_url, "GET", "/openapi.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    document = json.loads(raw)
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": gateway.base_url}]
    status, headers, raw = await asyncio.to_thread(call, gateway.base_url, "GET", "/docs")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    page = _Page()
    page.feed(raw.decode())
    assert page.external == [] and "script" not in page.tags and "link" not in page.tags
    text = raw.decode()
    for path in document["paths"]:
        assert f"<code>{path}</code>" in text
    for name in document["components"]["schemas"]:
        assert f'id="{name}"' in text


# ---------------------------------------------------------------- property-based requests against the real app


def _check(document: dict[str, Any], operation: dict[str, Any] | None, status: int, headers, raw: bytes) -> None:
    assert status < 500 or status in (502, 503), f"{status}: {raw[:300]!r}"
    content_type = headers.get("Content-Type", "")
    if status >= 400:
        assert content_type.startswith("application/json"), (status, content_type, raw[:200])
        body = json.loads(raw)
        assert errors_of(body, {"$ref": "#/components/schemas/Error"}, document) == [], body
        if operation is not None:
            assert str(status) in operation["responses"], f"undocumented status {status}: {body}"
        return
    if operation is not None and content_type.startswith("application/json"):
        answer = resolve(operation["responses"][str(status)], document)
        schema = answer["content"]["application/json"]["schema"]
        assert errors_of(json.loads(raw), schema, document) == []


def _auth(valid: bool) -> dict[str, str]:
    return {"Authorization": f"Bearer {TEST_TOKEN}"} if valid else {}


async def test_generated_requests_never_fail_the_gateway(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.05) as gw:
        _, _, raw = await asyncio.to_thread(call, gw.base_url, "GET", "/openapi.json")
        document = json.loads(raw)
        _, _, raw = await asyncio.to_thread(
            call,
            gw.base_url,
            "POST",
            "/v1/video/generations",
            json.dumps({"model": "acme-1", "prompt": "a known fox"}).encode(),
            {**_auth(True), "Content-Type": "application/json"},
        )
        known_task = json.loads(raw)["id"]
        operations = [
            (method.upper(), path, operation)
            for path, methods in document["paths"].items()
            for method, operation in methods.items()
        ]
        models = st.sampled_from(["acme-1", "acme-still", "acme-still-2024", "nope"])

        def body_for(operation: dict[str, Any]) -> st.SearchStrategy[bytes | None]:
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" not in content:
                return st.none() | st.binary(max_size=40)
            schema = from_schema(content["application/json"]["schema"], document)
            if "model" in resolve(content["application/json"]["schema"], document).get("properties", {}):
                schema = st.tuples(schema, models).map(lambda pair: {**pair[0], "model": pair[1]})
                plausible = st.fixed_dictionaries(
                    {"model": models, "prompt": st.text(min_size=1, max_size=20)},
                    optional={"duration": st.integers(-2, 12), "size": st.sampled_from(["16:9", "1280x720", "3x"])},
                )
                schema = schema | plausible
            valid = schema.map(lambda value: json.dumps(value).encode())
            junk = JSON.map(lambda value: json.dumps(value).encode()) | st.binary(max_size=60)
            return st.one_of(valid, valid, junk)

        @given(data=st.data())
        @settings(SETTINGS, max_examples=200)
        def documented_operations(data):
            method, path, operation = data.draw(st.sampled_from(operations))
            task_id = data.draw(st.sampled_from([known_task, "video_nope"]) | st.text(string.printable, max_size=12))
            url = path.replace("{task_id}", urllib.parse.quote(task_id, safe=""))
            query = {}
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "query" and data.draw(st.booleans()):
                    value = data.draw(from_schema(parameter["schema"], document) | st.text(max_size=5))
                    query[parameter["name"]] = str(value)
            if query:
                url += "?" + urllib.parse.urlencode(query)
            headers = _auth(data.draw(st.sampled_from([True, True, True, False])))
            body = data.draw(body_for(operation))
            if body is not None:
                headers["Content-Type"] = data.draw(st.sampled_from(["application/json", "text/plain"]))
            if "Range" in {p["name"] for p in operation.get("parameters", ())} and data.draw(st.booleans()):
                headers["Range"] = data.draw(st.sampled_from(["bytes=0-9", "bytes=5-", "bytes=-3", "bytes=999999-"]))
            status, answer_headers, raw = call(gw.base_url, method, url, body, headers)
            _check(document, operation, status, answer_headers, raw)

        @given(
            method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD"]),
            path=st.text(max_size=30),
            body=st.binary(max_size=40) | JSON.map(lambda value: json.dumps(value).encode()),
            authorization=st.text(string.printable.strip(), max_size=30) | st.just(f"Bearer {TEST_TOKEN}"),
            content_type=st.text(string.ascii_letters + "/;=-", max_size=30),
        )
        @settings(SETTINGS, max_examples=100)
        def junk_requests(method, path, body, authorization, content_type):
            url = "/" + urllib.parse.quote(path)
            headers = {"Authorization": authorization, "Content-Type": content_type}
            status, answer_headers, raw = call(gw.base_url, method, url, None if method == "HEAD" else body, headers)
            if method != "HEAD":
                _check(document, None, status, answer_headers, raw)
            else:
                assert status < 500

        await asyncio.to_thread(documented_operations)
        await asyncio.to_thread(junk_requests)
