"""One test per hook of the plugin contract, named after the hook.

``test_every_hook_has_a_test_and_a_doc`` keeps it that way: a new hookspec
without a test here and a heading in CONTRIBUTING.md fails the suite.
"""

import inspect
import re
from pathlib import Path

import acme
import aiohttp
import attrs
import pytest
from acme_gateway import AcmeFinder, acme_gateway

from reelay import (
    Channel,
    FailureKind,
    InvalidRequest,
    StatusUpdate,
    TaskStatus,
    UnifiedRequest,
    UpstreamError,
    VendorRef,
    for_vendor,
    hookimpl,
    hookspecs,
)
from reelay.emulation import serve_app
from reelay.normalize import normalize
from reelay.plugins import PluginError, Registry, RegistryError, make_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
HOOK_NAMES = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("reelay_"))


def test_every_hook_has_a_test_and_a_doc():
    tests = set(re.findall(r"def (test_reelay_\w+)", Path(__file__).read_text()))
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    for name in HOOK_NAMES:
        assert f"test_{name}" in tests, f"hook {name} has no test in {Path(__file__).name}"
        assert f"### {name}(" in contributing, f"hook {name} has no heading in CONTRIBUTING.md"


def test_hookspecs_are_documented_and_typed():
    for name in HOOK_NAMES:
        spec = getattr(hookspecs, name)
        assert spec.__doc__ and "versionadded" in spec.__doc__, name
        annotations = spec.__annotations__
        assert "return" in annotations, f"{name} has no return annotation"
        for parameter in inspect.signature(spec).parameters:
            assert parameter in annotations, f"{name}: parameter {parameter} is not annotated"


def test_misspelled_hook_fails_loudly():
    class Typo:
        @hookimpl
        def reelay_submitt(self, payload):
            return None

    from pluggy import PluginValidationError

    with pytest.raises(PluginValidationError):
        make_plugin_manager(load_entry_points=False, plugins=[Typo()])


def test_allow_list_limits_entry_point_plugins(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "")
    pm = make_plugin_manager()
    assert Registry.collect(pm).vendors == {}


def test_allow_list_naming_an_uninstalled_plugin_is_an_error_naming_the_installed(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "none-such, also-not")
    monkeypatch.setattr("reelay.plugins.installed_plugin_names", lambda: ["alpha", "beta"])
    with pytest.raises(PluginError) as caught:
        make_plugin_manager()
    assert str(caught.value) == (
        "REELAY_PLUGINS names 'none-such', 'also-not', which are not installed"
        " (installed: alpha, beta; unset REELAY_PLUGINS to load them all)"
    )


def test_a_plugin_that_fails_to_import_is_named(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "broken")
    monkeypatch.setattr("reelay.plugins.installed_plugin_names", lambda: ["broken"])

    def load(self, group, name=None):
        raise ModuleNotFoundError("No module named 'reelay_broken'")

    monkeypatch.setattr("pluggy.PluginManager.load_setuptools_entrypoints", load)
    with pytest.raises(PluginError, match=r"^plugin 'broken' failed to load: ModuleNotFoundError: No module named"):
        make_plugin_manager()


# ---------------------------------------------------------------- registration


def test_reelay_register_vendors(acme_pm):
    registry = Registry.collect(acme_pm)
    assert registry.vendors["acme"].credentials[0].name == "api_key"


def test_reelay_register_vendors_twice_is_an_error():
    class Again:
        @hookimpl
        def reelay_register_vendors(self, register):
            from reelay import VendorSpec

            register(VendorSpec(name="acme"))

    pm = make_plugin_manager(load_entry_points=False, plugins=[acme, Again()])
    with pytest.raises(RegistryError, match="twice"):
        Registry.collect(pm)


def test_reelay_register_models(acme_pm):
    registry = Registry.collect(acme_pm)
    assert set(registry.models) == {"acme-1", "acme-still"}
    assert registry.model("acme-still-2024").name == "acme-still"
    assert registry.models["acme-1"].precedence.duration_sources == ("seconds", "duration")


def test_reelay_register_emulators(acme_pm):
    [spec] = Registry.collect(acme_pm).emulators
    assert spec.vendor == "acme" and spec.credentials["api_key"]


# ---------------------------------------------------------------- configuration


class AcmeRules:
    """Extra acme channel rules, as hand-written hookimpls (``for_vendor`` scopes them to acme)."""

    @hookimpl
    @for_vendor("acme")
    def reelay_validate_channel(self, channel, vendor):
        if channel.options.get("region") not in (None, "eu", "us"):
            return ["region: expected eu or us"]
        return []

    @hookimpl
    @for_vendor("acme")
    def reelay_channel_serves(self, model, channel):
        return not (channel.options.get("region") == "us" and model.name == "acme-still")


def test_reelay_validate_channel(acme_pm):
    import tomllib

    from reelay.config import parse_config, validate

    acme_pm.register(AcmeRules())
    registry = Registry.collect(acme_pm)
    document = tomllib.loads(
        '[[channels]]\nname = "a"\nvendor = "acme"\nregion = "mars"\n[channels.credentials]\napi_key = "k"\n'
    )
    assert validate(parse_config(document, {}), registry, acme_pm) == ["channels[0].region: expected eu or us"]
    elsewhere = Channel(name="b", vendor="other", base_url="http://x", options={"region": "mars"})
    assert acme_pm.hook.reelay_validate_channel(channel=elsewhere, vendor=None) == []


def test_reelay_channel_serves(acme_pm, tmp_path):
    from reelay import Dispatcher
    from reelay.testing import gateway_config

    acme_pm.register(AcmeRules())
    us = Channel(name="us", vendor="acme", base_url="http://x", credentials={"api_key": "k"}, options={})
    config = gateway_config([us], tmp_path)
    dispatcher = Dispatcher(config, pm=acme_pm)
    models = dispatcher.registry.models
    assert dispatcher.channels_for(models["acme-still"], "default") == [us]
    dispatcher = Dispatcher(attrs.evolve(config, channels=(attrs.evolve(us, options={"region": "us"}),)), pm=acme_pm)
    assert dispatcher.channels_for(models["acme-still"], "default") == []
    assert len(dispatcher.channels_for(models["acme-1"], "default")) == 1


# ---------------------------------------------------------------- normalization and submission


def _channel(base_url="http://127.0.0.1:9"):
    return Channel(name="c", vendor="acme", base_url=base_url, credentials={"api_key": "acme-test-key-123"})


def test_reelay_build_payload(acme_pm):
    model = Registry.collect(acme_pm).models["acme-1"]
    request = normalize(UnifiedRequest(model="acme-1", prompt="fox", duration=6, seconds="8"), model)
    payload = acme_pm.hook.reelay_build_payload(request=request, model=model, channel=_channel())
    assert payload == {"model": "acme-1", "text": "fox", "length": 8, "frame": "1280x720"}
    other = Channel(name="x", vendor="someone-else", base_url="http://x")
    assert acme_pm.hook.reelay_build_payload(request=request, model=model, channel=other) is None


def test_reelay_build_payload_may_refuse_before_anything_is_sent(acme_pm, tmp_path):
    class Picky:
        @hookimpl(tryfirst=True)
        def reelay_build_payload(self, request, model, channel):
            raise InvalidRequest("fox is not allowed", param="prompt")

    acme_pm.register(Picky())
    model = Registry.collect(acme_pm).models["acme-1"]
    request = normalize(UnifiedRequest(model="acme-1", prompt="fox"), model)
    with pytest.raises(InvalidRequest):
        acme_pm.hook.reelay_build_payload(request=request, model=model, channel=_channel())


async def test_reelay_submit(acme_pm, acme_spec):
    async with serve_app(acme.create_emulator(acme_spec.settings())) as url, aiohttp.ClientSession() as http:
        awaitable = acme_pm.hook.reelay_submit(
            payload={"model": "acme-1", "text": "fox"}, request=None, channel=_channel(url), http=http
        )
        ref = await awaitable
        assert isinstance(ref, VendorRef) and ref.id


async def test_reelay_submit_unreachable_is_transient(acme_pm):
    async with aiohttp.ClientSession() as http:
        awaitable = acme_pm.hook.reelay_submit(payload={"model": "acme-1"}, request=None, channel=_channel(), http=http)
        with pytest.raises(UpstreamError) as caught:
            await awaitable
        assert caught.value.retryable


async def test_reelay_find_submission(acme_pm, acme_spec, tmp_path):
    """Acme cannot search; a plugin that can answers for its own vendor's channels only."""
    from reelay import Task

    task = Task(id="video_x", owner="o", model="acme-1", vendor="acme", channel="c", prompt="a fox")
    assert acme_pm.hook.reelay_find_submission(task=task, channel=_channel(), http=None) is None
    app = acme.create_emulator(acme_spec.settings())
    async with serve_app(app) as url, aiohttp.ClientSession() as http:
        ref = await acme_pm.hook.reelay_submit(
            payload={"model": "acme-1", "text": "a fox"}, request=None, channel=_channel(url), http=http
        )
        acme_pm.register(AcmeFinder(app[acme.JOBS]))
        assert await acme_pm.hook.reelay_find_submission(task=task, channel=_channel(url), http=http) == ref
        other = Channel(name="x", vendor="someone-else", base_url="http://x")
        assert acme_pm.hook.reelay_find_submission(task=task, channel=other, http=http) is None
        nobody = attrs.evolve(task, prompt="a wolf")
        assert await acme_pm.hook.reelay_find_submission(task=nobody, channel=_channel(url), http=http) is None


# ---------------------------------------------------------------- status and content


async def test_reelay_fetch_status(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path) as gw:
        _, body = await gw.client.submit(model="acme-1", prompt="fox")
        task = await gw.dispatcher.store.get(body["id"])
        channel = gw.dispatcher.channels[task.channel]
        payload = await acme_pm.hook.reelay_fetch_status(task=task, channel=channel, http=gw.dispatcher.http)
        assert payload["state"] in ("waiting", "rendering")


def test_reelay_map_status(acme_pm):
    channel = _channel()
    hook = acme_pm.hook.reelay_map_status
    assert hook(payload={"state": "waiting"}, task=None, channel=channel).status is TaskStatus.QUEUED
    running = hook(payload={"state": "rendering", "percent": 40}, task=None, channel=channel)
    assert running == StatusUpdate(TaskStatus.IN_PROGRESS, progress=40)
    done = hook(payload={"state": "ready", "video_url": "http://v/x.mp4"}, task=None, channel=channel)
    assert done.status is TaskStatus.COMPLETED and done.result.url == "http://v/x.mp4"
    failed = hook(payload={"state": "broken", "reason": "policy", "detail": "no"}, task=None, channel=channel)
    assert failed.error.code == "content_policy_violation"


async def test_reelay_open_content(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1) as gw:
        _, body = await gw.client.submit(model="acme-1", prompt="fox")
        await gw.client.wait(body["id"])
        task = await gw.dispatcher.store.get(body["id"])
        channel = gw.dispatcher.channels[task.channel]
        source = await acme_pm.hook.reelay_open_content(
            task=task, channel=channel, http=gw.dispatcher.http, variant="video"
        )
        assert source.url.endswith(".mp4") and source.headers["X-Acme-Key"]
        assert "X-Acme-Key" not in repr(source) and "acme-test-key" not in repr(source)


async def test_reelay_cancel(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=5) as gw:
        _, body = await gw.client.submit(model="acme-1", prompt="fox")
        task = await gw.dispatcher.store.get(body["id"])
        channel = gw.dispatcher.channels[task.channel]
        await acme_pm.hook.reelay_cancel(task=task, channel=channel, http=gw.dispatcher.http)
        payload = await acme_pm.hook.reelay_fetch_status(task=task, channel=channel, http=gw.dispatcher.http)
        assert payload["state"] == "broken"


async def test_reelay_remix(acme_pm, tmp_path):
    """Acme has no remix: the gateway answers 400 naming it."""
    assert acme_pm.hook.reelay_remix(task=None, prompt="x", channel=_channel(), http=None) is None
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1) as gw:
        _, body = await gw.client.submit(model="acme-1", prompt="fox")
        await gw.client.wait(body["id"])
        status, answer = await gw.client.request("POST", f"/v1/videos/{body['id']}/remix", json={"prompt": "again"})
        assert status == 400 and answer["error"]["code"] == "remix_not_supported"


class AcmeDerived:
    """Extensions, edits and characters for acme, as a plugin registered for one test.

    ``acme-more`` declares the operations; each derived job is a new acme job.
    """

    @hookimpl
    def reelay_register_models(self, register):
        from reelay import Capabilities, ModelSpec

        register(
            ModelSpec(
                name="acme-more",
                vendor="acme",
                upstream_name="acme-1",
                capabilities=Capabilities(extend=True, edit=True, characters=True, extension_seconds=(5,)),
                durations=(5, 10),
                sizes=("16:9",),
                typical_seconds=1.0,
            )
        )

    @hookimpl
    @for_vendor("acme")
    def reelay_extend(self, source, prompt, seconds, channel, http):
        return acme._submit({"model": "acme-1", "text": f"{prompt} +{seconds}s"}, channel, http)

    @hookimpl
    @for_vendor("acme")
    def reelay_edit(self, source, prompt, channel, http):
        return acme._submit({"model": "acme-1", "text": prompt}, channel, http)

    @hookimpl
    @for_vendor("acme")
    def reelay_create_character(self, name, video, channel, http):
        async def create():
            return VendorRef(f"acme-char-{name}-{len(video.data)}")

        return create()

    @hookimpl
    @for_vendor("acme")
    def reelay_get_character(self, character, channel, http):
        async def check():
            if "gone" in character.name:
                raise UpstreamError(FailureKind.NOT_FOUND, "no such character")
            return {"id": character.vendor_ref.id}

        return check()


@pytest.fixture
def derived_pm():
    return make_plugin_manager(load_entry_points=False, plugins=[acme, AcmeDerived()])


async def _completed_acme(gw, model="acme-more"):
    _, body = await gw.client.submit(model=model, prompt="fox")
    final, _ = await gw.client.wait(body["id"])
    return final


async def test_reelay_extend(derived_pm, tmp_path):
    async with acme_gateway(derived_pm, tmp_path, generation_seconds=0.1) as gw:
        source = await _completed_acme(gw)
        body = {"prompt": "then it jumps", "seconds": "5", "video": {"id": source["id"]}}
        status, answer = await gw.client.request("POST", "/v1/videos/extensions", json=body)
        assert status == 200, answer
        assert answer["remixed_from_video_id"] == source["id"] and answer["seconds"] == "10"
        final, _ = await gw.client.wait(answer["id"])
        assert final["status"] == "completed"
        status, answer = await gw.client.request("POST", "/v1/videos/extensions", json={**body, "seconds": "7"})
        assert status == 400 and answer["error"]["param"] == "seconds"
        plain = await _completed_acme(gw, "acme-1")  # acme-1 declares no extension
        status, answer = await gw.client.request(
            "POST", "/v1/videos/extensions", json={**body, "video": {"id": plain["id"]}}
        )
        assert status == 400 and answer["error"]["code"] == "not_supported" and "acme-1" in answer["error"]["message"]


async def test_reelay_edit(derived_pm, tmp_path):
    async with acme_gateway(derived_pm, tmp_path, generation_seconds=0.1) as gw:
        source = await _completed_acme(gw)
        status, answer = await gw.client.request(
            "POST", "/v1/videos/edits", json={"prompt": "make it blue", "video": {"id": source["id"]}}
        )
        assert status == 200 and answer["remixed_from_video_id"] == source["id"], answer
        assert answer["id"] != source["id"] and answer["status"] in ("queued", "in_progress")
        status, answer = await gw.client.request("POST", "/v1/videos/edits", json={"prompt": "x"})
        assert status == 400 and answer["error"]["param"] == "video"


async def test_reelay_create_character(derived_pm, tmp_path):
    import aiohttp as http_client

    async with acme_gateway(derived_pm, tmp_path) as gw:
        form = http_client.FormData()
        form.add_field("name", "Mossy")
        form.add_field("video", b"\x00\x00\x00\x18ftypmp42", filename="m.mp4", content_type="video/mp4")
        status, answer = await gw.client.request("POST", "/v1/videos/characters", data=form)
        assert status == 200 and answer["id"].startswith("char_") and answer["name"] == "Mossy", answer
        stored = await gw.dispatcher.characters.table.get(answer["id"])
        assert stored.vendor_ref.id == "acme-char-Mossy-12" and stored.model == "acme-more"


async def test_reelay_get_character(derived_pm, tmp_path):
    import aiohttp as http_client

    async with acme_gateway(derived_pm, tmp_path) as gw:
        ids = {}
        for name in ("Mossy", "gone fox"):
            form = http_client.FormData()
            form.add_field("name", name)
            form.add_field("video", b"video bytes", filename="m.mp4", content_type="video/mp4")
            _, answer = await gw.client.request("POST", "/v1/videos/characters", data=form)
            ids[name] = answer["id"]
        status, answer = await gw.client.request("GET", f"/v1/videos/characters/{ids['Mossy']}")
        assert status == 200 and answer["name"] == "Mossy"
        status, answer = await gw.client.request("GET", f"/v1/videos/characters/{ids['gone fox']}")
        assert status == 404 and answer["error"]["code"] == "character_not_found"
        other = attrs.evolve(gw.dispatcher.tokens[next(iter(gw.dispatcher.tokens))], name="someone-else")
        with pytest.raises(Exception, match="no character"):
            await gw.dispatcher.get_character(other, ids["Mossy"])


# ---------------------------------------------------------------- events


class Recorder:
    def __init__(self):
        self.accepted = []
        self.changes = []

    @hookimpl
    def reelay_request_accepted(self, task, request):
        self.accepted.append((task.id, task.seconds, request.duration))

    @hookimpl
    def reelay_task_changed(self, task, previous):
        self.changes.append((task.id, previous, task.status))


async def test_reelay_request_accepted(acme_pm, tmp_path):
    recorder = Recorder()
    acme_pm.register(recorder)
    async with acme_gateway(acme_pm, tmp_path) as gw:
        _, body = await gw.client.submit(model="acme-1", prompt="fox", seconds="7")
    assert recorder.accepted == [(body["id"], 8, 8)]  # billed as generated


async def test_reelay_task_changed(acme_pm, tmp_path):
    recorder = Recorder()
    acme_pm.register(recorder)
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.2) as gw:
        _, body = await gw.client.submit(model="acme-1", prompt="fox")
        await gw.client.wait(body["id"])
    statuses = [(previous, now) for task_id, previous, now in recorder.changes if task_id == body["id"]]
    assert statuses[-1][1] is TaskStatus.COMPLETED
    assert all(previous is not now for previous, now in statuses)


async def test_reelay_upstream_called(acme_pm, tmp_path):
    calls = []

    class Tracer:
        @hookimpl
        def reelay_upstream_called(self, channel, operation, seconds, outcome, model):
            calls.append((channel.name, operation, outcome, model, seconds >= 0))

    acme_pm.register(Tracer())
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1) as gw:
        _, body = await gw.client.submit(model="acme-1", prompt="fox")
        await gw.client.wait(body["id"])
        await gw.dispatcher.drain_copies()
        status, _ = await gw.client.submit(model="acme-1", prompt="[emulate:reject] fox")
        assert status == 400
    assert calls[0] == ("acme-main", "submit", "ok", "acme-1", True)
    assert ("acme-main", "poll", "ok", "acme-1", True) in calls
    assert ("acme-main", "content", "ok", "acme-1", True) in calls  # the kept copy
    assert calls[-1][:3] == ("acme-main", "submit", "content_policy")


async def test_reelay_unknown_status(acme_pm, tmp_path):
    heard = []

    class Watcher:
        @hookimpl
        def reelay_unknown_status(self, channel, status):
            heard.append((channel.name, status))

    acme_pm.register(Watcher())
    async with acme_gateway(acme_pm, tmp_path) as gw:
        gw.dispatcher.context.events.unknown_status(gw.dispatcher.channels["acme-main"], "melting")
    assert heard == [("acme-main", "melting")]


async def test_observer_errors_do_not_fail_tasks(acme_pm, tmp_path):
    class Broken:
        @hookimpl
        def reelay_task_changed(self, task, previous):
            raise RuntimeError("observer bug")

    acme_pm.register(Broken())
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1) as gw:
        _, body = await gw.client.submit(model="acme-1", prompt="fox")
        final, _ = await gw.client.wait(body["id"])
        assert final["status"] == "completed"


async def test_a_plugin_crashing_at_submission_is_a_failed_channel_not_a_500(acme_pm, tmp_path):
    class Crashing:
        @hookimpl(tryfirst=True)
        def reelay_submit(self, payload, request, channel, http):
            raise KeyError("bug")

    acme_pm.register(Crashing())
    async with acme_gateway(acme_pm, tmp_path) as gw:
        status, body = await gw.client.submit(model="acme-1", prompt="fox")
        assert status == 502 and body["error"]["code"] == "upstream_failed"


def test_reelay_parse_callback(acme_pm):
    from reelay import Task, VendorPlugin, VendorSpec

    class CallingBack(VendorPlugin):
        vendor = VendorSpec(name="calling", callbacks=True)

        def parse_callback(self, body, task):
            return StatusUpdate(TaskStatus.COMPLETED, progress=100) if body == f"{task.id} done".encode() else None

    plugin = CallingBack()
    acme_pm.register(plugin)
    try:
        task = Task(id="video_1", owner="t", model="m", vendor="calling", channel="c")
        mine, other = Channel(name="c", vendor="calling", base_url=""), Channel(name="a", vendor="acme", base_url="")
        hook = acme_pm.hook.reelay_parse_callback
        update = hook(body=b"video_1 done", headers={}, task=task, channel=mine)
        assert update.status is TaskStatus.COMPLETED
        assert hook(body=b"forged", headers={}, task=task, channel=mine) is None
        assert hook(body=b"video_1 done", headers={}, task=task, channel=other) is None  # not its vendor
    finally:
        acme_pm.unregister(plugin)


def test_reelay_callback_reply(acme_pm):
    import json

    from reelay import Task, VendorPlugin, VendorSpec

    class Challenged(VendorPlugin):
        vendor = VendorSpec(name="calling", callbacks=True)

        def callback_reply(self, body):
            challenge = json.loads(body).get("challenge")
            return {"challenge": challenge} if isinstance(challenge, str) else None

    plugin = Challenged()
    acme_pm.register(plugin)
    try:
        task = Task(id="video_1", owner="t", model="m", vendor="calling", channel="c")  # no vendor_ref yet
        mine, other = Channel(name="c", vendor="calling", base_url=""), Channel(name="a", vendor="acme", base_url="")
        hook = acme_pm.hook.reelay_callback_reply
        assert hook(body=b'{"challenge": "x1"}', headers={}, task=task, channel=mine) == {"challenge": "x1"}
        assert hook(body=b'{"status": "done"}', headers={}, task=task, channel=mine) is None  # read as a status
        assert hook(body=b'{"challenge": "x1"}', headers={}, task=task, channel=other) is None  # not its vendor
    finally:
        acme_pm.unregister(plugin)
