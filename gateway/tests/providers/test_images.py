"""Fetching http(s) images for providers that need bytes: bounded, and never into private networks."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator

import pytest
from aiohttp import web

from gateway.providers.base import UpstreamError
from gateway.providers.images import _check_url, fetch_image, fetch_images
from tests.fakes.server import FakeUpstream

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _app(fake: FakeUpstream) -> web.Application:
    async def image(request: web.Request) -> web.Response:
        await fake.record(request)
        return web.Response(body=PNG, content_type="image/png")

    async def big(request: web.Request) -> web.Response:
        await fake.record(request)
        return web.Response(body=b"\0" * 50_000, content_type="image/png")

    async def page(request: web.Request) -> web.Response:
        await fake.record(request)
        return web.Response(text="<html></html>", content_type="text/html")

    async def moved(request: web.Request) -> web.Response:
        await fake.record(request)
        raise web.HTTPFound("/cat.png")

    async def loop(request: web.Request) -> web.Response:
        await fake.record(request)
        raise web.HTTPFound("/loop")

    app = web.Application()
    app.router.add_get("/cat.png", image)
    app.router.add_get("/big.png", big)
    app.router.add_get("/page", page)
    app.router.add_get("/moved", moved)
    app.router.add_get("/loop", loop)
    return app


@pytest.fixture
def images() -> Iterator[FakeUpstream]:
    with FakeUpstream(make_app=_app) as server:
        yield server


@pytest.fixture
def allow_private(settings):
    settings.IMAGE_FETCH_ALLOW_PRIVATE = True


async def test_an_image_is_fetched_as_base64_with_its_type(images, allow_private):
    mime, data = await fetch_image(f"{images.url}/cat.png")
    assert (mime, base64.b64decode(data)) == ("image/png", PNG)


async def test_redirects_are_followed_a_few_times_only(images, allow_private):
    mime, _ = await fetch_image(f"{images.url}/moved")
    assert mime == "image/png"
    with pytest.raises(UpstreamError, match="redirects"):
        await fetch_image(f"{images.url}/loop")
    assert len([r for r in images.requests if r.path == "/loop"]) == 4


async def test_loopback_addresses_are_refused_by_default(images):
    port = images.port
    for url in (f"http://127.0.0.1:{port}/cat.png", f"http://localhost:{port}/cat.png"):
        with pytest.raises(UpstreamError) as caught:
            await fetch_image(url)
        assert caught.value.status == 400
    assert images.requests == []  # nothing reached the private server


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/x.png",
        "http://[::1]/x.png",
        "ftp://example.com/x.png",
    ],
)
def test_private_and_non_http_urls_are_refused_before_connecting(url):
    with pytest.raises(UpstreamError) as caught:
        _check_url(url, allow_private=False)
    assert caught.value.kind == "invalid_request"


def test_public_address_literals_pass_the_check():
    _check_url("https://93.184.216.34/cat.png", allow_private=False)


async def test_images_over_the_size_cap_are_refused(images, allow_private, settings):
    settings.IMAGE_FETCH_MAX_BYTES = 10_000
    with pytest.raises(UpstreamError, match="larger than 10000 bytes"):
        await fetch_image(f"{images.url}/big.png")


async def test_non_images_and_missing_files_are_refused(images, allow_private):
    with pytest.raises(UpstreamError, match="not an image"):
        await fetch_image(f"{images.url}/page")
    with pytest.raises(UpstreamError, match="HTTP 404"):
        await fetch_image(f"{images.url}/missing.png")


async def test_too_many_image_urls_are_refused_before_any_fetch(images, allow_private, settings):
    settings.IMAGE_FETCH_MAX_URLS = 3
    urls = [f"{images.url}/cat.png?n={i}" for i in range(4)]

    with pytest.raises(UpstreamError, match="at most 3 image URLs") as caught:
        await fetch_images(urls)

    assert caught.value.status == 400 and images.requests == []
    assert len(await fetch_images(urls[:3])) == 3


async def test_the_images_of_one_request_share_a_byte_budget(images, allow_private, settings):
    settings.IMAGE_FETCH_MAX_TOTAL_BYTES = 120_000  # two 50 KB images fit, three do not

    assert len(await fetch_images([f"{images.url}/big.png?n={i}" for i in range(2)])) == 2
    with pytest.raises(UpstreamError, match="in all") as caught:
        await fetch_images([f"{images.url}/big.png?n={i}" for i in range(3)])
    assert caught.value.status == 400


async def test_only_a_few_images_are_fetched_at_once(allow_private, settings):
    settings.IMAGE_FETCH_CONCURRENCY = 2
    in_flight, peak = 0, 0

    def app(fake: FakeUpstream) -> web.Application:
        async def slow(request: web.Request) -> web.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1
            return web.Response(body=PNG, content_type="image/png")

        application = web.Application()
        application.router.add_get("/slow.png", slow)
        return application

    with FakeUpstream(make_app=app) as server:
        fetched = await fetch_images([f"{server.url}/slow.png?n={i}" for i in range(8)])

    assert len(fetched) == 8 and peak == 2
