"""campushub's reference JupyterHub configuration.

Everything deployment-specific comes from environment variables (listed in the README and
in docs/operators), so the same file serves the local campus and a Kubernetes hub:

- inside a cluster (KUBERNETES_SERVICE_HOST is set, as in every pod) the hub spawns course
  servers as pods with ``CourseKubeSpawner``; zero-to-jupyterhub's own configuration supplies
  the hub's addresses and database;
- elsewhere it runs the local campus: course servers are local processes, and the hub keeps
  its database, cookie secret and pid files in CAMPUSHUB_STATE_DIR.

A catalog with problems stops the hub here, before it starts, with every problem listed.
"""

import getpass
import json
import os
import secrets
import sys
import urllib.parse
from pathlib import Path

from campushub import pages
from campushub.catalog import CatalogError, load_catalog
from campushub.spawner import course_server_guard

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

env = os.environ
mode = env.get("CAMPUSHUB_MODE") or (
    "kubernetes" if env.get("KUBERNETES_SERVICE_HOST") else "local"
)
if mode not in ("kubernetes", "local"):
    sys.exit(f"campushub: CAMPUSHUB_MODE={mode!r} must be 'kubernetes' or 'local'")

canvas_url = env.get("CAMPUSHUB_CANVAS_URL", "").rstrip("/")
required = ["CAMPUSHUB_OIDC_CLIENT_ID", "CAMPUSHUB_OIDC_CLIENT_SECRET"]
if not canvas_url:
    required.append("CAMPUSHUB_OIDC_ISSUER")
if mode == "kubernetes":
    required += ["CAMPUSHUB_CATALOG", "CAMPUSHUB_PUBLIC_URL"]
missing = [name for name in required if not env.get(name)]
if missing:
    sys.exit(f"campushub: the hub will not start: set {', '.join(missing)} (see the README)")

# -- the course catalog: loaded once here, handed to the plugins ---------------------------------
catalog_path = env.get("CAMPUSHUB_CATALOG") or str(
    Path(__file__).parent / "campushub" / "demo" / "courses.yaml"
)
try:
    catalog = load_catalog(catalog_path)
except CatalogError as error:
    print(f"campushub: the hub will not start.\n{error}", file=sys.stderr)
    sys.exit(1)
print(
    f"campushub: catalog {catalog_path}: term {catalog.term.name},"
    f" {len(catalog.courses)} course(s), {len(catalog.images)} image(s),"
    f" {len(catalog.pools)} pool(s); mode {mode}",
    file=sys.stderr,
)

# -- who may log in: campus single sign-on -------------------------------------------------------
public_url = env.get("CAMPUSHUB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
c.JupyterHub.authenticator_class = "campus"
c.CampusAuthenticator.catalog = catalog
if canvas_url:
    # bCourses/Canvas as the OAuth provider: plain OAuth 2 (no id_token); memberships come
    # from Canvas's REST API with the person's own token.
    c.CampusAuthenticator.memberships_source = "canvas"
    c.CampusAuthenticator.canvas_url = canvas_url
    c.CampusAuthenticator.verify_id_token = False
    c.CampusAuthenticator.authorize_url = f"{canvas_url}/login/oauth2/auth"
    c.CampusAuthenticator.token_url = f"{canvas_url}/login/oauth2/token"
    c.CampusAuthenticator.userdata_url = f"{canvas_url}/api/v1/users/self"
    c.CampusAuthenticator.username_claim = env.get("CAMPUSHUB_USERNAME_CLAIM", "login_id")
    c.CampusAuthenticator.scope = []
else:
    c.CampusAuthenticator.issuer = env["CAMPUSHUB_OIDC_ISSUER"]
    # `sub` unless set: the claim OpenID Connect promises is stable and unique.
    if env.get("CAMPUSHUB_USERNAME_CLAIM"):
        c.CampusAuthenticator.username_claim = env["CAMPUSHUB_USERNAME_CLAIM"]
c.CampusAuthenticator.client_id = env["CAMPUSHUB_OIDC_CLIENT_ID"]
c.CampusAuthenticator.client_secret = env["CAMPUSHUB_OIDC_CLIENT_SECRET"]
c.CampusAuthenticator.oauth_callback_url = f"{public_url}/hub/oauth_callback"
# How long a sign-in waits for the provider's token and userinfo answers (then says so).
c.CampusAuthenticator.provider_timeout = float(env.get("CAMPUSHUB_OIDC_TIMEOUT", "10"))
# Send people straight to campus sign-on: a student who clicks a course link should not
# meet a second "sign in" button first.
c.CampusAuthenticator.auto_login = True
# Course memberships: which claim carries them, and patterns naming `course` and `role`
# (the default reads Berkeley's course::<id>::enrollment_type::<type>).
c.CampusAuthenticator.membership_claim = env.get("CAMPUSHUB_MEMBERSHIP_CLAIM", "groups")
# Whether a membership value may name a course by its slug (not only by a catalog key).
c.CampusAuthenticator.match_course_slugs = env.get("CAMPUSHUB_MATCH_COURSE_SLUGS", "0") == "1"
if env.get("CAMPUSHUB_MEMBERSHIP_PATTERNS"):
    c.CampusAuthenticator.membership_patterns = json.loads(env["CAMPUSHUB_MEMBERSHIP_PATTERNS"])
# Administrators: holders of these values of the admin claim, never course staff as such.
# No default: pick a value people cannot give themselves (not a self-service group name).
c.CampusAuthenticator.admin_claim = env.get("CAMPUSHUB_ADMIN_CLAIM", "groups")
c.CampusAuthenticator.admin_values = {
    value.strip() for value in env.get("CAMPUSHUB_ADMIN_VALUES", "").split(",") if value.strip()
}
# Memberships are synced again at each refresh of a login, which needs the tokens kept
# (encrypted) in auth_state: set JUPYTERHUB_CRYPT_KEY (openssl rand -hex 32).
if env.get("JUPYTERHUB_CRYPT_KEY"):
    c.CampusAuthenticator.enable_auth_state = True
    c.CampusAuthenticator.auth_refresh_age = int(env.get("CAMPUSHUB_AUTH_REFRESH_AGE", "300"))

# LTI 1.3 launches from Canvas (campushub.lti): CAMPUSHUB_LTI_PLATFORMS, a JSON list of
# {"issuer", "client_id", "deployment_ids", "login_url", "jwks_url", "name"}; the launch names
# the person's campus account in CAMPUSHUB_LTI_USERNAME_CLAIM (default email), with
# CAMPUSHUB_LTI_USERNAME_DOMAIN taken off (ada@berkeley.edu -> ada). Needs JUPYTERHUB_CRYPT_KEY.
# docs/operators/lti.md registers the tool.
if env.get("CAMPUSHUB_LTI_PLATFORMS"):
    try:
        c.CampusAuthenticator.lti_platforms = json.loads(env["CAMPUSHUB_LTI_PLATFORMS"])
    except ValueError as error:
        sys.exit(f"campushub: CAMPUSHUB_LTI_PLATFORMS is not JSON: {error}")
    if env.get("CAMPUSHUB_LTI_USERNAME_CLAIM"):
        c.CampusAuthenticator.lti_username_claim = env["CAMPUSHUB_LTI_USERNAME_CLAIM"]
    c.CampusAuthenticator.lti_username_domain = env.get("CAMPUSHUB_LTI_USERNAME_DOMAIN", "")

# -- where servers run: one named server per course ----------------------------------------------
c.Spawner.start_timeout = 120
# Starts under way at once; more are answered 429 with "Try again in N seconds" (JupyterHub's
# page). zero-to-jupyterhub's default is 64; JupyterHub's own 100.
c.JupyterHub.concurrent_spawn_limit = int(env.get("CAMPUSHUB_CONCURRENT_SPAWN_LIMIT", "64"))
c.Spawner.http_timeout = 60
c.CourseSpawnerMixin.catalog = catalog
c.JupyterHub.allow_named_servers = True
# Course servers are named after courses, so this bounds the servers a person keeps (running
# or stopped); it needs to cover the most courses one person takes.
# The limit comes with a guard that refuses a name that is not one of the person's courses
# before the hub records it (so refusals never use up the limit).
c.JupyterHub.named_server_limit_per_user = course_server_guard(
    catalog, int(env.get("CAMPUSHUB_SERVERS_PER_PERSON", "8"))
)
# The home page lists the person's courses with start, stop and open for each; everyone lands
# there after signing in (not on a personal server's options, which would split their work).
c.JupyterHub.redirect_to_server = False
c.JupyterHub.template_paths = [pages.TEMPLATES]
c.JupyterHub.template_vars = pages.template_vars(catalog, local=mode != "kubernetes")

if mode == "kubernetes":
    c.JupyterHub.spawner_class = "course-kube"
else:
    # Local mode runs every server as the hub's own system user, so anyone with a server can
    # read what that user can (the hub's database, its secrets, everyone's folders): it is for
    # one machine and its trusted users, and serves only the loopback interface.
    local_host = urllib.parse.urlsplit(public_url).hostname or ""
    if local_host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(
            f"campushub: local mode serves only this machine (127.0.0.1), not {local_host!r}:"
            " every server runs as the hub's own user, so anyone with one could read the hub's"
            " secrets and everyone's folders. Deploy on Kubernetes for other people (see the"
            " README), or set CAMPUSHUB_PUBLIC_URL to a loopback address."
        )
    print(
        "campushub: LOCAL MODE, for one machine and its trusted users: every server runs as"
        f" {getpass.getuser()!r} and can read the hub's files; it serves {public_url} only.",
        file=sys.stderr,
    )
    state_dir = Path(env.get("CAMPUSHUB_STATE_DIR", ".campushub-state")).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    c.JupyterHub.bind_url = public_url
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = int(env.get("CAMPUSHUB_HUB_PORT", "8081"))
    c.ConfigurableHTTPProxy.api_url = (
        f"http://127.0.0.1:{env.get('CAMPUSHUB_PROXY_API_PORT', '8001')}"
    )
    c.ConfigurableHTTPProxy.pid_file = str(state_dir / "jupyterhub-proxy.pid")
    # The proxy: configurable-http-proxy (JupyterHub's default, and zero-to-jupyterhub's), or
    # with CAMPUSHUB_PROXY=traefik the traefik proxy (jupyterhub-traefik-proxy's file provider,
    # `pip install 'campushub[traefik]'`); benchmarks/proxy_load.py measures both.
    proxy_choice = env.get("CAMPUSHUB_PROXY", "chp")
    if proxy_choice == "traefik":
        traefik_secret = state_dir / "traefik-api-password"
        if not traefik_secret.exists():
            traefik_secret.touch(mode=0o600)
            traefik_secret.write_text(secrets.token_hex(24))
        c.JupyterHub.proxy_class = "traefik_file"
        c.TraefikFileProviderProxy.traefik_api_url = (
            f"http://127.0.0.1:{env.get('CAMPUSHUB_PROXY_API_PORT', '8001')}"
        )
        c.TraefikFileProviderProxy.traefik_api_username = "jupyterhub"
        c.TraefikFileProviderProxy.traefik_api_password = traefik_secret.read_text().strip()
        c.TraefikFileProviderProxy.static_config_file = str(state_dir / "traefik.toml")
        c.TraefikFileProviderProxy.dynamic_config_file = str(state_dir / "traefik-rules.toml")
    elif proxy_choice == "chp":
        # As zero-to-jupyterhub runs it: whatever has no route yet goes to the hub, so the hub
        # answers as soon as it listens. Without it the hub's own route is added only after
        # every service has answered, and JupyterHub starts them one after the other (about a
        # second each): nobody could sign in meanwhile (benchmarks/hub_scale.py).
        c.ConfigurableHTTPProxy.command = [
            "configurable-http-proxy",
            f"--default-target=http://127.0.0.1:{c.JupyterHub.hub_port}",
        ]
    else:
        sys.exit(f"campushub: CAMPUSHUB_PROXY is {proxy_choice!r}: use chp or traefik")
    c.JupyterHub.pid_file = str(state_dir / "jupyterhub.pid")
    c.JupyterHub.db_url = f"sqlite:///{state_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.spawner_class = "course-local"
    # Stopping the local campus stops its servers unless told to keep them running across a
    # restart of the hub (as servers in a cluster always do: zero-to-jupyterhub sets this off).
    c.JupyterHub.cleanup_servers = env.get("CAMPUSHUB_CLEANUP_SERVERS", "1") != "0"
    c.CourseLocalSpawner.home_dir_template = str(state_dir / "homes" / "{username}")
    c.CampusAuthenticator.lti_key_file = str(state_dir / "campushub-lti-key.pem")

# The hub's database: CAMPUSHUB_DB_URL (a SQLAlchemy URL, e.g.
# postgresql://hub@db/jupyterhub) wins over the local campus's SQLite file and over what the
# chart sets (zero-to-jupyterhub's hub.db). Each service takes its own (below).
if env.get("CAMPUSHUB_DB_URL"):
    c.JupyterHub.db_url = env["CAMPUSHUB_DB_URL"]

# -- services: the links service (campushub.services.links) -------------------------------------
# Course staff make short links to course material at /services/links/; opening one starts the
# person's course server and pulls the material with nbgitpuller. The hub starts it; it listens
# on CAMPUSHUB_LINKS_URL (in a cluster, an address the proxy reaches, such as http://hub:10101)
# or on 127.0.0.1:CAMPUSHUB_LINKS_PORT, and keeps its database in CAMPUSHUB_LINKS_STATE_DIR
# (SQLite) unless CAMPUSHUB_LINKS_DB_URL names another (PostgreSQL).
links_state_dir = env.get("CAMPUSHUB_LINKS_STATE_DIR") or (
    str(Path(env.get("CAMPUSHUB_STATE_DIR", ".campushub-state")).resolve() / "links")
    if mode == "local"
    else "/srv/jupyterhub/links"
)
links_environment = {
    "CAMPUSHUB_CATALOG": catalog_path,
    "CAMPUSHUB_LINKS_STATE_DIR": links_state_dir,
}
if env.get("CAMPUSHUB_LINKS_DB_URL"):
    links_environment["CAMPUSHUB_LINKS_DB_URL"] = env["CAMPUSHUB_LINKS_DB_URL"]
c.JupyterHub.services.append(
    {
        "name": "links",
        "url": env.get("CAMPUSHUB_LINKS_URL")
        or f"http://127.0.0.1:{env.get('CAMPUSHUB_LINKS_PORT', '10101')}",
        "command": [
            sys.executable,
            "-m",
            "campushub.services.links.app",
            f"--public-url={public_url}",
        ],
        "environment": links_environment,
        "display": True,
        "info": {"description": "Make links that open course material in a course's server"},
        # An admin-run service that everyone uses: no "authorize this application" page. It may
        # read the person's own model (their courses, and whether they administer the hub).
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": ["read:users!user"],
    }
)
# Its own token only reads who the instructors of each course are (for "whom to ask").
c.JupyterHub.load_roles.append(
    {
        "name": "links-service",
        "description": "The links service: read each course's instructors group",
        "scopes": [f"read:groups!group=course:{slug}:instructors" for slug in catalog.courses],
        "services": ["links"],
    }
)

# -- services: the calendar scaler (campushub.services.scaler) -----------------------------------
# Plans each pool's placeholder replicas from the catalog's schedules, the calendar feeds and
# enrollment, and patches the placeholders every CAMPUSHUB_SCALER_INTERVAL seconds; in the local
# campus (no cluster) it runs in dry-run and only reports. Status page at /services/scaler/
# (administrators; course staff read-only), api/plan and Prometheus metrics beside it.
scaler_dry_run = env.get("CAMPUSHUB_SCALER_DRY_RUN", "1" if mode == "local" else "0")
scaler_environment = {
    "CAMPUSHUB_CATALOG": catalog_path,
    "CAMPUSHUB_SCALER_DRY_RUN": scaler_dry_run,
    # Servers the culler is about to stop count as leaving: their room is about to be free.
    "CAMPUSHUB_CULL_TIMEOUT": str(max(0, int(env.get("CAMPUSHUB_CULL_TIMEOUT", "3600")))),
    "CAMPUSHUB_CULL_EVERY": str(max(1, int(env.get("CAMPUSHUB_CULL_EVERY", "300")))),
    "CAMPUSHUB_SCALER_STATE_DIR": env.get("CAMPUSHUB_SCALER_STATE_DIR")
    or (
        str(Path(env.get("CAMPUSHUB_STATE_DIR", ".campushub-state")).resolve() / "scaler")
        if mode == "local"
        else "/srv/jupyterhub/scaler"
    ),
}
# Its settings, and what the Kubernetes client needs to find the API (in a pod: the service
# account; elsewhere: KUBECONFIG), pass through to the service.
for name in (
    "CAMPUSHUB_SCALER_DB_URL",
    "CAMPUSHUB_SCALER_FEEDS",
    "CAMPUSHUB_SCALER_NAMESPACE",
    "CAMPUSHUB_SCALER_INTERVAL",
    "CAMPUSHUB_SCALER_ATTENDANCE",
    "KUBECONFIG",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "POD_NAMESPACE",
):
    if env.get(name):
        scaler_environment[name] = env[name]
c.JupyterHub.services.append(
    {
        "name": "scaler",
        "url": env.get("CAMPUSHUB_SCALER_URL")
        or f"http://127.0.0.1:{env.get('CAMPUSHUB_SCALER_PORT', '10102')}",
        "command": [sys.executable, "-m", "campushub.services.scaler.app"],
        "environment": scaler_environment,
        "display": False,
        "info": {"description": "Capacity warm before lectures and exams"},
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": ["read:users!user"],
    }
)
# Its own token reads the course groups' sizes (enrollment for meetings without `expect`) and
# the running servers (people already on hold their own room).
c.JupyterHub.load_roles.append(
    {
        "name": "scaler-service",
        "description": "The scaler: count enrollment and who already runs a course server",
        "scopes": ["list:groups", "read:groups", "list:users", "read:servers"],
        "services": ["scaler"],
    }
)
# -- services: grading (campushub.services.grading), for courses with `grading: nbgrader` -------
# nbgrader's exchange for every grading course: course servers release, fetch, hand in, collect
# and return feedback through it with their own hub token, and it decides from the hub's groups
# who may do what. Its folder (CAMPUSHUB_GRADING_EXCHANGE_DIR; in a cluster a persistent volume
# mounted into the hub pod) is read and written by it alone. Only started when a course grades.
grading_courses = sorted(slug for slug, course in catalog.courses.items() if course.grading)
if grading_courses:
    grading_url = env.get("CAMPUSHUB_GRADING_URL") or (
        f"http://127.0.0.1:{env.get('CAMPUSHUB_GRADING_PORT', '10103')}"
    )
    grading_environment = {
        "CAMPUSHUB_CATALOG": catalog_path,
        "CAMPUSHUB_GRADING_EXCHANGE_DIR": env.get("CAMPUSHUB_GRADING_EXCHANGE_DIR")
        or (
            str(Path(env.get("CAMPUSHUB_STATE_DIR", ".campushub-state")).resolve() / "exchange")
            if mode == "local"
            else "/srv/jupyterhub/exchange"
        ),
    }
    if env.get("CAMPUSHUB_GRADING_MAX_UPLOAD"):
        grading_environment["CAMPUSHUB_GRADING_MAX_UPLOAD"] = env["CAMPUSHUB_GRADING_MAX_UPLOAD"]
    c.JupyterHub.services.append(
        {
            "name": "grading",
            "url": grading_url,
            "command": [sys.executable, "-m", "campushub.services.grading.app"],
            "environment": grading_environment,
            "display": False,
            "info": {"description": "nbgrader's exchange for the courses that grade"},
            # Servers call it with their tokens; a browser may read it after the hub's login.
            "oauth_no_confirm": True,
            "oauth_client_allowed_scopes": ["read:users!user"],
        }
    )
    # Its own token reads the course groups of the grading courses' members (who is a
    # student, a TA, an instructor), nothing else.
    c.JupyterHub.load_roles.append(
        {
            "name": "grading-service",
            "description": "The grading service: read grading courses' members' course groups",
            "scopes": [
                scope
                for slug in grading_courses
                for scope in (
                    f"read:users:name!group=course:{slug}",
                    f"read:users:groups!group=course:{slug}",
                )
            ],
            "services": ["grading"],
        }
    )
    # Servers reach it at its own address (in a cluster: the hub pod's, e.g. http://hub:10103).
    for spawner_class in ("CourseLocalSpawner", "CourseKubeSpawner"):
        c[spawner_class].grading_url = f"{grading_url.rstrip('/')}/services/grading/"

# Everyone may reach both services through the hub's OAuth; the links service's pages then
# decide by course, the scaler's admit administrators and course staff only. The `user` role
# is managed by the authenticator (so a restart keeps everyone's), which takes its scopes from
# here on JupyterHub 5.4 (zero-to-jupyterhub 4.3) and 6 alike.
c.CampusAuthenticator.user_scopes = [
    "self",
    "access:services!service=links",
    "access:services!service=scaler",
    # a grading course's servers hand in work through the grading service with their token
    *(["access:services!service=grading"] if grading_courses else []),
]

# -- services: the idle culler (jupyterhub-idle-culler, configured, not rewritten) ---------------
# Stops servers (course servers included) idle for CAMPUSHUB_CULL_TIMEOUT seconds, checking every
# CAMPUSHUB_CULL_EVERY seconds. Stopping keeps a course server's record and its files; people
# are never deleted. Its role holds only what culling needs: list people, read their servers'
# activity, stop servers.
cull_timeout = int(env.get("CAMPUSHUB_CULL_TIMEOUT", "3600"))
if cull_timeout > 0:
    c.JupyterHub.services.append(
        {
            "name": "idle-culler",
            "command": [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={cull_timeout}",
                f"--cull-every={int(env.get('CAMPUSHUB_CULL_EVERY', '300'))}",
                "--concurrency=10",
            ],
        }
    )
    c.JupyterHub.load_roles.append(
        {
            "name": "idle-culler",
            "description": "Stop idle servers",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }
    )
