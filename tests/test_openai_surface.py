"""Extensions, edits and characters through the official openai SDK, against a real gateway and the emulators."""

from __future__ import annotations

import pytest

from reelay.emulation import sample_mp4
from reelay.testing import TEST_TOKEN

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _installed(vendor: str) -> bool:
    from reelay.plugins import Registry, make_plugin_manager

    return vendor in Registry.collect(make_plugin_manager()).vendors


@pytest.fixture
async def demo(tmp_path):
    from reelay.demo import demo_environment
    from reelay.testing import running_gateway

    async with (
        demo_environment(
            port=0, generation_seconds=0.3, token=TEST_TOKEN, store_url=f"sqlite:///{tmp_path / 'r.db'}"
        ) as setup,
        running_gateway(setup.config) as gw,
    ):
        client = openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=TEST_TOKEN, max_retries=0)
        yield client
        await client.close()


def by_id(video_id: str) -> dict:
    """The SDK (3.57) refuses ``video={"id": ...}`` (it expects a file at that path), so the
    reference travels in ``extra_body``: the form field ``video[id]``, as OpenAI documents it."""
    return {"video": openai.omit, "extra_body": {"video": {"id": video_id}}}


async def _completed(client, video):
    done = await client.videos.poll(video.id, poll_interval_ms=50)
    assert done.status == "completed", done
    content = await client.videos.download_content(done.id)
    assert content.content[4:8] == b"ftyp"
    return done


@pytest.mark.parametrize(
    ("vendor", "model", "seconds"), [("sora", "sora-2", "8"), ("veo", "veo-3", "7"), ("kling", "kling-v1", "5")]
)
async def test_extend_a_completed_video(demo, vendor, model, seconds):
    if not _installed(vendor):
        pytest.skip(f"reelay-{vendor} is not installed")
    source = await _completed(demo, await demo.videos.create(model=model, prompt="a red fox in the snow"))
    extension = await demo.videos.extend(prompt="the fox runs off", seconds=seconds, **by_id(source.id))
    assert extension.id != source.id and extension.remixed_from_video_id == source.id
    assert extension.model == model
    done = await _completed(demo, extension)
    assert int(done.seconds) == int(source.seconds) + int(seconds)


async def test_kling_extends_only_what_it_can(demo):
    if not _installed("kling"):
        pytest.skip("reelay-kling is not installed")
    info = (await demo.models.retrieve("kling-v1-6")).model_extra["x_reelay"]["operations"]
    assert (info["extend"], info["extension_seconds"]) == (True, [5])
    source = await _completed(demo, await demo.videos.create(model="kling-v1-6", prompt="a red fox"))
    with pytest.raises(openai.BadRequestError) as caught:  # Kling adds 4 to 5 seconds, not 8
        await demo.videos.extend(prompt="on", seconds="8", **by_id(source.id))
    assert caught.value.body["param"] == "seconds"
    master = await _completed(demo, await demo.videos.create(model="kling-v2-master", prompt="a red fox"))
    with pytest.raises(openai.BadRequestError) as caught:
        await demo.videos.extend(prompt="on", seconds="5", **by_id(master.id))
    assert caught.value.code == "not_supported" and "kling-v2-master" in caught.value.message


async def test_edit_a_completed_video_and_an_upload(demo):
    if not _installed("sora"):
        pytest.skip("reelay-sora is not installed")
    source = await _completed(demo, await demo.videos.create(model="sora-2", prompt="a red fox"))
    edited = await demo.videos.edit(prompt="make the fox blue", **by_id(source.id))
    assert edited.remixed_from_video_id == source.id
    await _completed(demo, edited)
    uploaded = await demo.videos.edit(
        video=("fox.mp4", sample_mp4(), "video/mp4"), prompt="make it night", extra_body={"model": "sora-2"}
    )
    assert uploaded.remixed_from_video_id is None
    await _completed(demo, uploaded)


async def test_create_character_use_it_and_read_it(demo):
    if not _installed("sora"):
        pytest.skip("reelay-sora is not installed")
    character = await demo.videos.create_character(name="Mossy", video=("mossy.mp4", sample_mp4(), "video/mp4"))
    assert character.id.startswith("char_") and character.name == "Mossy" and character.created_at > 0
    video = await demo.videos.create(
        model="sora-2", prompt="Mossy the fox dances", extra_body={"characters": [{"id": character.id}]}
    )
    await _completed(demo, video)
    again = await demo.videos.get_character(character.id)
    assert (again.id, again.name) == (character.id, "Mossy")
    with pytest.raises(openai.NotFoundError):
        await demo.videos.get_character("char_nope")
    with pytest.raises(openai.BadRequestError) as caught:
        await demo.videos.create(model="sora-2", prompt="x", extra_body={"characters": [{"id": "char_nope"}]})
    assert caught.value.body["param"] == "characters"


async def test_a_model_without_the_operation_is_not_supported(demo):
    if not _installed("kling"):
        pytest.skip("reelay-kling is not installed")
    source = await _completed(demo, await demo.videos.create(model="kling-v1", prompt="a red fox"))
    with pytest.raises(openai.BadRequestError) as caught:
        await demo.videos.edit(prompt="make it blue", **by_id(source.id))
    assert caught.value.code == "not_supported" and "kling-v1" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        await demo.videos.create_character(
            name="x", video=("x.mp4", sample_mp4(), "video/mp4"), extra_body={"model": "kling-v1"}
        )
    assert caught.value.code == "not_supported"


async def test_models_describe_themselves(demo):
    if not _installed("sora"):
        pytest.skip("reelay-sora is not installed")
    model = await demo.models.retrieve("sora-2")
    info = model.model_extra["x_reelay"]
    assert info["operations"] == {
        "remix": True,
        "cancel": True,
        "extend": True,
        "edit": True,
        "characters": True,
        "extension_seconds": [4, 8, 12, 16, 20],
    }
    assert info["durations"] == [4, 8, 12] and info["default_size"] == "720x1280"
    assert info["inputs"]["image"]["prompt_required"] is True
    assert info["precedence"]["duration_sources"] == ["seconds", "duration"]
    assert "price_per_second" not in info  # no billing configured
    listed = {entry.id: entry.model_extra["x_reelay"] for entry in (await demo.models.list()).data}
    assert listed["sora-2"] == info
    if "veo-3" in listed:
        assert listed["veo-3"]["operations"]["cancel"] is False
        assert listed["veo-3"]["operations"]["extension_seconds"] == [7]
    with pytest.raises(openai.NotFoundError):
        await demo.models.retrieve("no-such-model")
