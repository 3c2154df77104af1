"""Both emulators on loopback, driven through the plugin's own hooks."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import attrs
import pytest
from aiohttp import web
from yarl import URL

from reelay import (
    FailureKind,
    InvalidRequest,
    Task,
    TaskStatus,
    UnifiedRequest,
    UpstreamError,
)
from reelay.emulation import Scenario, sample_asset, sample_clip, serve_app
from reelay.normalize import normalize
from reelay.plugins import Registry
from reelay_veo.emulator import STATE
from reelay_veo.models import BY_NAME

FORMS = ("veo-gemini", "veo-vertex")


@pytest.fixture
def spec_of(pm):
    specs = {spec.label: spec for spec in Registry.collect(pm).emulators}

    def get(label: str):
        return specs[label]

    return get


class Running:
    """One emulator on loopback with a channel pointed at it."""

    def __init__(self, pm, http, spec, url, app, channel):
        self.pm, self.http, self.spec, self.url, self.app, self.channel = pm, http, spec, url, app, channel

    @property
    def state(self):
        return self.app[STATE]

    async def submit(self, model: str = "veo-3", **unified):
        unified.setdefault("prompt", "a red fox in the snow")
        spec = BY_NAME[model].spec
        request = normalize(UnifiedRequest(model=model, **unified), spec)
        payload = self.pm.hook.reelay_build_payload(request=request, model=spec, channel=self.channel)
        ref = await self.pm.hook.reelay_submit(payload=payload, request=request, channel=self.channel, http=self.http)
        return Task(id="video_t", owner="o", model=model, vendor="veo", channel=self.channel.name, vendor_ref=ref)

    async def poll(self, task: Task):
        payload = await self.pm.hook.reelay_fetch_status(task=task, channel=self.channel, http=self.http)
        return self.pm.hook.reelay_map_status(payload=payload, task=task, channel=self.channel)

    async def finish(self, task: Task):
        for _ in range(100):
            update = await self.poll(task)
            if update.status.is_terminal:
                return update
            await asyncio.sleep(0.03)
        raise AssertionError("the emulated operation never finished")

    async def download(self, task: Task) -> bytes:
        """Read the content as the core does: follow redirects, drop headers across origins."""
        source = await self.pm.hook.reelay_open_content(
            task=task, channel=self.channel, http=self.http, variant="video"
        )
        url, headers = URL(source.url), dict(source.headers)
        for _ in range(5):
            async with self.http.get(url, headers=headers, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308):
                    target = url.join(URL(response.headers["Location"]))
                    if target.origin() != url.origin():
                        headers = {}
                    url = target
                    continue
                assert response.status == 200, await response.text()
                return await response.read()
        raise AssertionError("too many redirects")


@pytest.fixture
def emulate(pm, http, spec_of, gemini_channel, vertex_channel):
    """``async with emulate("veo-vertex", generation_seconds=...) as running``."""
    import contextlib

    @contextlib.asynccontextmanager
    async def start(label: str, channel_options=None, **settings):
        spec = spec_of(label)
        app = spec.create_app(spec.settings(**{"generation_seconds": 0.1, **settings}))
        async with serve_app(app) as url:
            make = gemini_channel if spec.channel_options["api"] == "gemini" else vertex_channel
            # gs:// results are read from the emulator's Cloud Storage routes
            storage = {"storage_url": url} if spec.channel_options["api"] == "vertex" else {}
            options = {**spec.channel_options, **storage, **(channel_options or {})}
            channel = make(url, credentials=dict(spec.credentials), options=options, models=spec.models)
            yield Running(pm, http, spec, url, app, channel)

    return start


# ---------------------------------------------------------------- happy paths


@pytest.mark.parametrize("label", FORMS)
async def test_text_to_video_completes_and_downloads(emulate, label):
    async with emulate(label) as running:
        task = await running.submit(size="1920x1080")
        assert (await running.poll(task)).status is TaskStatus.IN_PROGRESS
        update = await running.finish(task)
        assert update.status is TaskStatus.COMPLETED
        body = running.state.bodies[0]
        assert body["parameters"]["resolution"] == "1080p" and body["parameters"]["durationSeconds"] == 8
        if label == "veo-gemini":
            assert update.result.url.startswith(running.url)
            task.result = update.result
            assert await running.download(task) == sample_clip(8, 1920, 1080)
        else:
            assert update.result.data == sample_clip(8, 1920, 1080)
            assert body["parameters"]["generateAudio"] is True


async def test_gemini_downloads_need_the_key_until_the_redirect(emulate, http):
    async with emulate("veo-gemini") as running:
        task = await running.submit()
        update = await running.finish(task)
        async with http.get(update.result.url, allow_redirects=False) as response:
            assert response.status == 403
        headers = {"x-goog-api-key": "demo-gemini-key"}
        async with http.get(update.result.url, headers=headers, allow_redirects=False) as response:
            assert response.status == 302
            location = response.headers["Location"]
        async with http.get(URL(running.url).join(URL(location)), headers={"Range": "bytes=0-9"}) as response:
            assert response.status == 206
            assert await response.read() == sample_clip(8, 16, 9)[:10]


async def test_vertex_storage_uri_results_are_read_from_cloud_storage(emulate):
    async with emulate("veo-vertex") as running:
        task = await running.submit(model="veo-3.1-generate-001", metadata={"storageUri": "gs://demo-bucket/veo"})
        update = await running.finish(task)
        assert update.result.url.startswith("gs://demo-bucket/veo/") and update.result.url.endswith("sample_0.mp4")
        task.result = update.result
        assert await running.download(task) == sample_clip(8, 16, 9)


@pytest.mark.parametrize("label", FORMS)
async def test_image_to_video_with_frames_and_a_url_image(emulate, aiohttp_server, label):
    png = sample_asset("sample.png")
    app = web.Application()

    async def image(request):
        return web.Response(body=png, content_type="image/png")

    app.router.add_get("/cat.png", image)
    server = await aiohttp_server(app, host="127.0.0.1")
    jpeg = "data:image/jpeg;base64," + base64.b64encode(sample_asset("sample.jpg")).decode()
    async with emulate(label) as running:
        task = await running.submit(images=(str(server.make_url("/cat.png")), jpeg), seconds=4)
        assert (await running.finish(task)).status is TaskStatus.COMPLETED
        instance = running.state.bodies[0]["instances"][0]
        assert base64.b64decode(instance["image"]["bytesBase64Encoded"]) == png
        assert instance["lastFrame"]["mimeType"] == "image/jpeg"


@pytest.mark.parametrize("label", FORMS)
async def test_reference_images(emulate, label):
    png = "data:image/png;base64," + base64.b64encode(sample_asset("sample.png")).decode()
    async with emulate(label) as running:
        task = await running.submit(metadata={"referenceImages": [png, png, png]})
        assert (await running.finish(task)).status is TaskStatus.COMPLETED
        assert len(running.state.bodies[0]["instances"][0]["referenceImages"]) == 3


async def test_loopback_images_are_refused_without_the_option(emulate, aiohttp_server):
    app = web.Application()
    server = await aiohttp_server(app, host="127.0.0.1")
    async with emulate("veo-gemini", channel_options={"allow_loopback_images": False}) as running:
        with pytest.raises(InvalidRequest, match="loopback"):
            await running.submit(image=str(server.make_url("/cat.png")))
        assert running.state.submissions == 0


# ---------------------------------------------------------------- scenarios


@pytest.mark.parametrize("label", FORMS)
async def test_failure_and_block_scenarios(emulate, label):
    async with emulate(label) as running:
        failing = await running.submit(prompt=f"a fox {Scenario.FAIL.marker}")
        blocked = await running.submit(prompt=f"a fox {Scenario.BLOCK.marker}")
        failed = await running.finish(failing)
        assert failed.status is TaskStatus.FAILED and failed.error.code == "internal"
        filtered = await running.finish(blocked)
        assert filtered.status is TaskStatus.FAILED and filtered.error.code == "content_filtered"
        assert "usage guidelines" in filtered.error.message


@pytest.mark.parametrize("label", FORMS)
@pytest.mark.parametrize(
    ("scenario", "kind"), [(Scenario.REJECT, FailureKind.CONTENT_POLICY), (Scenario.INVALID, FailureKind.CALLER)]
)
async def test_refusals_at_submission(emulate, label, scenario, kind):
    async with emulate(label) as running:
        with pytest.raises(UpstreamError) as caught:
            await running.submit(prompt=f"a fox {scenario.marker}")
        assert caught.value.kind is kind


@pytest.mark.parametrize("label", FORMS)
async def test_failed_submissions_are_transient(emulate, label):
    async with emulate(label, fail_submissions=1) as running:
        with pytest.raises(UpstreamError) as caught:
            await running.submit()
        assert caught.value.kind is FailureKind.TRANSIENT and caught.value.http_status == 503
        await running.submit()


@pytest.mark.parametrize("label", FORMS)
async def test_wrong_credentials_are_a_channel_failure(emulate, label):
    async with emulate(label) as running:
        wrong = {"api_key": "nope"} if label == "veo-gemini" else {**running.spec.credentials, "access_token": "nope"}
        running.channel = attrs.evolve(running.channel, credentials=wrong)
        with pytest.raises(UpstreamError) as caught:
            await running.submit()
        assert caught.value.kind is FailureKind.CHANNEL
        assert "nope" not in caught.value.message


async def test_unknown_model_is_model_not_found(emulate):
    async with emulate("veo-gemini") as running:
        running.channel = attrs.evolve(running.channel, model_map={"veo-3": "veo-3.0-fast-generate"})
        with pytest.raises(UpstreamError) as caught:
            await running.submit()
        assert caught.value.code == "model_not_found" and "veo-3.0-fast-generate" in caught.value.message


# ---------------------------------------------------------------- strictness


GEMINI_SUBMIT = "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
VERTEX_SUBMIT = (
    "/v1/projects/demo-project/locations/us-central1/publishers/google/models/veo-3.1-generate-001:predictLongRunning"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": [{"prompt": "a"}], "parameters": {"colour": "red"}}, 'Unknown name "colour"'),
        ({"instances": [{"prompt": "a", "text": "b"}]}, 'Unknown name "text"'),
        ({"instances": [{"prompt": "a"}], "parameters": {"durationSeconds": "8"}}, "TYPE_INT32"),
        ({"instances": [{"prompt": "a"}], "parameters": {"seed": 1}}, "`seed` isn't supported"),
        ({"instances": [{"prompt": "a"}], "parameters": {"generateAudio": True}}, "`generateAudio` isn't supported"),
        ({"instances": [{"prompt": "a"}], "parameters": {"durationSeconds": 5}}, "durationSeconds 5"),
        ({"instances": [{"prompt": "a", "image": {"gcsUri": "gs://b/x.png"}}]}, 'Unknown name "gcsUri"'),
        ({"instances": []}, "Exactly one instance"),
    ],
)
async def test_the_gemini_emulator_is_strict(emulate, http, body, message):
    async with emulate("veo-gemini") as running:
        headers = {"x-goog-api-key": "demo-gemini-key"}
        async with http.post(running.url + GEMINI_SUBMIT, json=body, headers=headers) as response:
            answer = await response.json()
        assert response.status == 400
        assert answer["error"]["status"] == "INVALID_ARGUMENT" and message in answer["error"]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": [{"prompt": "a"}], "parameters": {"durationSeconds": 8}}, "generateAudio is required"),
        ({"instances": [{"prompt": "a"}], "parameters": {"generateAudio": "yes"}}, "TYPE_BOOL"),
        ({"instances": [{"prompt": "a"}], "parameters": {"generateAudio": True, "webhookConfig": {}}}, "Unknown name"),
    ],
)
async def test_the_vertex_emulator_is_strict(emulate, http, body, message):
    async with emulate("veo-vertex") as running:
        headers = {"Authorization": "Bearer demo-vertex-token"}
        async with http.post(running.url + VERTEX_SUBMIT, json=body, headers=headers) as response:
            answer = await response.json()
        assert response.status == 400 and message in answer["error"]["message"]


async def test_gemini_keys_are_checked_like_google(emulate, http):
    async with emulate("veo-gemini") as running:
        body = {"instances": [{"prompt": "a"}]}
        async with http.post(running.url + GEMINI_SUBMIT, json=body) as response:
            assert response.status == 403
        async with http.post(running.url + GEMINI_SUBMIT, json=body, headers={"x-goog-api-key": "x"}) as response:
            answer = await response.json()
        assert response.status == 400
        assert answer["error"]["details"][0]["reason"] == "API_KEY_INVALID"


async def test_operations_poll_and_unknown_ones_are_404(emulate, http):
    async with emulate("veo-vertex") as running:
        headers = {"Authorization": "Bearer demo-vertex-token"}
        url = running.url + VERTEX_SUBMIT.replace("predictLongRunning", "fetchPredictOperation")
        name = VERTEX_SUBMIT[4:].replace(":predictLongRunning", "/operations/nope")
        async with http.post(url, json={"operationName": name}, headers=headers) as response:
            assert response.status == 404
        async with http.post(url, json={"operationName": name, "x": 1}, headers=headers) as response:
            assert response.status == 400


async def test_the_gemini_emulator_does_not_serve_vertex_models(emulate, http):
    async with emulate("veo-gemini") as running:
        headers = {"x-goog-api-key": "demo-gemini-key"}
        url = running.url + "/v1beta/models/veo-3.1-generate-001:predictLongRunning"
        async with http.post(url, json={"instances": [{"prompt": "a"}]}, headers=headers) as response:
            assert response.status == 404


def test_emulator_specs(spec_of):
    gemini, vertex = spec_of("veo-gemini"), spec_of("veo-vertex")
    assert gemini.credentials == {"api_key": "demo-gemini-key"}
    assert gemini.channel_options == {"api": "gemini", "allow_loopback_images": True}
    assert vertex.credentials == {
        "project": "demo-project",
        "location": "us-central1",
        "access_token": "demo-vertex-token",
    }
    assert vertex.channel_options == {"api": "vertex", "allow_loopback_images": True}
    assert "veo-3.1-generate-001" not in gemini.models and "veo-3.1-generate-001" in vertex.models


async def test_http_fixture_is_real(http):
    assert isinstance(http, aiohttp.ClientSession)
