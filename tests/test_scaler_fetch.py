"""The scaler reads calendar feeds over the network: a real HTTP server on loopback (tornado,
in the test's event loop) serves changing, slow, huge, redirecting and failing calendars, and
the scaler's fetcher and its rounds are asked to read them."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from tornado import httpserver, web

from campushub.demo import launch
from campushub.services.scaler.core import Scaler
from campushub.services.scaler.fetch import (
    FeedFetcher,
    FeedFetchError,
    http_address,
    is_network_address,
)

SECRET = "private-3f9a1c77"  # the secret part of a calendar address, never to be shown


def calendar(count: int) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:exam@test\r\nDTSTAMP:20261201T000000Z\r\n"
        "DTSTART:20261207T170000Z\r\nDTEND:20261207T200000Z\r\nSUMMARY:Exam\r\n"
        f"DESCRIPTION:standard: {count}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


class Feeds:
    """What the server serves, as each test sets it, and what it was asked."""

    def __init__(self) -> None:
        self.body = calendar(40)
        self.etag: str | None = '"v1"'
        self.last_modified: str | None = None
        self.conditional: list[dict[str, str]] = []
        self.hits = 0


class FeedHandler(web.RequestHandler):
    def initialize(self, feeds: Feeds) -> None:
        self.feeds = feeds

    def compute_etag(self) -> None:
        return None  # only the ETag the test sets

    def get(self) -> None:
        feeds = self.feeds
        feeds.hits += 1
        asked = {
            name: self.request.headers[name]
            for name in ("If-None-Match", "If-Modified-Since")
            if name in self.request.headers
        }
        feeds.conditional.append(asked)
        if feeds.etag and asked.get("If-None-Match") == feeds.etag:
            self.set_status(304)
            return
        if feeds.last_modified and asked.get("If-Modified-Since") == feeds.last_modified:
            self.set_status(304)
            return
        if feeds.etag:
            self.set_header("ETag", feeds.etag)
        if feeds.last_modified:
            self.set_header("Last-Modified", feeds.last_modified)
        self.set_header("Content-Type", "text/calendar")
        self.write(feeds.body)


class SlowHandler(web.RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(5)
        self.write(calendar(1))


class HugeHandler(web.RequestHandler):
    async def get(self) -> None:
        self.set_header("Content-Type", "text/calendar")
        for _ in range(60):  # 6 MB, in pieces, with no Content-Length
            self.write(b"X" * 100_000)
            try:
                await self.flush()
            except Exception:
                return


class RedirectHandler(web.RequestHandler):
    def get(self, hops: str) -> None:
        left = int(hops)
        self.redirect(f"/{SECRET}/feed.ics" if left == 0 else f"/hop/{left - 1}")


class ElsewhereHandler(web.RequestHandler):
    def get(self) -> None:
        self.redirect("ftp://127.0.0.1/feed.ics")


class FailHandler(web.RequestHandler):
    def get(self, code: str) -> None:
        self.set_status(int(code))
        self.write("no calendar here")


@pytest.fixture
async def server():
    feeds = Feeds()
    app = web.Application(
        [
            (rf"/{SECRET}/feed.ics", FeedHandler, {"feeds": feeds}),
            (r"/slow.ics", SlowHandler),
            (r"/huge.ics", HugeHandler),
            (r"/hop/(\d+)", RedirectHandler),
            (r"/elsewhere.ics", ElsewhereHandler),
            (r"/fail/(\d+)", FailHandler),
        ]
    )
    http = httpserver.HTTPServer(app)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    http.add_sockets([sock])
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    feeds.stop = http.stop  # type: ignore[attr-defined]
    yield base, feeds
    http.stop()
    await http.close_all_connections()


@pytest.fixture
def fetcher():
    fetcher = FeedFetcher(max_bytes=1_000_000, timeout=2.0)
    yield fetcher
    fetcher.close()


async def test_a_feed_is_read_and_then_asked_for_only_if_it_changed(server, fetcher) -> None:
    base, feeds = server
    address = f"{base}/{SECRET}/feed.ics"
    assert await fetcher.fetch(address) == calendar(40)
    assert await fetcher.fetch(address) == calendar(40)  # 304: the copy kept
    assert feeds.conditional[1] == {"If-None-Match": '"v1"'}
    assert fetcher.not_modified == 1
    feeds.body, feeds.etag = calendar(90), '"v2"'
    assert await fetcher.fetch(address) == calendar(90)
    assert await fetcher.fetch(address) == calendar(90)
    assert fetcher.not_modified == 2 and feeds.hits == 4


async def test_last_modified_alone_makes_the_request_conditional(server, fetcher) -> None:
    base, feeds = server
    feeds.etag, feeds.last_modified = None, "Mon, 30 Nov 2026 08:00:00 GMT"
    address = f"{base}/{SECRET}/feed.ics"
    await fetcher.fetch(address)
    assert await fetcher.fetch(address) == calendar(40)
    assert feeds.conditional[1] == {"If-Modified-Since": "Mon, 30 Nov 2026 08:00:00 GMT"}
    assert fetcher.not_modified == 1


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/slow.ics", "Timeout"),
        ("/huge.ics", "larger than 1.0 MiB"),
        ("/hop/5", "redirects"),
        ("/elsewhere.ics", "redirected to an address that is not http or https"),
        ("/fail/500", "HTTP 500"),
        ("/fail/404", "HTTP 404"),
        ("/fail/403", "HTTP 403"),
    ],
)
async def test_a_feed_that_cannot_be_read_says_why(server, fetcher, path, words) -> None:
    base, _ = server
    with pytest.raises(FeedFetchError, match=words) as raised:
        await fetcher.fetch(base + path)
    assert "127.0.0.1" not in str(raised.value) and SECRET not in str(raised.value)


async def test_a_few_redirects_are_followed(server, fetcher) -> None:
    base, _ = server
    assert await fetcher.fetch(f"{base}/hop/2") == calendar(40)


async def test_a_server_that_is_not_there_is_a_clear_error(fetcher) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens there
    with pytest.raises(FeedFetchError, match="cannot connect or read"):
        await fetcher.fetch(f"http://127.0.0.1:{port}/{SECRET}/feed.ics")


def test_webcal_is_read_over_https_and_other_schemes_are_refused() -> None:
    assert http_address("webcal://calendar.example/a/b.ics") == "https://calendar.example/a/b.ics"
    assert http_address("WEBCAL://calendar.example/x") == "https://calendar.example/x"
    assert http_address("HTTPS://calendar.example/x") == "https://calendar.example/x"
    assert is_network_address("webcal://calendar.example/x")
    assert not is_network_address("/srv/feeds/data8.ics")
    assert not is_network_address("file:///etc/passwd")
    with pytest.raises(FeedFetchError, match="no host"):
        http_address("https:///feed.ics")


def scaler_for(tmp_path: Path, address: str, fetch: Any) -> Scaler:
    catalog = tmp_path / "courses.yaml"
    catalog.write_text(launch.DEMO_CATALOG.read_text())
    return Scaler(
        str(catalog), [address], fetch, None, None, None, feed_interval=0, cull_timeout=3600
    )


async def test_the_scaler_reads_a_feed_over_http_and_keeps_the_last_good_copy(
    server, fetcher, tmp_path: Path
) -> None:
    base, feeds = server
    address = f"{base}/{SECRET}/feed.ics"
    scaler = scaler_for(tmp_path, address, fetcher.fetch)
    await scaler.read_feeds()
    state = next(iter(scaler.feed_states.values()))
    assert state.error is None and state.result is not None
    assert [request.count for request in state.result.requests] == [40]
    first_read = state.read_at

    feeds.body, feeds.etag = b"<html>maintenance</html>", None  # the provider breaks
    feeds.last_modified = None
    await scaler.read_feeds()
    assert state.error is not None and state.result is not None  # kept
    assert [request.count for request in state.result.requests] == [40]
    assert state.read_at == first_read  # its age keeps growing on the page
    for text in (state.error, *[problem.what for problem in scaler.problems]):
        assert SECRET not in text and address not in text

    feeds.stop()  # the provider is gone: nothing listens there any more
    await scaler.read_feeds()
    assert "cannot be read: cannot connect or read" in (state.error or "")
    assert SECRET not in (state.error or "")
    assert [request.count for request in state.result.requests] == [40]
