"""``campushub demo``: the whole local campus on 127.0.0.1, stopped with Ctrl-C."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from ..services.links.demo import demo_link
from . import launch


def run(state_dir: Path, port: int | None = None, fresh: bool = False) -> int:
    """Start the identity provider, git server and hub; return when one stops or on Ctrl-C."""
    state_dir = state_dir.resolve()
    if fresh and state_dir.exists():
        shutil.rmtree(state_dir)
    log_dir = state_dir / "logs"
    started: list[launch.Process] = []

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        # The same addresses as the last start (unless taken), so links keep working.
        ports = launch.demo_ports(
            state_dir,
            {
                "public": 8000,
                "git": 8900,
                "identity": 9400,
                "hub": 8081,
                "proxy_api": 8001,
                "links": 10101,
                "scaler": 10102,
                "grading": 10103,
            },
            say,
            {"public": port} if port else None,
        )
        say("starting the git server with the demo course repository")
        launch.make_course_repo(state_dir / "git")
        git = launch.start_git_server(ports["git"], state_dir / "git", log_dir)
        started.append(git)
        catalog = launch.write_catalog(state_dir / "courses.yaml", git.url)

        say("starting the development identity provider (oidc-provider-mock)")
        people = launch.demo_people()
        idp = launch.start_identity_provider(ports["identity"], people, log_dir)
        started.append(idp)

        say("starting JupyterHub with configurable-http-proxy")
        settings = launch.HubSettings(
            state_dir=state_dir,
            catalog=catalog,
            issuer=idp.url,
            public_port=ports["public"],
            hub_port=ports["hub"],
            proxy_api_port=ports["proxy_api"],
            links_port=ports["links"],
            scaler_port=ports["scaler"],
            grading_port=ports["grading"],
        )
        # The links service keeps its database in <state>/links (the reference config).
        link_id = demo_link(state_dir / "links", catalog, git.url + launch.DEMO_REPO_NAME)
        hub = launch.start_hub(settings, log_dir)
        started.append(hub)
        print(banner(hub.url, idp.url, git.url, catalog, log_dir, people, link_id), flush=True)
        while all(process.running() for process in started):
            time.sleep(0.5)
        stopped = next(process for process in started if not process.running())
        say(f"{stopped.name} stopped; the end of its log:\n{stopped.log_tail()}")
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except launch.StartError as error:
        say(str(error))
        return 1
    finally:
        for process in reversed(started):
            process.stop()


def banner(
    hub_url: str,
    idp_url: str,
    git_url: str,
    catalog: Path,
    log_dir: Path,
    people: list[dict],
    link_id: str = "",
) -> str:
    """What a newcomer needs: where to go and whom to log in as."""
    rows = "\n".join(f"    {person['sub']:<8} {person['role']}" for person in people)
    short = (
        "  The demo link for data8: log in as ada, and it starts her data8 server, pulls the\n"
        "  course material with nbgitpuller and opens it in JupyterLab:\n"
        f"    {hub_url}/services/links/l/{link_id}\n"
        f"  Course staff (ines) make such links at {hub_url}/services/links/\n\n"
        if link_id
        else ""
    )
    short += (
        f"  Calendar autoscale (dry run: no cluster here): log in as dana (administrator) or a\n"
        f"  TA/instructor at {hub_url}/services/scaler/\n\n"
        "  Grading (data8 grades with nbgrader): ines or tom click 'grade' beside data8 on the\n"
        "  home page; students find released work in their data8 server's Nbgrader menu.\n\n"
    )
    return f"""
  The local campus is running.

  Open  {hub_url}/  and log in: the identity provider's page lets you pick who you are.

  People (the subject to pick, and who they are):
{rows}

{short}  Identity provider  {idp_url}
  Git server         {git_url}{launch.DEMO_REPO_NAME}
  Catalog            {catalog}
  Logs               {log_dir}

  For this machine and its trusted users only: every server runs as your own system user
  (and could read the hub's files); the campus serves 127.0.0.1 alone.

  Press Ctrl-C to stop everything.
"""


def say(message: str) -> None:
    print(f"campushub demo: {message}", file=sys.stderr, flush=True)
