"""reelay.upstream's helpers for plugins: reading answers and callbacks, wording errors, picking a region's host."""

from __future__ import annotations

import cattrs
import pytest
from attrs import frozen

from reelay import Channel, FailureKind, StatusUpdate, Task, TaskStatus, UpstreamError, VendorRef
from reelay.upstream import BAD_RESPONSE, Regions, callback_update, parse_answer, vendor_error


@frozen
class Job:
    id: str
    state: str = ""
    progress: int | None = None


CONVERTER = cattrs.Converter(forbid_extra_keys=False)


def test_parse_answer_reads_an_object_and_ignores_what_the_converter_ignores():
    assert parse_answer({"id": "j1", "state": "done", "new": 1}, Job, CONVERTER, vendor="Acme", what="a job") == Job(
        "j1", "done"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "Acme answered without a job"),
        ([{"id": "j1"}], "Acme answered without a job"),
        ({"state": "done"}, "Acme answered a job it could not read"),  # no id
        ({"id": "j1", "progress": "most"}, "Acme answered a job it could not read"),
    ],
)
def test_parse_answer_makes_an_unreadable_answer_transient(body, message):
    with pytest.raises(UpstreamError) as caught:
        parse_answer(body, Job, CONVERTER, vendor="Acme", what="a job")
    assert caught.value.kind is FailureKind.TRANSIENT
    assert caught.value.code == BAD_RESPONSE and caught.value.message == message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Acme answered HTTP 400"),
        ({"message": "bad seed"}, "Acme answered HTTP 400: bad seed"),
        ({"code": "InvalidParameter", "message": "bad seed"}, "Acme error InvalidParameter: bad seed"),
        ({"code": 0, "message": "bad seed"}, "Acme answered HTTP 400: bad seed"),
        ({"code": 1201, "request_id": "r-1"}, "Acme error 1201 (request_id r-1)"),
    ],
)
def test_vendor_error_words_every_vendor_alike(fields, message):
    error = vendor_error("Acme", 400, FailureKind.CALLER, **fields)
    assert error.message == message and error.http_status == 400 and error.kind is FailureKind.CALLER


def test_vendor_error_keeps_the_kinds_code_param_and_retry_after():
    error = vendor_error("Acme", 400, FailureKind.CONTENT_POLICY, param="prompt", retry_after=2.0)
    assert error.code == "content_policy_violation" and error.param == "prompt" and error.retry_after == 2.0


REGIONS = Regions(
    {"intl": "https://api.acme.test", "cn": "https://api.acme.cn.test"}, default="intl", label="an Acme region"
)


def channel(base_url: str = "", **options) -> Channel:
    return Channel(name="c", vendor="acme", base_url=base_url, options=options)


@pytest.mark.parametrize(
    ("base_url", "options", "origin"),
    [
        ("", {}, "https://api.acme.test"),
        ("", {"region": "CN"}, "https://api.acme.cn.test"),
        ("https://api.acme.test/", {"region": "cn"}, "https://api.acme.cn.test"),  # the default: the region decides
        ("https://proxy.example/", {"region": "cn"}, "https://proxy.example"),  # anything else overrides
        ("", {"region": "mars"}, "https://api.acme.test"),  # unknown: the default's host (and a problem)
    ],
)
def test_regions_pick_the_host_and_base_url_overrides(base_url, options, origin):
    assert REGIONS.origin(channel(base_url, **options)) == origin


def test_regions_name_the_channels_region_and_report_an_unknown_one():
    assert REGIONS.region(channel()) == "intl" and REGIONS.named(channel(region="cn")) == "cn"
    assert REGIONS.named(channel(region="mars")) is None and REGIONS.region(channel(region="mars")) == "intl"
    assert REGIONS.problems(channel(region="cn")) == []
    assert REGIONS.problems(channel(region="Mars")) == ["options.region: 'mars' is not an Acme region; use intl or cn"]


def _job(data):
    return parse_answer(data, Job, CONVERTER, vendor="Acme", what="a job")


def _map(data) -> StatusUpdate:
    states = {"running": TaskStatus.IN_PROGRESS, "done": TaskStatus.COMPLETED}
    job = _job(data)
    if job.state not in states:
        raise UpstreamError(FailureKind.TRANSIENT, "unknown state", code=BAD_RESPONSE)
    return StatusUpdate(states[job.state])


TASK = Task(id="video_1", owner="o", model="m", vendor="acme", channel="c", vendor_ref=VendorRef("j1"))


def test_callback_update_reads_the_body_as_a_poll_reads_the_answer():
    update = callback_update(b'{"id": "j1", "state": "done", "extra": 1}', TASK, lambda data: _job(data).id, _map)
    assert update == StatusUpdate(TaskStatus.COMPLETED)


@pytest.mark.parametrize(
    ("body", "task"),
    [
        (b'{"id": "j2", "state": "done"}', TASK),  # another task's
        (b'{"id": "j1", "state": "done"}', Task(id="video_1", owner="o", model="m", vendor="acme", channel="c")),
        (b"{not json", TASK),
        (b"\xff\xfe", TASK),  # not UTF-8
        (b"[1, 2]", TASK),  # not an object: the reader's UpstreamError
        (b'{"state": "done"}', TASK),  # no id
        (b'{"id": "j1", "state": "pondering"}', TASK),  # the mapping's UpstreamError
    ],
)
def test_callback_update_refuses_what_does_not_name_the_task_or_cannot_be_read(body, task):
    assert callback_update(body, task, lambda data: _job(data).id, _map) is None
