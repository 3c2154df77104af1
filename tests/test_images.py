"""Images judged by their bytes: one sniffer, header dimensions, a model's ImageRules, everywhere an image enters."""

import base64
import struct

import aiohttp
import pytest
from aiohttp import web

from reelay import (
    Capabilities,
    GenerationRequest,
    ImageInput,
    ImageRules,
    InvalidRequest,
    ModelSpec,
    UnifiedRequest,
    hookimpl,
)
from reelay.emulation import sample_asset
from reelay.fetch import fetch_image, inline_images
from reelay.images import check_image, image_dimensions, sniff_image
from reelay.normalize import normalize, parse_image, sniff_mime
from reelay.testing import TEST_TOKEN

PNG = sample_asset("sample.png")  # 320x320
JPEG = sample_asset("sample.jpg")  # 160x90
WEBP = sample_asset("sample.webp")  # 160x90 (VP8)
GIF = b"GIF89a" + struct.pack("<HH", 40, 30) + b"\x00" * 20
WEBP_LOSSLESS = b"RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f" + ((99) | (49 << 14)).to_bytes(4, "little")
WEBP_EXTENDED = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00" + (639).to_bytes(3, "little") * 2
# A JPEG whose frame header sits behind 60 kB of EXIF.
JPEG_BIG_EXIF = JPEG[:2] + b"\xff\xe1" + struct.pack(">H", 60_002) + b"\x00" * 60_000 + JPEG[2:]

TYPED = ImageRules(types=("image/jpeg", "image/png"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------- the sniffer and the header readers


@pytest.mark.parametrize(
    ("data", "mime"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (GIF, "image/gif"), (b"<html>", None)],
)
def test_sniff_image_reads_the_type_from_the_bytes(data, mime):
    assert sniff_image(data) == mime
    assert sniff_mime(b64(data)) == mime  # the base64 entry point is the same sniffer


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (PNG, (320, 320)),
        (JPEG, (160, 90)),
        (WEBP, (160, 90)),
        (GIF, (40, 30)),
        (WEBP_LOSSLESS, (100, 50)),
        (WEBP_EXTENDED, (640, 640)),
        (JPEG_BIG_EXIF, (160, 90)),
        (PNG[:20], None),  # a truncated header
        (b"not an image", None),
    ],
)
def test_image_dimensions_from_the_header(data, size):
    assert image_dimensions(data) == size


# ---------------------------------------------------------------- labels never beat bytes


def test_png_labelled_jpeg_is_passed_on_as_png():
    image = parse_image("data:image/jpeg;base64," + b64(PNG), "image")
    assert image.mime_type == "image/png"


def test_png_labelled_octet_stream_is_taken_by_a_model_that_takes_png():
    image = parse_image("data:application/octet-stream;base64," + b64(PNG), "image", TYPED)
    assert image.mime_type == "image/png"


def test_text_labelled_png_is_refused_by_a_typed_model():
    with pytest.raises(InvalidRequest) as caught:
        parse_image("data:image/png;base64," + b64(b"just some text, no image here"), "images[0]", TYPED)
    assert caught.value.code == "image_type_not_supported" and caught.value.param == "images[0]"


def test_unknown_bytes_keep_their_label_when_the_model_takes_any_type():
    image = parse_image("data:image/x-custom;base64," + b64(b"custom image bytes"), "image")
    assert image.mime_type == "image/x-custom"


# ---------------------------------------------------------------- ImageRules


@pytest.mark.parametrize(
    ("rules", "data", "code"),
    [
        (ImageRules(types=("image/jpeg", "image/png")), WEBP, "image_type_not_supported"),
        (ImageRules(max_bytes=1000), PNG, "image_too_large"),
        (ImageRules(min_side=300), JPEG, "image_dimensions"),
        (ImageRules(max_side=200), PNG, "image_dimensions"),
        (ImageRules(min_aspect=0.4, max_aspect=1.5), JPEG, "image_aspect_ratio"),
        (ImageRules(min_side=10), b"\x00" * 64, "image_dimensions"),  # unreadable size
    ],
)
def test_image_rules_refuse_with_a_code_naming_the_rule(rules, data, code):
    with pytest.raises(InvalidRequest) as caught:
        check_image(ImageInput(base64=b64(data), mime_type="image/png"), rules, "image")
    assert caught.value.code == code and caught.value.param == "image" and caught.value.status == 400


def test_image_rules_pass_what_they_allow():
    rules = ImageRules(
        types=("image/png",), max_bytes=len(PNG), min_side=300, max_side=320, min_aspect=0.4, max_aspect=2.5
    )
    check_image(ImageInput(base64=b64(PNG), mime_type="image/png"), rules, "image")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://images.example/cat.png", True),
        ("http://images.example/cat.png", False),
        ("https://93.184.216.34/cat.png", False),
        ("https://[2606:2800:220:1::]/cat.png", False),
    ],
)
def test_https_on_a_domain_name(url, ok):
    image = ImageInput(url=url)
    if ok:
        check_image(image, ImageRules(https_domain=True), "image")
    else:
        with pytest.raises(InvalidRequest) as caught:
            check_image(image, ImageRules(https_domain=True), "image")
        assert caught.value.code == "image_url_not_supported"


def test_normalize_checks_every_image_before_any_upstream_call():
    model = ModelSpec(
        name="m", vendor="v", capabilities=Capabilities(image_to_video=True, end_frame=True), image_rules=TYPED
    )
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="m", prompt="fox", images=(b64(PNG), b64(WEBP))), model)
    assert caught.value.param == "images[1]" and caught.value.code == "image_type_not_supported"
    upload = ImageInput(base64=b64(b"<svg/>"), mime_type="image/png", filename="x.png")
    with pytest.raises(InvalidRequest, match="input_reference"):
        normalize(UnifiedRequest(model="m", prompt="fox", uploads=(upload,)), model)


# ---------------------------------------------------------------- URL downloads


@pytest.fixture
async def image_urls(aiohttp_server):
    async def octet(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="application/octet-stream")

    async def lying(request: web.Request) -> web.Response:
        return web.Response(body=b"<html>not an image</html>", content_type="image/png")

    async def webp(request: web.Request) -> web.Response:
        return web.Response(body=WEBP, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/octet", octet)
    app.router.add_get("/lying", lying)
    app.router.add_get("/webp", webp)
    return await aiohttp_server(app, host="127.0.0.1")


async def test_fetch_takes_a_png_served_as_octet_stream(image_urls):
    async with aiohttp.ClientSession() as http:
        image = await fetch_image(http, str(image_urls.make_url("/octet")), allow_loopback=True, rules=TYPED)
    assert image.mime_type == "image/png" and base64.b64decode(image.base64) == PNG


async def test_fetch_judges_the_bytes_not_the_content_type(image_urls):
    async with aiohttp.ClientSession() as http:
        with pytest.raises(InvalidRequest) as caught:
            await fetch_image(http, str(image_urls.make_url("/lying")), allow_loopback=True, rules=TYPED)
        assert caught.value.code == "image_type_not_supported"
        image = await fetch_image(http, str(image_urls.make_url("/webp")), allow_loopback=True)
        assert image.mime_type == "image/webp"  # served as image/jpeg


async def test_inline_images_downloads_and_checks_each_url(image_urls):
    request = GenerationRequest(
        model="m",
        first_frame=ImageInput(url=str(image_urls.make_url("/octet"))),
        last_frame=ImageInput(base64=b64(JPEG), mime_type="image/jpeg"),
    )
    async with aiohttp.ClientSession() as http:
        inlined = await inline_images(http, request, TYPED, allow_loopback=True)
        assert inlined.first_frame.url is None and inlined.first_frame.mime_type == "image/png"
        assert inlined.last_frame == request.last_frame
        with pytest.raises(InvalidRequest) as caught:
            await inline_images(http, request, ImageRules(min_side=400), allow_loopback=True)
        assert caught.value.code == "image_dimensions" and caught.value.param == "image"


# ---------------------------------------------------------------- multipart uploads


class _Seen:
    def __init__(self):
        self.requests = []

    @hookimpl
    def reelay_request_accepted(self, task, request):
        self.requests.append(request)


async def test_multipart_upload_is_sniffed(acme_pm, gateway):
    seen = _Seen()
    acme_pm.register(seen)
    try:
        form = aiohttp.FormData()
        form.add_field("model", "acme-1")
        form.add_field("prompt", "a fox")
        form.add_field("input_reference", PNG, filename="fox.jpg", content_type="image/jpeg")
        headers = {"Authorization": f"Bearer {TEST_TOKEN}"}
        async with gateway.client.http.post(f"{gateway.base_url}/v1/videos", data=form, headers=headers) as response:
            assert response.status == 200, await response.text()
    finally:
        acme_pm.unregister(seen)
    assert seen.requests[0].first_frame.mime_type == "image/png"
