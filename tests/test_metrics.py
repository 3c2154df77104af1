"""GET /metrics: the Prometheus text format, every family moving through a real gateway."""

from __future__ import annotations

import acme
from acme_gateway import acme_gateway
from prometheus_client.parser import text_string_to_metric_families

from reelay.config import MetricsConfig, StoreConfig
from reelay.plugins import make_plugin_manager


async def scrape(gw, headers=None):
    async with gw.client.http.get(gw.base_url + "/metrics", headers=headers or {}) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


def samples(text):
    """{(sample name, frozenset of labels): value} of a text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def total(found, name, **labels):
    wanted = set(labels.items())
    return sum(value for (sample, have), value in found.items() if sample == name and wanted <= have)


FAMILIES = (
    "reelay_http_requests_total",
    "reelay_http_request_duration_seconds_count",
    "reelay_submissions_total",
    "reelay_upstream_calls_total",
    "reelay_upstream_call_duration_seconds_count",
    "reelay_polls_total",
    "reelay_tasks",
    "reelay_tasks_finished_total",
    "reelay_task_completion_seconds_count",
    "reelay_content_bytes_total",
    "reelay_store_operation_duration_seconds_count",
    "reelay_channel_state",
    "reelay_unknown_vendor_statuses_total",
)


async def test_every_family_moves_after_a_submit_poll_and_download(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1) as gw:
        status, content_type, before_text = await scrape(gw)
        assert status == 200 and content_type.startswith("text/plain")
        before = samples(before_text)

        _, body = await gw.client.submit(model="acme-1", prompt="a fox")
        await gw.client.wait(body["id"])
        await gw.dispatcher.drain_copies()
        status, _, video = await gw.client.content(body["id"])
        assert status == 200
        gw.dispatcher.context.events.unknown_status(gw.dispatcher.channels["acme-main"], "melting")

        _, _, after_text = await scrape(gw)
        after = samples(after_text)

    for name in FAMILIES:
        assert any(sample == name for sample, _ in after), f"{name} missing"
    moved = {
        "reelay_http_requests_total": dict(route="create", status="200"),
        "reelay_http_request_duration_seconds_count": dict(route="get_video"),
        "reelay_submissions_total": dict(model="acme-1", channel="acme-main", outcome="ok"),
        "reelay_upstream_calls_total": dict(channel="acme-main", operation="poll", outcome="ok"),
        "reelay_upstream_call_duration_seconds_count": dict(channel="acme-main", operation="submit"),
        "reelay_polls_total": dict(channel="acme-main"),
        "reelay_tasks": dict(status="completed"),
        "reelay_tasks_finished_total": dict(model="acme-1", status="completed"),
        "reelay_task_completion_seconds_count": dict(model="acme-1"),
        "reelay_store_operation_duration_seconds_count": dict(operation="get"),
        "reelay_unknown_vendor_statuses_total": dict(vendor="acme", channel="acme-main"),
    }
    for name, labels in moved.items():
        assert total(after, name, **labels) > total(before, name, **labels), f"{name} {labels} did not move"
    assert total(after, "reelay_content_bytes_total", source="kept") == len(video)
    assert total(after, "reelay_channel_state", channel="acme-main", state="closed") == 1
    assert total(after, "reelay_channel_state", channel="acme-main", state="open") == 0
    # Labels carry route names, models and channels: never task ids, tokens or prompts.
    assert body["id"] not in after_text and "fox" not in after_text and "sk-" not in after_text


async def test_relayed_content_is_counted_apart(acme_pm, tmp_path):
    store = StoreConfig(url=f"sqlite:///{tmp_path / 'r.db'}", results_dir=str(tmp_path / "r"), keep_results=False)
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1, store=store) as gw:
        _, body = await gw.client.submit(model="acme-1", prompt="a fox")
        await gw.client.wait(body["id"])
        status, _, video = await gw.client.content(body["id"])
        assert status == 200
        _, _, text = await scrape(gw)
    found = samples(text)
    assert total(found, "reelay_content_bytes_total", source="relayed") == len(video)
    assert total(found, "reelay_content_bytes_total", source="kept") == 0


async def test_metrics_token_guards_the_page(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, metrics=MetricsConfig(token="scrape-secret-0123456")) as gw:
        status, _, text = await scrape(gw)
        assert status == 401 and '"error"' in text
        status, _, _ = await scrape(gw, {"Authorization": "Bearer sk-reelay-test-token"})
        assert status == 401  # a caller's token is not the metrics token
        status, _, text = await scrape(gw, {"Authorization": "Bearer scrape-secret-0123456"})
        assert status == 200 and "reelay_http_requests_total" in text


async def test_metrics_off_means_no_route_and_no_wrapping(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, metrics=MetricsConfig(enabled=False)) as gw:
        status, _, _ = await scrape(gw)
        assert status == 404
        assert gw.dispatcher.metrics is None
        assert type(gw.dispatcher.store).__name__ == "SQLiteStore"


async def test_two_apps_keep_their_own_registries(acme_pm, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with acme_gateway(acme_pm, tmp_path / "a") as first:
        await first.client.submit(model="acme-1", prompt="a fox")
        _, _, text = await scrape(first)
    async with acme_gateway(make_plugin_manager(load_entry_points=False, plugins=[acme]), tmp_path / "b") as second:
        _, _, fresh = await scrape(second)
    assert total(samples(text), "reelay_submissions_total") == 1
    assert total(samples(fresh), "reelay_submissions_total") == 0


def test_latency_family_buckets_count_observations_up_to_their_bound_and_feed_the_counter_beside():
    from prometheus_client import CollectorRegistry, generate_latest

    from reelay.engine.latency import LatencyFamily

    registry = CollectorRegistry()
    family = LatencyFamily(
        "t_seconds", "latency", ("route",), (0.1, 1.0), counter=("t_requests", "requests", ("status",))
    )
    registry.register(family)
    ok, failed = family.recorder("get", "200"), family.recorder("get", "500")
    for seconds in (0.05, 0.1, 0.5):
        ok(seconds)
    failed(2.0)
    found = samples(generate_latest(registry).decode())
    bucket = lambda le: found[("t_seconds_bucket", frozenset({("route", "get"), ("le", le)}))]  # noqa: E731
    assert (bucket("0.1"), bucket("1.0"), bucket("+Inf")) == (2, 3, 4)  # 0.1 falls in le="0.1"
    assert found[("t_seconds_count", frozenset({("route", "get")}))] == 4
    assert found[("t_seconds_sum", frozenset({("route", "get")}))] == 2.65
    assert found[("t_requests_total", frozenset({("route", "get"), ("status", "200")}))] == 3
    assert found[("t_requests_total", frozenset({("route", "get"), ("status", "500")}))] == 1
