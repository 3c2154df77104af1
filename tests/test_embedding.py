"""Platform teams mount the dispatcher into their own aiohttp application."""

import acme
from acme_gateway import ACME_KEY
from aiohttp import web

from reelay import Dispatcher
from reelay.config import hash_key
from reelay.emulation import serve_app
from reelay.http.app import DISPATCHER, setup_routes
from reelay.models import Channel, Token
from reelay.testing import GatewayClient, gateway_config


async def test_routes_mount_into_an_existing_app(acme_pm, acme_spec, tmp_path):
    async def own_route(request):
        return web.json_response({"mine": True})

    async def own_error(request):
        raise web.HTTPPaymentRequired()

    async with serve_app(acme.create_emulator(acme_spec.settings(generation_seconds=0.1))) as emulator_url:
        channel = Channel(name="acme", vendor="acme", base_url=emulator_url, credentials={"api_key": ACME_KEY})
        config = gateway_config([channel], tmp_path)
        host = web.Application()
        host.router.add_get("/mine", own_route)
        host.router.add_get("/teapot", own_error)
        setup_routes(host, Dispatcher(config, pm=acme_pm))
        assert isinstance(host[DISPATCHER], Dispatcher)
        async with serve_app(host) as base_url:
            import aiohttp

            async with aiohttp.ClientSession() as http:
                client = GatewayClient(base_url, "sk-reelay-test-token", http)
                status, task = await client.submit(model="acme-1", prompt="embedded fox")
                assert status == 200, task
                final, _ = await client.wait(task["id"])
                assert final["status"] == "completed"
                async with http.get(base_url + "/mine") as response:
                    assert await response.json() == {"mine": True}
                async with http.get(base_url + "/teapot") as response:
                    # The host app's own errors are left alone by Reelay's error middleware.
                    assert response.status == 402 and response.content_type != "application/json"
                status, body = await client.request("GET", "/v1/videos/nope")
                assert status == 404 and body["error"]["code"] == "task_not_found"


async def test_dispatcher_as_a_library(acme_pm, acme_spec, tmp_path):
    from reelay.models import UnifiedRequest

    async with serve_app(acme.create_emulator(acme_spec.settings(generation_seconds=0.1))) as emulator_url:
        channel = Channel(name="acme", vendor="acme", base_url=emulator_url, credentials={"api_key": ACME_KEY})
        config = gateway_config([channel], tmp_path)
        async with Dispatcher(config, pm=acme_pm) as dispatcher:
            token = Token(name="tester", key_sha256=hash_key("sk-reelay-test-token"))
            task = await dispatcher.submit(token, UnifiedRequest(model="acme-1", prompt="library fox"))
            assert task.vendor_ref is not None and task.seconds == 4
            assert [m.name for m in dispatcher.models_for(token)] == ["acme-1", "acme-still"]
