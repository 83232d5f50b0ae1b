"""A small, read-only git smart-HTTP server for loopback use.

The demo and the test suite need a real ``http://`` git remote (nbgitpuller only
speaks HTTP(S)), but nothing heavier than the standard library, tornado and the
``git`` binary. This module wraps git's own CGI program, ``git http-backend``,
in a tornado application: every request is translated into a CGI environment,
the request body is written to the program's stdin, and its stdout (CGI headers,
blank line, body) is streamed back to the client.

The server is deliberately read-only: pushes (``git-receive-pack``) are refused
before git ever runs, and git is additionally told ``http.receivepack=false``.

Run it with::

    python -m campushub.demo.gitserver --port 8123 --root /path/to/repos

Every bare repository below ``--root`` is then cloneable at
``http://127.0.0.1:8123/<name>.git``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import pathlib
import signal
import sys
from collections.abc import Sequence
from urllib.parse import unquote

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

log = logging.getLogger(__name__)

#: Size of the pieces in which the response body is relayed to the client.
CHUNK_SIZE = 64 * 1024
#: Upper bound on the CGI header block, so a misbehaving backend cannot make us buffer forever.
MAX_HEADER_BYTES = 64 * 1024
#: How much of http-backend's stderr we keep for the log.
MAX_STDERR_BYTES = 4 * 1024

# Request headers that CGI passes as dedicated variables (CONTENT_TYPE, CONTENT_LENGTH) or
# that must never reach a CGI program (HTTP_PROXY, "httpoxy").
_SKIPPED_REQUEST_HEADERS = frozenset({"content-type", "content-length", "proxy"})

# Response headers tornado computes itself from what we actually send.
_SKIPPED_RESPONSE_HEADERS = frozenset({"transfer-encoding", "connection"})


class GitHTTPBackendHandler(tornado.web.RequestHandler):
    """Relay one HTTP request to ``git http-backend`` and stream its answer back."""

    SUPPORTED_METHODS = ("GET", "POST")

    def initialize(self, root: pathlib.Path) -> None:
        """Remember the directory that holds the served repositories."""
        self.root = root
        self._proc: asyncio.subprocess.Process | None = None
        self._stdout_done = False  # set once the backend's stdout has been read to EOF

    def compute_etag(self) -> str | None:
        """Disable tornado's automatic ETag.

        It would hash only the unflushed tail of a streamed body; git sets its own caching
        headers anyway.
        """
        return None

    async def get(self, *args: str) -> None:
        """Serve ``info/refs``, ``HEAD`` and the other dumb/smart GET endpoints."""
        await self._run_backend()

    async def post(self, *args: str) -> None:
        """Serve ``git-upload-pack`` RPC requests."""
        await self._run_backend()

    def on_connection_close(self) -> None:
        """Kill the backend when the client goes away, so no orphan keeps running."""
        self._kill_backend()

    # -- helpers -------------------------------------------------------------------------------

    def _send_plain(self, status: int, message: str) -> None:
        """Finish the request with a short plain-text message (git shows it to the user)."""
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message + "\n")

    def _kill_backend(self) -> None:
        """Kill the backend process if it is still running."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    def _is_push(self, path_info: str) -> bool:
        """Whether the request is any part of a push (``git-receive-pack``)."""
        if path_info.rstrip("/").endswith("/git-receive-pack"):
            return True
        return "git-receive-pack" in self.get_query_arguments("service")

    def _cgi_environ(self, path_info: str, body: bytes) -> dict[str, str]:
        """Build the CGI/1.1 environment http-backend expects for this request."""
        request = self.request
        env: dict[str, str] = {
            # Only these are inherited: http-backend must not see the server's own secrets.
            key: os.environ[key]
            for key in ("PATH", "HOME")
            if key in os.environ
        }
        env.update(
            {
                "GIT_PROJECT_ROOT": str(self.root),
                # Serve every repository below root without needing git-daemon-export-ok files.
                "GIT_HTTP_EXPORT_ALL": "1",
                # Belt and braces for read-only: even if our own check were bypassed, git
                # itself refuses receive-pack.
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.receivepack",
                "GIT_CONFIG_VALUE_0": "false",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "SCRIPT_NAME": "",
                "PATH_INFO": path_info,
                "REQUEST_METHOD": request.method or "GET",
                "QUERY_STRING": request.query,
                "CONTENT_TYPE": request.headers.get("Content-Type", ""),
                "REMOTE_ADDR": request.remote_ip or "",
                "SERVER_PROTOCOL": request.version,
                "SERVER_NAME": request.host_name,
            }
        )
        if body or request.method == "POST":
            # The body is fully buffered, so its length is known even when the client used
            # chunked transfer encoding (git does for large requests).
            env["CONTENT_LENGTH"] = str(len(body))
        # Every request header as HTTP_<NAME>; git relies on HTTP_CONTENT_ENCODING (gzip bodies)
        # and HTTP_GIT_PROTOCOL (protocol v2).
        for name in request.headers:
            if name.lower() in _SKIPPED_REQUEST_HEADERS:
                continue
            value = ", ".join(request.headers.get_list(name))
            env["HTTP_" + name.upper().replace("-", "_")] = value
        return env

    async def _run_backend(self) -> None:
        """Validate the request, run http-backend and relay its CGI response."""
        path_info = unquote(self.request.path)
        # Refuse traversal outright rather than trusting the backend's own checks.
        if ".." in path_info.split("/") or "\x00" in path_info:
            self._send_plain(404, "Not found")
            return
        if self._is_push(path_info):
            self._send_plain(403, "Pushing is not allowed: this git server is read-only.")
            return

        body = self.request.body or b""
        try:
            self._proc = proc = await asyncio.create_subprocess_exec(
                "git",
                "http-backend",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._cgi_environ(path_info, body),
            )
        except OSError as exc:  # e.g. git is not installed
            log.error("cannot start git http-backend: %s", exc)
            self._send_plain(500, "git http-backend failed")
            return
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        # Feed stdin and drain stderr concurrently with reading stdout, so no pipe can fill up
        # and deadlock the exchange.
        feeder = asyncio.ensure_future(_feed_stdin(proc.stdin, body))
        stderr_task = asyncio.ensure_future(_read_limited(proc.stderr, MAX_STDERR_BYTES))
        relayed = False
        try:
            relayed = await self._relay(proc, stderr_task)
        finally:
            # Normally the backend exits by itself after closing stdout; only a relay that was
            # cut short (client gone, error, cancellation) leaves one to kill.
            if not self._stdout_done:
                self._kill_backend()
            feeder.cancel()
            returncode = await proc.wait()
            stderr = await stderr_task
            # A failed run has already been logged as an error by _relay.
            if relayed and stderr.strip():
                log.warning(
                    "git http-backend (exit %s) for %s %s: %s",
                    returncode,
                    self.request.method,
                    self.request.uri,
                    stderr.decode("utf-8", "replace").strip(),
                )

    async def _relay(
        self, proc: asyncio.subprocess.Process, stderr_task: asyncio.Future[bytes]
    ) -> bool:
        """Parse the CGI header block, then stream the body to the client.

        Returns whether a backend response was relayed (False: we answered 500 ourselves).
        """
        assert proc.stdout is not None
        headers = await _read_cgi_headers(proc.stdout)
        if headers is None:
            # No (complete) CGI response at all: report the failure instead of a blank reply.
            self._stdout_done = True
            returncode = await proc.wait()
            stderr = await stderr_task
            log.error(
                "git http-backend exited with %s without a response for %s %s; stderr: %s",
                returncode,
                self.request.method,
                self.request.uri,
                stderr[:MAX_STDERR_BYTES].decode("utf-8", "replace").strip() or "(empty)",
            )
            self._send_plain(500, "git http-backend failed")
            return False

        self.clear_header("Content-Type")  # drop tornado's text/html default
        seen: set[str] = set()
        for name, value in headers:
            lname = name.lower()
            if lname == "status":
                code, _, reason = value.partition(" ")
                try:
                    self.set_status(int(code), reason.strip() or None)
                except ValueError:
                    log.error("git http-backend sent a bad Status header: %r", value)
                    self._send_plain(500, "git http-backend failed")
                    return False
            elif lname in _SKIPPED_RESPONSE_HEADERS:
                continue
            elif lname in seen:
                self.add_header(name, value)
            else:
                seen.add(lname)
                self.set_header(name, value)

        try:
            while chunk := await proc.stdout.read(CHUNK_SIZE):
                self.write(chunk)
                # Flush each piece so large packs stream instead of piling up in memory.
                await self.flush()
            self._stdout_done = True
            self.finish()
        except tornado.iostream.StreamClosedError:
            log.info("client went away during %s %s", self.request.method, self.request.uri)
        return True


async def _feed_stdin(stdin: asyncio.StreamWriter, body: bytes) -> None:
    """Write the request body to the backend and close stdin so it sees EOF."""
    try:
        if body:
            stdin.write(body)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        # The backend may legitimately exit before reading everything (e.g. on an error).
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.close()


async def _read_limited(stream: asyncio.StreamReader, limit: int) -> bytes:
    """Read a stream to EOF, keeping only its first ``limit`` bytes."""
    kept = bytearray()
    while chunk := await stream.read(CHUNK_SIZE):
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept)


async def _read_cgi_headers(stdout: asyncio.StreamReader) -> list[tuple[str, str]] | None:
    """Read CGI response headers up to the blank line.

    Returns ``None`` if the output ends (or grows too large) before a complete header block.
    """
    headers: list[tuple[str, str]] = []
    total = 0
    while True:
        try:
            line = await stdout.readline()
        except ValueError:  # a single line longer than the stream limit
            return None
        total += len(line)
        if not line or total > MAX_HEADER_BYTES:
            return None
        text = line.decode("latin-1").rstrip("\r\n")
        if not text:
            return headers
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            return None
        headers.append((name.strip(), value.strip()))


def make_app(root: pathlib.Path) -> tornado.web.Application:
    """Build the tornado application serving the repositories below ``root``."""
    root = pathlib.Path(root).resolve()
    return tornado.web.Application([(r"/.*", GitHTTPBackendHandler, {"root": root})])


async def _serve(root: pathlib.Path, host: str, port: int) -> None:
    """Listen until SIGTERM or SIGINT, then shut down cleanly."""
    app = make_app(root)
    server = tornado.httpserver.HTTPServer(app)
    sockets = tornado.netutil.bind_sockets(port, address=host)
    server.add_sockets(sockets)
    # Report the real port, which matters when --port 0 asked the OS to pick one.
    actual_port = sockets[0].getsockname()[1]
    print(f"campushub git server serving {root} at http://{host}:{actual_port}/", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()

    log.info("shutting down")
    server.stop()
    # Closing the connections also kills any running backend (on_connection_close).
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(server.close_all_connections(), timeout=5)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: ``python -m campushub.demo.gitserver --port P --root DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m campushub.demo.gitserver",
        description="Serve the git repositories below --root read-only over smart HTTP.",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: pick a free one)")
    parser.add_argument("--root", type=pathlib.Path, required=True, help="directory of repos")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    args = parser.parse_args(argv)

    root: pathlib.Path = args.root.resolve()
    if not root.is_dir():
        parser.error(f"--root {args.root} is not a directory")

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    asyncio.run(_serve(root, args.host, args.port))


if __name__ == "__main__":
    main()
