"""An emulator of the OpenAI Videos API, strict like the real endpoint.

``create_app(settings)`` builds an :class:`aiohttp.web.Application` serving
``/v1/videos`` (create, list, retrieve, delete, remix, content, extensions,
edits, characters). It checks
``Authorization: Bearer`` against ``settings.credentials["api_key"]`` (and
``OpenAI-Organization`` / ``OpenAI-Project`` when the settings name them),
rejects unknown fields, wrong types, ``seconds`` sent as a number and sizes
the model does not offer with OpenAI's error body, and accepts JSON and
multipart bodies. Videos are ``queued``, then ``in_progress`` with rising
progress, then ``completed`` (or ``failed``) after
``settings.generation_seconds``. Prompt markers from
:class:`reelay.emulation.Scenario` choose failures.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from reelay.emulation import EmulatedJob, EmulatorSettings, JobPhase, Scenario, sample_asset, scenario_for
from reelay.http.ranges import bytes_response

from .models import DEFAULT_SECONDS, DEFAULT_SIZE, SECONDS, UPSTREAM_SIZES

MAX_PROMPT_CHARS = 32000
MAX_IMAGE_URL_CHARS = 20971520
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
CREATE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference", "characters")
#: What an extension may add (``POST /videos/extensions``), as strings.
EXTENSION_SECONDS = ("4", "8", "12", "16", "20")
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
MAX_CHARACTER_NAME = 80
ALLOWED_SECONDS = tuple(str(value) for value in SECONDS)
ALL_SIZES = tuple(dict.fromkeys(size for sizes in UPSTREAM_SIZES.values() for size in sizes))
#: How long the assets of a completed video stay downloadable.
ASSET_LIFETIME = 3600

_BRACKETED = re.compile(r"^(\w+)\[(\w+)\]$")
_CHARACTER_FIELD = re.compile(r"^characters\[\d*\]\[(\w+)\]$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class OpenAIError(Exception):
    """An error answered in OpenAI's shape ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def response(self) -> web.Response:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return web.json_response(body, status=self.status)


def _invalid(message: str, param: str | None = None, code: str | None = "invalid_value") -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


@attrs.define
class VideoStore:
    """Every video the emulator knows, in creation order, and the submission count."""

    videos: dict[str, EmulatedJob] = attrs.field(factory=dict)
    submissions: int = 0
    characters: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    def get(self, video_id: str) -> EmulatedJob:
        job = self.videos.get(video_id)
        if job is None:
            raise OpenAIError(404, f"Video with id '{video_id}' not found.", param="video_id")
        return job


SETTINGS = web.AppKey("sora_emulator_settings", EmulatorSettings)
STORE = web.AppKey("sora_emulator_store", VideoStore)


def create_app(settings: EmulatorSettings) -> web.Application:
    """The emulator application; mount it anywhere or serve it on loopback."""
    app = web.Application(middlewares=[_errors, _auth], client_max_size=64 * 1024 * 1024)
    app[SETTINGS] = settings
    app[STORE] = VideoStore()
    app.router.add_post("/v1/videos", create_video)
    app.router.add_post("/v1/videos/extensions", extend_video)
    app.router.add_post("/v1/videos/edits", edit_video)
    app.router.add_post("/v1/videos/characters", create_character)
    app.router.add_get("/v1/videos/characters/{character_id}", get_character)
    app.router.add_get("/v1/videos", list_videos)
    app.router.add_get("/v1/videos/{video_id}", retrieve_video)
    app.router.add_delete("/v1/videos/{video_id}", delete_video)
    app.router.add_post("/v1/videos/{video_id}/remix", remix_video)
    app.router.add_get("/v1/videos/{video_id}/content", video_content)
    return app


# ---------------------------------------------------------------- middlewares


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except OpenAIError as error:
        response = error.response()
    except web.HTTPRequestRangeNotSatisfiable:
        raise
    except web.HTTPException as error:
        if error.status < 400:
            raise
        response = OpenAIError(error.status, error.reason, code=None).response()
    response.headers["x-request-id"] = "req_" + secrets.token_hex(12)
    return response


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    credentials = request.app[SETTINGS].credentials
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if not header:
        raise OpenAIError(
            401,
            "You didn't provide an API key. Provide it in an Authorization header (Authorization: Bearer YOUR_KEY).",
        )
    if scheme != "Bearer" or not secrets.compare_digest(key.strip(), credentials.get("api_key", "")):
        raise OpenAIError(401, "Incorrect API key provided.", code="invalid_api_key")
    for credential, name in (("organization", "OpenAI-Organization"), ("project", "OpenAI-Project")):
        wanted = credentials.get(credential)
        if wanted and request.headers.get(name) != wanted:
            raise OpenAIError(401, f"The {name} header does not match this API key.", code=f"mismatched_{credential}")
    return await handler(request)


# ---------------------------------------------------------------- bodies


async def _read_body(request: web.Request) -> tuple[dict[str, Any], dict[str, web.FileField]]:
    """The fields (and, for multipart, the file parts) of a JSON or multipart body."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _invalid("We could not parse the JSON body of your request.", code=None) from None
        if not isinstance(body, dict):
            raise _invalid("The request body must be a JSON object.", code="invalid_type")
        return body, {}
    if request.content_type == "multipart/form-data":
        form = await request.post()
        fields: dict[str, Any] = {}
        files: dict[str, web.FileField] = {}
        for name in form:
            values = form.getall(name)
            if len(values) > 1:
                raise _invalid(f"Parameter '{name}' was given more than once.", param=name)
            if isinstance(values[0], web.FileField):
                files[name] = values[0]
            elif match := _CHARACTER_FIELD.match(name):
                fields.setdefault("characters", []).append({match.group(1): values[0]})
            elif match := _BRACKETED.match(name):
                # The SDK flattens objects: input_reference[image_url]=...
                nested = fields.setdefault(match.group(1), {})
                if not isinstance(nested, dict):
                    raise _invalid(f"Parameter '{match.group(1)}' was given more than once.", param=match.group(1))
                nested[match.group(2)] = values[0]
            else:
                if name in fields:
                    raise _invalid(f"Parameter '{name}' was given more than once.", param=name)
                fields[name] = values[0]
        return fields, files
    raise _invalid(
        f"Unsupported content type '{request.content_type}': send application/json or multipart/form-data.",
        code="unsupported_content_type",
    )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "an integer" if isinstance(value, int) else "a number"
    return {type(None): "null", list: "an array", dict: "an object", str: "a string"}.get(type(value), "an object")


def _string(fields: Mapping[str, Any], name: str, expected: str = "a string") -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(
            f"Invalid type for '{name}': expected {expected}, but got {_json_type(value)} instead.",
            param=name,
            code="invalid_type",
        )
    return value


def _one_of(values: tuple[str, ...]) -> str:
    quoted = [f"'{value}'" for value in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _unknown(fields: Mapping[str, Any], files: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for name in (*fields, *files):
        if name not in allowed:
            raise _invalid(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def _prompt(fields: Mapping[str, Any]) -> str:
    prompt = _string(fields, "prompt")
    if prompt is None:
        raise _invalid("Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
    if not prompt:
        raise _invalid("Invalid 'prompt': empty string.", param="prompt", code="empty_string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise _invalid(
            f"Invalid 'prompt': string too long. Expected a string with maximum length {MAX_PROMPT_CHARS}.",
            param="prompt",
            code="string_above_max_length",
        )
    return prompt


def _validate_create(fields: Mapping[str, Any], files: Mapping[str, web.FileField]) -> dict[str, Any]:
    _unknown(fields, files, CREATE_FIELDS)
    prompt = _prompt(fields)
    model = _string(fields, "model") or "sora-2"
    if model not in UPSTREAM_SIZES:
        raise _invalid(f"Invalid value: '{model}'. Supported values are: {_one_of(tuple(UPSTREAM_SIZES))}.", "model")
    seconds = _string(fields, "seconds", f"one of {_one_of(ALLOWED_SECONDS).replace(', and', ', or')}")
    seconds = str(DEFAULT_SECONDS) if seconds is None else seconds
    if seconds not in ALLOWED_SECONDS:
        raise _invalid(f"Invalid value: '{seconds}'. Supported values are: {_one_of(ALLOWED_SECONDS)}.", "seconds")
    size = _string(fields, "size") or DEFAULT_SIZE
    if size not in ALL_SIZES:
        raise _invalid(f"Invalid value: '{size}'. Supported values are: {_one_of(ALL_SIZES)}.", "size")
    if size not in UPSTREAM_SIZES[model]:
        raise _invalid(
            f"Invalid size '{size}' for model '{model}'. Supported sizes: {_one_of(UPSTREAM_SIZES[model])}.", "size"
        )
    reference = _input_reference(fields, files)
    return {"prompt": prompt, "model": model, "seconds": seconds, "size": size, "input_reference": reference}


def _characters(fields: Mapping[str, Any], store: VideoStore) -> list[str]:
    """``characters: [{"id": ...}]``: each a character this key created."""
    value = fields.get("characters")
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(
            f"Invalid type for 'characters': expected an array, but got {_json_type(value)} instead.",
            param="characters",
            code="invalid_type",
        )
    found = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"id"} or not isinstance(item["id"], str):
            raise _invalid(f"Invalid 'characters[{index}]': expected an object with 'id'.", f"characters[{index}]")
        if item["id"] not in store.characters:
            raise _invalid(f"Character with id '{item['id']}' not found.", f"characters[{index}].id")
        found.append(item["id"])
    return found


def _input_reference(fields: Mapping[str, Any], files: Mapping[str, web.FileField]) -> str | None:
    """What kind of first frame came: ``file``, ``image_url`` or None."""
    upload = files.get("input_reference")
    if upload is not None:
        if upload.content_type not in IMAGE_TYPES:
            raise _invalid(
                f"Invalid file type '{upload.content_type}' for 'input_reference'. "
                f"Supported types: {_one_of(IMAGE_TYPES)}.",
                "input_reference",
                code="invalid_image_format",
            )
        if not upload.file.read(1):
            raise _invalid("The file given for 'input_reference' is empty.", "input_reference", code="empty_file")
        return "file"
    value = fields.get("input_reference")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(
            f"Invalid type for 'input_reference': expected an object, but got {_json_type(value)} instead.",
            param="input_reference",
            code="invalid_type",
        )
    for key in value:
        if key not in ("image_url", "file_id"):
            raise _invalid(
                f"Unknown parameter: 'input_reference.{key}'.", param=f"input_reference.{key}", code="unknown_parameter"
            )
    if len(value) != 1:
        raise _invalid("'input_reference' needs exactly one of 'image_url' or 'file_id'.", "input_reference")
    if "file_id" in value:
        file_id = _string(value, "file_id")
        raise _invalid(f"No such File object: {file_id}", "input_reference.file_id")
    url = _string(value, "image_url")
    assert url is not None
    if not url.startswith(("http://", "https://", "data:image/")) or len(url) > MAX_IMAGE_URL_CHARS:
        raise _invalid(
            "Invalid 'input_reference.image_url': expected a fully qualified URL or a base64 data URL.",
            "input_reference.image_url",
        )
    return "image_url"


# ---------------------------------------------------------------- videos


def _new_job(settings: EmulatorSettings, values: Mapping[str, Any], remixed_from: str | None = None) -> EmulatedJob:
    return EmulatedJob(
        id="video_" + secrets.token_hex(16),
        duration=settings.generation_seconds,
        scenario=scenario_for(values["prompt"]),
        data={**values, "remixed_from_video_id": remixed_from},
    )


_FAILURES = {
    Scenario.FAIL: ("video_generation_failed", "The video could not be generated. Please try again."),
    Scenario.BLOCK: ("moderation_blocked", "The generated video was blocked by our moderation system."),
}


def video_json(job: EmulatedJob, now: float | None = None) -> dict[str, Any]:
    """The video object for ``job`` as it stands at ``now``."""
    now = time.time() if now is None else now
    phase = job.phase(now)
    completed_at = expires_at = error = None
    if phase is JobPhase.QUEUED:
        status, progress = "queued", 0
    elif phase is JobPhase.RUNNING:
        status, progress = "in_progress", max(1, min(99, job.progress(now)))
    elif job.succeeds:
        status, progress = "completed", 100
        completed_at = int(job.created + job.duration)
        expires_at = completed_at + ASSET_LIFETIME
    else:
        status, progress = "failed", 99
        code, message = _FAILURES.get(job.scenario, _FAILURES[Scenario.FAIL])
        error = {"code": code, "message": message}
    return {
        "id": job.id,
        "object": "video",
        "model": job.data["model"],
        "status": status,
        "progress": progress,
        "created_at": int(job.created),
        "completed_at": completed_at,
        "expires_at": expires_at,
        "prompt": job.data["prompt"],
        "size": job.data["size"],
        "seconds": job.data["seconds"],
        "remixed_from_video_id": job.data["remixed_from_video_id"],
        "error": error,
    }


def _refuse_at_submission(prompt: str) -> None:
    scenario = scenario_for(prompt)
    if scenario is Scenario.REJECT:
        raise OpenAIError(
            400,
            "Your request was blocked by our moderation system.",
            param="prompt",
            code="moderation_blocked",
        )
    if scenario is Scenario.INVALID:
        raise _invalid("Invalid 'prompt': the request could not be processed.", "prompt", code="invalid_request")


async def create_video(request: web.Request) -> web.Response:
    settings, store = request.app[SETTINGS], request.app[STORE]
    store.submissions += 1
    if store.submissions <= settings.fail_submissions:
        raise OpenAIError(
            500, "The server had an error while processing your request.", type="server_error", code="server_error"
        )
    fields, files = await _read_body(request)
    values = _validate_create(fields, files)
    values["characters"] = _characters(fields, store)
    _refuse_at_submission(values["prompt"])
    job = _new_job(settings, values)
    store.videos[job.id] = job
    return web.json_response(video_json(job))


async def list_videos(request: web.Request) -> web.Response:
    store = request.app[STORE]
    query = request.query
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise _invalid(f"Invalid value for 'limit': {query.get('limit')!r} is not an integer.", "limit") from None
    if not 0 <= limit <= 100:
        raise _invalid("Invalid 'limit': expected an integer between 0 and 100.", "limit")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise _invalid(f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", "order")
    jobs = list(store.videos.values())
    if order == "desc":
        jobs.reverse()
    after = query.get("after")
    if after:
        ids = [job.id for job in jobs]
        if after not in ids:
            raise _invalid(f"Invalid 'after': no video with id '{after}'.", "after")
        jobs = jobs[ids.index(after) + 1 :]
    page = jobs[:limit]
    now = time.time()
    data = [video_json(job, now) for job in page]
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(jobs) > len(page),
        }
    )


async def retrieve_video(request: web.Request) -> web.Response:
    job = request.app[STORE].get(request.match_info["video_id"])
    return web.json_response(video_json(job))


async def delete_video(request: web.Request) -> web.Response:
    store = request.app[STORE]
    job = store.get(request.match_info["video_id"])
    del store.videos[job.id]
    return web.json_response({"id": job.id, "object": "video.deleted", "deleted": True})


async def remix_video(request: web.Request) -> web.Response:
    settings, store = request.app[SETTINGS], request.app[STORE]
    original = store.get(request.match_info["video_id"])
    fields, files = await _read_body(request)
    _unknown(fields, files, ("prompt",))
    prompt = _prompt(fields)
    if video_json(original)["status"] != "completed":
        raise OpenAIError(409, f"Video '{original.id}' is not completed; only completed videos can be remixed.")
    _refuse_at_submission(prompt)
    values = {key: original.data[key] for key in ("model", "seconds", "size")}
    job = _new_job(settings, {**values, "prompt": prompt, "input_reference": None}, remixed_from=original.id)
    store.videos[job.id] = job
    return web.json_response(video_json(job))


def _source_video(fields: Mapping[str, Any], files: Mapping[str, web.FileField], store: VideoStore) -> Any:
    """``video``: a completed video of this key (``{"id": ...}``) or an uploaded video file."""
    upload = files.get("video")
    if upload is not None:
        _check_video_file(upload)
        return None
    value = fields.get("video")
    if value is None:
        raise _invalid("Missing required parameter: 'video'.", param="video", code="missing_required_parameter")
    if not isinstance(value, dict) or set(value) != {"id"} or not isinstance(value["id"], str):
        raise _invalid("Invalid 'video': expected a file or an object with 'id'.", "video", code="invalid_type")
    job = store.get(value["id"])
    if video_json(job)["status"] != "completed":
        raise OpenAIError(409, f"Video '{job.id}' is not completed.", param="video")
    return job


def _check_video_file(upload: web.FileField) -> None:
    if upload.content_type not in VIDEO_TYPES:
        raise _invalid(
            f"Invalid file type '{upload.content_type}' for 'video'. Supported types: {_one_of(VIDEO_TYPES)}.",
            "video",
            code="invalid_video_format",
        )
    if not upload.file.read(1):
        raise _invalid("The file given for 'video' is empty.", "video", code="empty_file")


async def _derived(request: web.Request, allowed: tuple[str, ...], seconds_of: Callable[[Any], str]) -> web.Response:
    settings, store = request.app[SETTINGS], request.app[STORE]
    fields, files = await _read_body(request)
    _unknown(fields, files, allowed)
    prompt = _prompt(fields)
    source = _source_video(fields, files, store)
    seconds = seconds_of(fields)
    _refuse_at_submission(prompt)
    base = source.data if source is not None else {"model": "sora-2", "size": DEFAULT_SIZE, "seconds": "4"}
    values = {"model": base["model"], "size": base["size"], "prompt": prompt, "input_reference": None}
    total = str(int(base["seconds"]) + int(seconds)) if seconds else base["seconds"]
    job = _new_job(settings, {**values, "seconds": total}, remixed_from=source.id if source is not None else None)
    store.videos[job.id] = job
    return web.json_response(video_json(job))


def _extension_seconds(fields: Mapping[str, Any]) -> str:
    seconds = _string(fields, "seconds")
    if seconds is None:
        raise _invalid("Missing required parameter: 'seconds'.", param="seconds", code="missing_required_parameter")
    if seconds not in EXTENSION_SECONDS:
        raise _invalid(f"Invalid value: '{seconds}'. Supported values are: {_one_of(EXTENSION_SECONDS)}.", "seconds")
    return seconds


async def extend_video(request: web.Request) -> web.Response:
    """``POST /videos/extensions``: ``{prompt, seconds, video}``; the new video's ``seconds`` is the stitched total."""
    return await _derived(request, ("prompt", "seconds", "video"), _extension_seconds)


async def edit_video(request: web.Request) -> web.Response:
    """``POST /videos/edits``: ``{prompt, video}``."""
    return await _derived(request, ("prompt", "video"), lambda _: "")


async def create_character(request: web.Request) -> web.Response:
    """``POST /videos/characters``: multipart ``name`` (1-80 characters) and a ``video`` file."""
    store = request.app[STORE]
    if request.content_type != "multipart/form-data":
        raise _invalid("This endpoint takes multipart/form-data.", code="unsupported_content_type")
    fields, files = await _read_body(request)
    _unknown(fields, files, ("name", "video"))
    name = _string(fields, "name")
    if not name:
        raise _invalid("Missing required parameter: 'name'.", param="name", code="missing_required_parameter")
    if len(name) > MAX_CHARACTER_NAME:
        raise _invalid(
            f"Invalid 'name': string too long. Expected a string with maximum length {MAX_CHARACTER_NAME}.",
            "name",
            code="string_above_max_length",
        )
    upload = files.get("video")
    if upload is None:
        raise _invalid("Missing required parameter: 'video'.", param="video", code="missing_required_parameter")
    _check_video_file(upload)
    character = {"id": "char_" + secrets.token_hex(16), "name": name, "created_at": int(time.time())}
    store.characters[character["id"]] = character
    return web.json_response(character)


async def get_character(request: web.Request) -> web.Response:
    character = request.app[STORE].characters.get(request.match_info["character_id"])
    if character is None:
        raise OpenAIError(404, f"Character with id '{request.match_info['character_id']}' not found.", param="id")
    return web.json_response(character)


_VARIANTS: dict[str, tuple[str, Callable[[EmulatorSettings, EmulatedJob], bytes]]] = {
    "video": ("video/mp4", lambda settings, job: settings.video_for(int(job.data["seconds"]), job.data["size"])),
    "thumbnail": ("image/webp", lambda *_: sample_asset("sample.webp")),
    "spritesheet": ("image/jpeg", lambda *_: sample_asset("sample.jpg")),
}


async def video_content(request: web.Request) -> web.Response:
    job = request.app[STORE].get(request.match_info["video_id"])
    variant = request.query.get("variant", "video")
    if variant not in _VARIANTS:
        raise _invalid(f"Invalid value: '{variant}'. Supported values are: {_one_of(tuple(_VARIANTS))}.", "variant")
    status = video_json(job)["status"]
    if status != "completed":
        raise OpenAIError(
            409, f"Video '{job.id}' is {status}; its content is available once it is completed.", code="video_not_ready"
        )
    mime_type, read = _VARIANTS[variant]
    return bytes_response(request, read(request.app[SETTINGS], job), mime_type)
