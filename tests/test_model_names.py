"""Model names across vendors: qualified names, ambiguous bare names, ``[[aliases]]`` over several vendors."""

from __future__ import annotations

import contextlib

import acme
import attrs
import bolt
import pytest
from acme_gateway import ACME_KEY
from aiohttp import web

from reelay import hookimpl
from reelay.config import Config, ConfigError, ModelAlias, parse_config, validate
from reelay.emulation import serve_app
from reelay.engine.dispatcher import Dispatcher
from reelay.errors import NotFound
from reelay.models import Channel, ModelSpec, Task, Token
from reelay.plugins import Registry, RegistryError, make_plugin_manager
from reelay.testing import gateway_config, running_gateway

TOKEN = Token(name="t", key_sha256="0" * 64)


@pytest.fixture
def two_pm():
    """acme and bolt, which both register ``acme-1``."""
    return make_plugin_manager(load_entry_points=False, plugins=[acme, bolt.plugin])


def channel(name, vendor, base_url="https://x.invalid", **more):
    return Channel(name=name, vendor=vendor, base_url=base_url, credentials={"api_key": ACME_KEY}, **more)


def problems_of(config, pm):
    return validate(config, Registry.collect(pm), pm)


# ---------------------------------------------------------------- the registry


def test_two_vendors_may_register_the_same_name(two_pm):
    registry = Registry.collect(two_pm)
    assert registry.ambiguous == {"acme-1": ("acme", "bolt")}
    assert set(registry.models) == {"acme/acme-1", "bolt/acme-1", "acme-still", "bolt-1"}
    assert registry.model("acme-1") is None  # the bare name is the configuration's to settle
    assert registry.model("bolt/acme-1").durations == (3, 9)
    assert registry.model("acme/acme-1").vendor == "acme"
    assert registry.model("acme/acme-still-2024").name == "acme-still"  # qualified aliases too
    assert registry.model("acme-still").name == "acme-still"  # unambiguous names stay bare


def test_a_task_finds_its_model_after_the_name_became_ambiguous(two_pm):
    registry = Registry.collect(two_pm)
    before = Task(id="t", owner="o", model="acme-1", vendor="bolt", channel="b")  # recorded when bolt was alone
    assert registry.spec_of(before) is registry.specs["bolt/acme-1"]
    assert registry.spec_of(attrs.evolve(before, model="bolt/acme-1")) is registry.specs["bolt/acme-1"]


def test_one_vendor_registering_a_name_twice_is_still_an_error():
    class Again:
        @hookimpl
        def reelay_register_models(self, register):
            register(ModelSpec(name="acme-still-2024", vendor="acme"))

    pm = make_plugin_manager(load_entry_points=False, plugins=[acme, Again()])
    with pytest.raises(RegistryError, match="registered twice by vendor 'acme'"):
        Registry.collect(pm)


def test_a_name_with_a_slash_is_refused():
    class Slashed:
        @hookimpl
        def reelay_register_models(self, register):
            register(ModelSpec(name="acme/2", vendor="acme"))

    with pytest.raises(RegistryError, match="cannot contain '/'"):
        Registry.collect(make_plugin_manager(load_entry_points=False, plugins=[acme, Slashed()]))


# ---------------------------------------------------------------- ambiguity at start-up


def test_ambiguous_name_with_channels_of_both_vendors_is_an_error_naming_both(two_pm):
    config = Config(channels=(channel("a", "acme"), channel("b", "bolt")))
    problems = problems_of(config, two_pm)
    assert len(problems) == 1
    assert problems[0].startswith("models.\"acme-1\": vendors 'acme' and 'bolt' both register")
    assert "acme/acme-1, bolt/acme-1" in problems[0] and '[models] "acme-1" = "<vendor>"' in problems[0]
    with pytest.raises(ConfigError, match="acme-1"):
        Dispatcher(config, pm=two_pm)


def test_models_table_settles_an_ambiguous_name(two_pm):
    assert parse_config({"models": {"acme-1": "bolt"}}).models == {"acme-1": "bolt"}
    config = Config(models={"acme-1": "bolt"}, channels=(channel("a", "acme"), channel("b", "bolt")))
    assert problems_of(config, two_pm) == []
    wrong = attrs.evolve(config, models={"acme-1": "zeta", "bolt-1": "acme"})
    assert problems_of(wrong, two_pm) == [
        "models.\"bolt-1\": vendor 'acme' registers no model 'bolt-1' (it is a model of vendor 'bolt')",
        "models.\"acme-1\": vendor 'zeta' registers no model 'acme-1' (vendors 'acme', 'bolt' do)",
    ]


def test_only_one_vendor_with_a_channel_settles_the_bare_name(two_pm):
    # bolt's channel lists only bolt-1: the bare acme-1 can only mean acme's
    config = Config(channels=(channel("a", "acme"), channel("b", "bolt", models=("bolt-1",))))
    assert problems_of(config, two_pm) == []
    dispatcher = Dispatcher(config, pm=two_pm)
    token = TOKEN
    model, channels = dispatcher.resolve_model("acme-1", token)
    assert model.vendor == "acme" and [c.name for c in channels] == ["a"]


def test_unsettled_bare_name_is_not_found_and_names_the_qualified_ones(two_pm):
    dispatcher = Dispatcher(Config(channels=(channel("b", "bolt", models=("bolt-1",)),)), pm=two_pm)
    with pytest.raises(NotFound, match="acme/acme-1, bolt/acme-1"):
        dispatcher.resolve_model("acme-1", TOKEN)


# ---------------------------------------------------------------- aliases: configuration


def test_aliases_parse_from_toml():
    config = parse_config({"aliases": [{"name": "any-1", "targets": ["acme/acme-1", "bolt-1"]}]})
    assert config.aliases == (ModelAlias("any-1", ("acme/acme-1", "bolt-1")),)


def test_alias_problems_have_key_paths(two_pm):
    aliases = (
        ModelAlias("acme-still", ("bolt-1",)),
        ModelAlias("empty"),
        ModelAlias("typo", ("acme-2", "acme-1", "bolt/acme-1")),
        ModelAlias("typo", ("bolt-1",)),
    )
    problems = problems_of(Config(aliases=aliases), two_pm)
    assert problems == [
        "aliases[0].name: 'acme-still' is already a model name; choose another",
        "aliases[1].targets: at least one target model is required",
        "aliases[2].targets[0]: 'acme-2' is not a registered model",
        "aliases[2].targets[1]: 'acme-1' is registered by several vendors; name one (acme/acme-1, bolt/acme-1)",
        "aliases[3].name: 'typo' is used twice",
    ]


# ---------------------------------------------------------------- end to end


@contextlib.asynccontextmanager
async def failing_upstream():
    """A vendor whose every call answers 500."""

    async def fail(request: web.Request) -> web.Response:
        return web.json_response({"message": "internal error"}, status=500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fail)
    async with serve_app(app) as url:
        yield url


@contextlib.asynccontextmanager
async def two_vendor_gateway(pm, tmp_path):
    settings = Registry.collect(pm).emulators[0].settings(generation_seconds=0.2)
    async with serve_app(acme.create_emulator(settings)) as emulator, failing_upstream() as broken:
        channels = (
            channel("acme-broken", "acme", broken, priority=10),
            channel("bolt-main", "bolt", emulator),
        )
        config = gateway_config(
            channels,
            tmp_path,
            models={"acme-1": "acme"},
            aliases=(ModelAlias("acme-any", ("acme/acme-1", "bolt/acme-1")),),
        )
        async with running_gateway(config, pm=pm) as gateway:
            yield gateway


async def test_alias_fails_over_to_the_second_vendor_with_its_own_values(two_pm, tmp_path):
    async with two_vendor_gateway(two_pm, tmp_path) as gateway:
        status, body = await gateway.client.submit(model="acme-any", prompt="a fox", duration=4, size="1280x720")
        assert status == 200, body
        assert body["model"] == "acme-any"  # the name the caller asked for
        assert (body["seconds"], body["size"]) == ("3", "960x960")  # bolt's rules, not acme's
        served = body["adjustments"][0]
        assert served["field"] == "model" and served["effective"] == "bolt/acme-1"
        task = await gateway.dispatcher.store.get(body["id"])
        assert (task.model, task.vendor, task.channel) == ("bolt/acme-1", "bolt", "bolt-main")
        done, _ = await gateway.client.wait(body["id"])
        assert done["status"] == "completed" and done["model"] == "acme-any"


async def test_models_list_names_qualified_where_ambiguous_and_aliases(two_pm, tmp_path):
    async with two_vendor_gateway(two_pm, tmp_path) as gateway:
        status, body = await gateway.client.request("GET", "/v1/models")
        assert status == 200
        listed = {item["id"]: item["owned_by"] for item in body["data"]}
        assert listed == {
            "acme-1": "acme",
            "acme-still": "acme",
            "bolt/acme-1": "bolt",
            "bolt-1": "bolt",
            "acme-any": "reelay",
        }


async def test_qualified_names_work_on_every_route(two_pm, tmp_path):
    async with two_vendor_gateway(two_pm, tmp_path) as gateway:
        status, body = await gateway.client.submit(model="bolt/acme-1", prompt="a fox", duration=9)
        assert status == 200, body
        assert body["model"] == "bolt/acme-1" and body["seconds"] == "9"
        status, body = await gateway.client.request(
            "POST", "/v1/videos", json={"model": "bolt/acme-1", "prompt": "a fox", "seconds": "3"}
        )
        assert status == 200 and body["model"] == "bolt/acme-1", body
        done, _ = await gateway.client.wait(body["id"])
        assert done["status"] == "completed"
