"""The official openai SDK drives the gateway's OpenAI Videos surface, for any vendor's models."""

import pytest
from acme_gateway import acme_gateway

from reelay.emulation import sample_asset, sample_clip
from reelay.testing import TEST_TOKEN

openai = pytest.importorskip("openai")

# The SDK marks its Videos methods deprecated (OpenAI's own Sora API is shutting down);
# the protocol lives on in gateways like this one.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def sdk(gateway):
    return openai.AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key=TEST_TOKEN, max_retries=0)


async def test_create_poll_download_list_delete(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.3) as gw:
        client = sdk(gw)
        video = await client.videos.create(model="acme-1", prompt="a red fox", seconds="4", size="1280x720")
        assert video.status in ("queued", "in_progress") and video.model == "acme-1"
        done = await client.videos.poll(video.id, poll_interval_ms=50)
        assert done.status == "completed" and done.progress == 100 and done.seconds == "4"
        content = await client.videos.download_content(video.id)
        assert content.content == sample_clip(4, 1280, 720)
        page = await client.videos.list(limit=10)
        assert [v.id for v in page.data] == [video.id]
        deleted = await client.videos.delete(video.id)
        assert deleted.deleted and deleted.id == video.id
        with pytest.raises(openai.NotFoundError):
            await client.videos.retrieve(video.id)
        await client.close()


async def test_create_with_an_image_file_and_by_url(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1) as gw:
        client = sdk(gw)
        video = await client.videos.create(
            model="acme-1", prompt="make it move", input_reference=("cat.png", sample_asset("sample.png"), "image/png")
        )
        stored = await gw.dispatcher.store.get(video.id, with_request=True)
        assert stored.request.first_frame.filename == "cat.png"
        assert stored.request.first_frame.mime_type == "image/png"
        done = await client.videos.poll(video.id, poll_interval_ms=50)
        assert done.status == "completed"
        assert (await gw.dispatcher.store.get(video.id, with_request=True)).request is None  # dropped once done
        by_url = await client.videos.create(
            model="acme-1",
            prompt="from a url",
            extra_body={"input_reference": {"image_url": "https://images.example/cat.png"}},
        )
        assert by_url.status in ("queued", "in_progress")
        await client.close()


async def test_list_pages_with_after(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=5) as gw:
        client = sdk(gw)
        ids = [(await client.videos.create(model="acme-1", prompt=f"fox {n}")).id for n in range(5)]
        first = await client.videos.list(limit=2, order="asc")
        assert [v.id for v in first.data] == ids[:2] and first.has_more
        second = await client.videos.list(limit=2, order="asc", after=first.data[-1].id)
        assert [v.id for v in second.data] == ids[2:4]
        seen = [v.id async for v in client.videos.list(limit=2, order="desc")]
        assert seen == ids[::-1]
        await client.close()


async def test_sdk_sees_gateway_errors(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path) as gw:
        client = sdk(gw)
        with pytest.raises(openai.NotFoundError):
            await client.videos.create(model="no-such-model", prompt="x")
        with pytest.raises(openai.BadRequestError) as caught:
            await client.videos.create(model="acme-1", prompt="x", seconds="3", extra_body={"size": "giant"})
        assert caught.value.body["param"] == "size"
        bad = openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            await bad.videos.list()
        await client.close()
        await bad.close()


@pytest.mark.parametrize(("vendor", "model"), [("sora", "sora-2"), ("kling", "kling-v1"), ("veo", "veo-3")])
async def test_same_sdk_calls_for_every_installed_family(vendor, model, tmp_path):
    from reelay.demo import demo_environment
    from reelay.plugins import Registry, make_plugin_manager
    from reelay.testing import running_gateway

    if vendor not in Registry.collect(make_plugin_manager()).vendors:
        pytest.skip(f"reelay-{vendor} is not installed")
    async with (
        demo_environment(
            port=0, generation_seconds=0.3, token=TEST_TOKEN, store_url=f"sqlite:///{tmp_path / 'r.db'}"
        ) as setup,
        running_gateway(setup.config) as gw,
    ):
        client = sdk(gw)
        video = await client.videos.create(model=model, prompt="a red fox in the snow")
        done = await client.videos.poll(video.id, poll_interval_ms=50)
        assert done.status == "completed", done
        content = await client.videos.download_content(video.id)
        assert content.content[4:8] == b"ftyp"
        with_image = await client.videos.create(
            model=model, prompt="make it move", input_reference=("cat.png", sample_asset("sample.png"), "image/png")
        )
        assert (await client.videos.poll(with_image.id, poll_interval_ms=50)).status == "completed"
        assert {v.id for v in (await client.videos.list()).data} == {video.id, with_image.id}
        assert (await client.videos.delete(video.id)).deleted
        await client.close()
