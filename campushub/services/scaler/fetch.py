"""Reading calendar feeds over the network: ``https://``, ``http://`` and ``webcal://``.

Google Calendar, Outlook and Canvas publish a course calendar as an iCalendar address, often
with a secret in its path; ``webcal://`` is the same address for calendar apps (campushub reads
it over https, as calendar apps do for Google's and Outlook's). Each reading is bounded: at most
``max_bytes`` of body (counted as it arrives, so a huge feed is cut off, not buffered), at most
``timeout`` seconds in all, at most ``max_redirects`` redirects, to http(s) only. Readings are
conditional: the feed's ``ETag`` and ``Last-Modified`` from the last good reading go back as
``If-None-Match`` / ``If-Modified-Since``, and a ``304 Not Modified`` returns the copy kept
from then. A failed reading raises :class:`FeedFetchError` with a message that never contains
the address (the scaler shows feeds by their labels only); the caller keeps its last good
events.

Adapter code (tornado's HTTP client), used by the scaler service.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from dataclasses import dataclass

from tornado import httpclient
from tornado.httputil import HTTPHeaders

WEBCAL_SCHEMES = {"webcal": "https", "webcals": "https"}
_REDIRECTS = (301, 302, 303, 307, 308)
SCHEMES = {"http", "https", *WEBCAL_SCHEMES}


class FeedFetchError(Exception):
    """A feed could not be read over the network; the message names no address."""


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class Copy:
    """The last good reading of one address."""

    body: bytes
    etag: str | None
    last_modified: str | None


def is_network_address(address: str) -> bool:
    """Whether ``address`` is one this module reads (any case of the scheme)."""
    return urllib.parse.urlsplit(address.strip()).scheme.lower() in SCHEMES


def http_address(address: str) -> str:
    """The http(s) address to request: ``webcal(s)://`` becomes ``https://``."""
    parts = urllib.parse.urlsplit(address.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise FeedFetchError(f"{parts.scheme or 'no'} scheme: not http, https or webcal")
    if not parts.hostname:
        raise FeedFetchError("the address has no host")
    return urllib.parse.urlunsplit(parts._replace(scheme=WEBCAL_SCHEMES.get(scheme, scheme)))


class FeedFetcher:
    """Reads feeds over http(s), bounded and conditional, keeping each address's last copy."""

    def __init__(
        self,
        *,
        max_bytes: int,
        timeout: float,
        connect_timeout: float = 10.0,
        max_redirects: int = 3,
        user_agent: str = "campushub-scaler",
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.copies: dict[str, Copy] = {}
        self.not_modified = 0  # readings answered 304 "not modified"
        self._client = httpclient.AsyncHTTPClient(force_instance=True)

    def close(self) -> None:
        self._client.close()

    async def fetch(self, address: str) -> bytes:
        """The feed's bytes now: a new body, or the kept copy if the server says it has not
        changed since. Redirects are followed here, to http(s) addresses only."""
        url = http_address(address)
        kept = self.copies.get(address)
        headers = HTTPHeaders({"Accept": "text/calendar, */*;q=0.5"})
        if kept is not None and kept.etag:
            headers["If-None-Match"] = kept.etag
        if kept is not None and kept.last_modified:
            headers["If-Modified-Since"] = kept.last_modified
        deadline = time.monotonic() + self.timeout
        for _ in range(self.max_redirects + 1):
            response, body = await self._get(url, headers, deadline)
            if response.code not in _REDIRECTS:
                break
            location = response.headers.get("Location")
            if not location:
                raise FeedFetchError(f"a redirect (HTTP {response.code}) without an address")
            url = urllib.parse.urljoin(url, location)
            if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
                raise FeedFetchError("redirected to an address that is not http or https")
        else:
            raise FeedFetchError(f"more than {self.max_redirects} redirects")
        if response.code == 304 and kept is not None:
            self.not_modified += 1
            return kept.body
        if response.code != 200:
            raise FeedFetchError(f"the server answered HTTP {response.code} {response.reason}")
        self.copies[address] = Copy(
            body, response.headers.get("ETag"), response.headers.get("Last-Modified")
        )
        return body

    async def _get(
        self, url: str, headers: HTTPHeaders, deadline: float
    ) -> tuple[httpclient.HTTPResponse, bytes]:
        """One request, its body bounded in size and the whole in time."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise FeedFetchError("cannot connect or read: Timeout during request")
        chunks: list[bytes] = []
        received = 0

        def take(chunk: bytes) -> None:
            nonlocal received
            received += len(chunk)
            if received > self.max_bytes:
                raise _TooLarge()
            chunks.append(chunk)

        request = httpclient.HTTPRequest(
            url,
            headers=headers,
            user_agent=self.user_agent,
            request_timeout=left,
            connect_timeout=min(self.connect_timeout, left),
            follow_redirects=False,
            streaming_callback=take,
            decompress_response=True,
        )
        try:
            # The client's own timeouts, and one more bound in case a response never ends.
            response = await asyncio.wait_for(
                self._client.fetch(request, raise_error=False), left + 5
            )
        except _TooLarge:
            raise self._too_large() from None
        except TimeoutError:
            raise FeedFetchError("cannot connect or read: Timeout during request") from None
        except Exception as error:  # connection refused, DNS, TLS, stream closed
            if received > self.max_bytes:
                raise self._too_large() from None
            raise FeedFetchError(f"cannot connect or read: {_describe(error)}") from None
        if received > self.max_bytes:
            raise self._too_large()
        if response.code == 599:
            raise FeedFetchError(f"cannot connect or read: {_describe(response.error)}")
        return response, b"".join(chunks)

    def _too_large(self) -> FeedFetchError:
        return FeedFetchError(f"larger than {self.max_bytes / 2**20:.1f} MiB")


def _describe(error: BaseException | None) -> str:
    """An error's words without any address in them (tornado's timeouts and socket errors
    name none; anything else is reduced to its kind)."""
    if error is None:
        return "no answer"
    if isinstance(error, httpclient.HTTPClientError) and error.code == 599:
        return error.message or "timeout or closed connection"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error)
    if "://" in text or "/" in text:
        return type(error).__name__
    return text or type(error).__name__
