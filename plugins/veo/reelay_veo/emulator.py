"""An emulator of Veo on the Gemini API or on Vertex AI (``settings.options["api"]``).

It is strict the way Google is: unknown or mistyped request fields are a 400
``INVALID_ARGUMENT`` in Google's error shape, Vertex-only parameters are
refused on the Gemini form, credentials are checked, and operations finish
after ``settings.generation_seconds``.

* Gemini results are file URIs (``/v1beta/files/<id>:download?alt=media``)
  that need the API key and answer with a 302 to a second path serving the
  bytes without it, as Google's download does.
* Vertex results are inline base64 bytes, or, with ``storageUri``, a
  ``gs://`` URI readable through an emulated Cloud Storage JSON API
  (``/storage/v1/b/<bucket>/o/<object>?alt=media``).
* Vertex service accounts: a service-account file whose ``token_uri`` is this
  emulator's ``/token`` gets tokens here, when its public key is listed in
  ``settings.options["service_accounts"]`` (``{client_email: PEM}``).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from reelay.emulation import EmulatedJob, EmulatorSettings, JobPhase, Scenario, json_error, scenario_for
from reelay.http.ranges import bytes_response
from reelay.normalize import allowed_durations

from .models import BY_UPSTREAM, SIZES, SIZES_720P, VERTEX_ONLY_PARAMETERS, ApiForm, VeoModel, models_for
from .wire import COMPRESSION_QUALITY, IMAGE_TYPES, MAX_SEED, PERSON_GENERATION, RESIZE_MODES

GEMINI_DEMO_CREDENTIALS = {"api_key": "demo-gemini-key"}
VERTEX_DEMO_CREDENTIALS = {"project": "demo-project", "location": "us-central1", "access_token": "demo-vertex-token"}

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
REJECT_MESSAGE = (
    "The prompt could not be submitted. This prompt contains sensitive words that violate Google's"
    " Responsible AI practices. Try rephrasing the prompt. Support codes: 15236754 [emulated]"
)
FILTER_REASON = (
    "Veo could not generate videos because the input image or prompt violates Google's usage guidelines."
    " Support codes: 58061214 [emulated]"
)

_GEMINI_PARAMETERS: dict[str, str] = {
    "sampleCount": "int",
    "durationSeconds": "int",
    "aspectRatio": "str",
    "resolution": "str",
    "personGeneration": "str",
    "negativePrompt": "str",
    "enhancePrompt": "bool",
}
_VERTEX_PARAMETERS: dict[str, str] = {
    **_GEMINI_PARAMETERS,
    "seed": "int",
    "generateAudio": "bool",
    "storageUri": "str",
    "compressionQuality": "str",
    "resizeMode": "str",
    "fps": "int",
    "pubsubTopic": "str",
}
_INSTANCE_FIELDS = {"prompt", "image", "lastFrame", "referenceImages", "video"}
_TYPES = {"int": "TYPE_INT32", "bool": "TYPE_BOOL", "str": "TYPE_STRING"}


@attrs.define
class EmulatorState:
    settings: EmulatorSettings
    api: ApiForm
    jobs: dict[str, EmulatedJob] = attrs.field(factory=dict)
    submissions: int = 0
    files: dict[str, str] = attrs.field(factory=dict)  # file id -> download signature
    objects: dict[str, str] = attrs.field(factory=dict)  # "bucket/object" written by jobs -> file id
    videos: dict[str, bytes] = attrs.field(factory=dict)  # file id -> the video its job made
    tokens: dict[str, float] = attrs.field(factory=dict)  # issued access token -> expiry
    bodies: list[dict[str, Any]] = attrs.field(factory=list)  # every accepted submission, for tests


STATE = web.AppKey("veo.emulator.state", EmulatorState)


class GoogleError(Exception):
    """An error answered in Google's shape."""

    def __init__(self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details or []

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return json_error(self.code, {"error": error})


def invalid(message: str) -> GoogleError:
    return GoogleError(400, "INVALID_ARGUMENT", message)


def create_app(settings: EmulatorSettings) -> web.Application:
    """The emulator application; ``settings.options["api"]`` picks the form (gemini by default)."""
    api = ApiForm(str(settings.options.get("api", ApiForm.GEMINI.value)))
    app = web.Application(middlewares=[_google_errors], client_max_size=64 * 1024 * 1024)
    app[STATE] = EmulatorState(settings=settings, api=api)
    if api is ApiForm.GEMINI:
        app.router.add_post("/v1beta/models/{call}", gemini_submit)
        app.router.add_get("/v1beta/models/{model}/operations/{op}", gemini_operation)
        app.router.add_get("/v1beta/files/{call}", gemini_file)
        app.router.add_get("/download/v1beta/files/{file}", gemini_download)
    else:
        app.router.add_post("/v1/projects/{project}/locations/{location}/publishers/google/models/{call}", vertex_call)
        app.router.add_post("/token", oauth_token)
        app.router.add_get("/storage/v1/b/{bucket}/o/{object:.+}", storage_object)
    return app


@web.middleware
async def _google_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    try:
        return await handler(request)
    except GoogleError as error:
        return error.response()
    except web.HTTPNotFound:
        return GoogleError(
            404, "NOT_FOUND", f"The requested URL {request.path} was not found on this server."
        ).response()
    except web.HTTPMethodNotAllowed:
        return GoogleError(405, "UNIMPLEMENTED", f"Method {request.method} is not allowed here.").response()


# ---------------------------------------------------------------- Gemini form


async def gemini_submit(request: web.Request) -> web.Response:
    state = request.app[STATE]
    model_id, _, method = request.match_info["call"].partition(":")
    _check_api_key(request, state)
    if method != "predictLongRunning":
        raise GoogleError(404, "NOT_FOUND", f"Method {method or '(none)'} is not found on models/{model_id}.")
    model = _model(state, model_id)
    if model is None:
        raise GoogleError(
            404,
            "NOT_FOUND",
            f"models/{model_id} is not found for API version v1beta, or is not supported for predictLongRunning."
            " Call ListModels to see the list of available models and their supported methods.",
        )
    body = await _json(request)
    return _accept(state, model, body, f"models/{model_id}/operations/{secrets.token_hex(8)}")


async def gemini_operation(request: web.Request) -> web.Response:
    state = request.app[STATE]
    _check_api_key(request, state)
    name = f"models/{request.match_info['model']}/operations/{request.match_info['op']}"
    job = state.jobs.get(name)
    if job is None:
        raise GoogleError(404, "NOT_FOUND", f"Operation {name} not found.")
    return web.json_response(_operation(state, job, request))


async def gemini_file(request: web.Request) -> web.Response:
    state = request.app[STATE]
    file_id, _, method = request.match_info["call"].partition(":")
    _check_api_key(request, state)
    signature = state.files.get(file_id)
    if method != "download" or signature is None:
        raise GoogleError(404, "NOT_FOUND", f"File files/{file_id} not found.")
    if request.query.get("alt") != "media":
        return web.json_response({"name": f"files/{file_id}", "mimeType": "video/mp4", "state": "ACTIVE"})
    raise web.HTTPFound(f"/download/v1beta/files/{file_id}?sig={signature}")


async def gemini_download(request: web.Request) -> web.Response:
    state = request.app[STATE]
    signature = state.files.get(request.match_info["file"])
    if signature is None or not secrets.compare_digest(request.query.get("sig", ""), signature):
        raise GoogleError(403, "PERMISSION_DENIED", "The download link is not valid.")
    return bytes_response(request, state.videos[request.match_info["file"]], "video/mp4")


def _check_api_key(request: web.Request, state: EmulatorState) -> None:
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key:
        raise GoogleError(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity)."
            " Please use API Key or other form of API consumer identity to call this API.",
        )
    if not secrets.compare_digest(key.strip(), state.settings.credentials.get("api_key", "")):
        raise GoogleError(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        )


# ---------------------------------------------------------------- Vertex form


async def vertex_call(request: web.Request) -> web.Response:
    state = request.app[STATE]
    _check_bearer(request, state)
    project, location = request.match_info["project"], request.match_info["location"]
    credentials = state.settings.credentials
    if project != credentials.get("project") or location != credentials.get("location"):
        raise GoogleError(
            403,
            "PERMISSION_DENIED",
            f"Permission 'aiplatform.endpoints.predict' denied on resource"
            f" 'projects/{project}/locations/{location}' (or it may not exist).",
        )
    model_id, _, method = request.match_info["call"].partition(":")
    resource = f"projects/{project}/locations/{location}/publishers/google/models/{model_id}"
    model = _model(state, model_id)
    if model is None:
        raise GoogleError(404, "NOT_FOUND", f"Publisher Model `{resource}` not found.")
    body = await _json(request)
    if method == "predictLongRunning":
        return _accept(state, model, body, f"{resource}/operations/{uuid.uuid4()}")
    if method == "fetchPredictOperation":
        _check_fields(body, {"operationName": "str"}, "")
        name = body.get("operationName")
        if not isinstance(name, str) or not name.startswith(resource + "/operations/"):
            raise invalid(f"Invalid operationName for {resource}.")
        job = state.jobs.get(name)
        if job is None:
            raise GoogleError(404, "NOT_FOUND", f"Operation {name} not found.")
        return web.json_response(_operation(state, job, request))
    raise GoogleError(404, "NOT_FOUND", f"Method {method or '(none)'} is not found on {resource}.")


def _check_bearer(request: web.Request, state: EmulatorState) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    static = state.settings.credentials.get("access_token", "")
    issued = state.tokens.get(token, 0.0) > time.time()
    valid = scheme.lower() == "bearer" and token and (issued or (static and secrets.compare_digest(token, static)))
    if not valid:
        raise GoogleError(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or"
            " other valid authentication credential.",
        )


async def oauth_token(request: web.Request) -> web.Response:
    """Google's OAuth token endpoint, for the JWT-bearer grant service accounts use."""
    from google.auth import exceptions, jwt

    state = request.app[STATE]
    form = await request.post()
    if form.get("grant_type") != JWT_GRANT or not isinstance(form.get("assertion"), str):
        return web.json_response({"error": "unsupported_grant_type"}, status=400)
    assertion = str(form["assertion"])
    accounts: Mapping[str, str] = state.settings.options.get("service_accounts", {})
    try:
        claims = jwt.decode(assertion, verify=False)
        public_key = accounts.get(str(claims.get("iss")))
        if public_key is None:
            raise ValueError("unknown service account")
        # google-auth always addresses the grant to Google's token endpoint, whatever token_uri says.
        claims = jwt.decode(assertion, certs=public_key, audience=GOOGLE_TOKEN_AUDIENCE)
    except (ValueError, exceptions.GoogleAuthError) as error:
        return web.json_response({"error": "invalid_grant", "error_description": str(error)[:200]}, status=400)
    if CLOUD_PLATFORM_SCOPE not in str(claims.get("scope", "")).split():
        return web.json_response({"error": "invalid_scope", "error_description": "scope missing"}, status=400)
    lifetime = int(state.settings.options.get("token_lifetime_seconds", 3600))
    token = "ya29.emulated-" + secrets.token_urlsafe(24)
    state.tokens[token] = time.time() + lifetime
    return web.json_response({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"})


async def storage_object(request: web.Request) -> web.Response:
    """The Cloud Storage JSON API, for the objects the emulated jobs wrote."""
    state = request.app[STATE]
    _check_bearer(request, state)
    key = f"{request.match_info['bucket']}/{request.match_info['object']}"
    if key not in state.objects:
        raise GoogleError(404, "NOT_FOUND", f"No such object: {key}")
    if request.query.get("alt") != "media":
        return web.json_response({"bucket": request.match_info["bucket"], "name": request.match_info["object"]})
    return bytes_response(request, state.videos[state.objects[key]], "video/mp4")


# ---------------------------------------------------------------- both forms


def _model(state: EmulatorState, model_id: str) -> VeoModel | None:
    model = BY_UPSTREAM.get(model_id)
    if model is None or model.name not in models_for(state.api):
        return None
    return model


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise invalid("Invalid JSON payload received. Unexpected token.") from None


def _accept(state: EmulatorState, model: VeoModel, body: Any, name: str) -> web.Response:
    state.submissions += 1
    if state.submissions <= state.settings.fail_submissions:
        raise GoogleError(503, "UNAVAILABLE", "The service is currently unavailable. [emulated]")
    instance, parameters = _validate(state.api, model, body)
    scenario = scenario_for(instance.get("prompt"))
    if scenario is Scenario.REJECT:
        raise invalid(REJECT_MESSAGE)
    if scenario is Scenario.INVALID:
        raise invalid("Request contains an invalid argument. [emulated]")
    job = EmulatedJob(id=name, duration=state.settings.generation_seconds, scenario=scenario)
    job.data.update(storage_uri=parameters.get("storageUri"), file_id=secrets.token_hex(8))
    seconds = parameters.get("durationSeconds", model.spec.default_duration)
    state.videos[job.data["file_id"]] = state.settings.video_for(seconds, parameters.get("aspectRatio", "16:9"))
    state.jobs[name] = job
    state.bodies.append(body)
    return web.json_response({"name": name})


def _operation(state: EmulatorState, job: EmulatedJob, request: web.Request) -> dict[str, Any]:
    operation: dict[str, Any] = {"name": job.id}
    if job.phase() is not JobPhase.DONE:
        return operation  # proto3 JSON omits done=false
    operation["done"] = True
    if job.scenario is Scenario.FAIL:
        operation["error"] = {"code": 13, "message": "Video generation failed: an internal error occurred. [emulated]"}
        return operation
    if job.scenario is Scenario.BLOCK:
        video_response: dict[str, Any] = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [FILTER_REASON]}
    elif state.api is ApiForm.GEMINI:
        state.files.setdefault(job.data["file_id"], secrets.token_urlsafe(16))
        uri = f"{request.url.origin()}/v1beta/files/{job.data['file_id']}:download?alt=media"
        video_response = {"generatedSamples": [{"video": {"uri": uri}}]}
    elif job.data.get("storage_uri"):
        prefix = job.data["storage_uri"].removeprefix("gs://").rstrip("/")
        state.objects[f"{prefix}/{job.data['file_id']}/sample_0.mp4"] = job.data["file_id"]
        video_response = {
            "raiMediaFilteredCount": 0,
            "videos": [{"gcsUri": f"gs://{prefix}/{job.data['file_id']}/sample_0.mp4", "mimeType": "video/mp4"}],
        }
    else:
        encoded = base64.b64encode(state.videos[job.data["file_id"]]).decode()
        video_response = {
            "raiMediaFilteredCount": 0,
            "videos": [{"bytesBase64Encoded": encoded, "mimeType": "video/mp4"}],
        }
    if state.api is ApiForm.GEMINI:
        operation["response"] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            "generateVideoResponse": video_response,
        }
    else:
        operation["response"] = {
            "@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
            **video_response,
        }
    return operation


# ---------------------------------------------------------------- validation


def _validate(api: ApiForm, model: VeoModel, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The instance and parameters of a ``predictLongRunning`` body, checked like Google does."""
    _check_fields(body, {"instances": "list", "parameters": "dict"}, "")
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1:
        raise invalid("Exactly one instance is supported for video generation.")
    instance = instances[0]
    _check_fields(instance, dict.fromkeys(_INSTANCE_FIELDS, "any"), "instances[0]")
    parameters = body.get("parameters") or {}
    allowed = _VERTEX_PARAMETERS if api is ApiForm.VERTEX else _GEMINI_PARAMETERS
    for key in parameters if isinstance(parameters, dict) else ():
        if api is ApiForm.GEMINI and key in VERTEX_ONLY_PARAMETERS:
            raise invalid(f"`{key}` isn't supported by this model. Please remove it or refer to the Gemini API docs.")
    _check_fields(parameters, allowed, "parameters")

    prompt = instance.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise invalid(f"Invalid value at 'instances[0].prompt' (TYPE_STRING), {prompt!r}")
    caps = model.spec.capabilities
    images = [("image", instance.get("image")), ("lastFrame", instance.get("lastFrame"))]
    references = instance.get("referenceImages")
    if references is not None:
        if not isinstance(references, list) or not 1 <= len(references) <= caps.max_reference_images:
            raise invalid(f"referenceImages isn't supported by {model.spec.upstream} or has more than 3 images.")
        for index, reference in enumerate(references):
            where = f"instances[0].referenceImages[{index}]"
            _check_fields(reference, {"image": "dict", "referenceType": "str"}, where)
            if str(reference.get("referenceType", "")).lower() != "asset":
                raise invalid(f"Invalid value at '{where}.referenceType': only asset references are supported.")
            images.append((f"referenceImages[{index}].image", reference.get("image")))
        if not prompt:
            raise invalid("A prompt is required with reference images.")
    for where, image in images:
        if image is not None:
            _check_image(api, image, f"instances[0].{where}")
    if instance.get("lastFrame") is not None and (instance.get("image") is None or not caps.end_frame):
        raise invalid(f"lastFrame isn't supported by {model.spec.upstream}, or was sent without image.")
    if instance.get("video") is not None:
        _check_extension(api, model, instance, parameters)
        return instance, parameters
    if not prompt and instance.get("image") is None:
        raise invalid("A prompt or an image is required.")

    _check_parameter_values(api, model, parameters, bool(references))
    return instance, parameters


def _check_extension(api: ApiForm, model: VeoModel, instance: dict[str, Any], parameters: dict[str, Any]) -> None:
    """Video extension (Veo 3.1, not Lite): the earlier video alone, 720p, durationSeconds 8 (7 s are added)."""
    upstream = model.spec.upstream
    if not model.spec.capabilities.extend:
        raise invalid(f"Video extension isn't supported by {upstream}.")
    if any(instance.get(key) is not None for key in ("image", "lastFrame", "referenceImages")):
        raise invalid("video can't be combined with image, lastFrame or referenceImages.")
    video = instance["video"]
    forms = (
        ({"uri"}, {"encodedVideo", "encoding"})
        if api is ApiForm.GEMINI
        else ({"gcsUri", "mimeType"}, {"bytesBase64Encoded", "mimeType"})
    )
    if not isinstance(video, dict) or set(video) not in forms or not all(isinstance(v, str) for v in video.values()):
        expected = " or ".join("{" + ", ".join(sorted(form)) + "}" for form in forms)
        raise invalid(f"Invalid value at 'instances[0].video': expected {expected}.")
    if parameters.get("resolution", "720p") != "720p":
        raise invalid("Video extension supports 720p only.")
    if parameters.get("durationSeconds", 8) != 8:
        raise invalid("durationSeconds must be 8 for video extension.")
    if parameters.get("aspectRatio", "16:9") not in ("16:9", "9:16"):
        raise invalid("Aspect ratio is not supported; use 16:9 or 9:16.")
    if api is ApiForm.VERTEX and "generateAudio" not in parameters:
        raise invalid(f"generateAudio is required for {upstream}.")


def _check_parameter_values(api: ApiForm, model: VeoModel, parameters: dict[str, Any], references: bool) -> None:
    upstream = model.spec.upstream
    if parameters.get("sampleCount", 1) not in ((1, 2, 3, 4) if api is ApiForm.VERTEX else (1, 2)):
        raise invalid("sampleCount is out of range.")
    aspect = parameters.get("aspectRatio", "16:9")
    if aspect not in ("16:9", "9:16"):
        raise invalid(f"Aspect ratio {aspect} is not supported; use 16:9 or 9:16.")
    resolution = parameters.get("resolution")
    if resolution is not None and resolution not in model.resolutions:
        raise invalid(f"resolution {resolution} isn't supported by {upstream}.")
    size = next((s for s, (a, r) in SIZES.items() if a == aspect and r == (resolution or "720p")), None)
    if size is None or (size not in model.spec.sizes and size not in SIZES_720P):
        raise invalid(f"{upstream} does not offer {resolution} at {aspect}.")
    duration = parameters.get("durationSeconds")
    allowed = allowed_durations(model.spec, size, references)
    if duration is not None and duration not in allowed:
        raise invalid(f"durationSeconds {duration} is out of range for {upstream}; allowed: {list(allowed)}.")
    if api is ApiForm.VERTEX and model.audio and "generateAudio" not in parameters:
        raise invalid(f"generateAudio is required for {upstream}.")
    if api is ApiForm.VERTEX and not model.audio and "generateAudio" in parameters:
        raise invalid(f"generateAudio isn't supported by {upstream}.")
    checks = {
        "personGeneration": PERSON_GENERATION,
        "compressionQuality": COMPRESSION_QUALITY,
        "resizeMode": RESIZE_MODES,
    }
    for key, choices in checks.items():
        if key in parameters and str(parameters[key]).lower() not in choices:
            raise invalid(f"Invalid value at 'parameters.{key}', {parameters[key]!r}.")
    if "seed" in parameters and not 0 <= parameters["seed"] <= MAX_SEED:
        raise invalid("seed is out of range.")
    if "storageUri" in parameters and not str(parameters["storageUri"]).startswith("gs://"):
        raise invalid("storageUri must be a gs:// URI.")


def _check_image(api: ApiForm, image: Any, where: str) -> None:
    fields = {"bytesBase64Encoded": "str", "mimeType": "str"}
    if api is ApiForm.VERTEX:
        fields["gcsUri"] = "str"
    _check_fields(image, fields, where)
    if "gcsUri" in image:
        if "bytesBase64Encoded" in image:
            raise invalid(f"Only one of bytesBase64Encoded and gcsUri may be set at '{where}'.")
    else:
        try:
            base64.b64decode(image.get("bytesBase64Encoded", ""), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(
                f"Invalid value at '{where}.bytesBase64Encoded' (TYPE_BYTES), Base64 decoding failed."
            ) from None
        if not image.get("bytesBase64Encoded"):
            raise invalid(f"'{where}' has no image bytes.")
    if image.get("mimeType") not in IMAGE_TYPES:
        raise invalid(f"Unsupported mimeType {image.get('mimeType')!r} at '{where}'.")


def _check_fields(value: Any, fields: Mapping[str, str], where: str) -> None:
    """Unknown names and wrong JSON types, worded as Google words them."""
    if not isinstance(value, dict):
        raise invalid(f"Invalid JSON payload received. Expected an object at '{where or 'root'}'.")
    for key, item in value.items():
        kind = fields.get(key)
        if kind is None:
            raise invalid(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where or 'root'}': Cannot find field."
            )
        if not _has_type(item, kind):
            path = f"{where}.{key}" if where else key
            raise invalid(f"Invalid value at '{path}' ({_TYPES.get(kind, kind.upper())}), {item!r}")


def _has_type(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, {"bool": bool, "str": str, "list": list, "dict": dict}[kind])
