"""A Jupyter server extension that makes nbgitpuller's pull page safe to link to.

nbgitpuller 1.3 writes its ``repo`` and ``path`` parameters into its page without escaping
(``/user/ada/data8/git-pull?repo="><svg/onload=alert(1)>`` runs script on the hub's origin),
does not check ``targetpath`` (``../../etc``), and treats any ``backup`` value as true. Course
servers that campushub configures load this extension beside nbgitpuller; it

- turns on HTML escaping in nbgitpuller's page templates, and
- refuses, with a 400 that names the parameter (never echoing its value), a pull whose
  ``repo`` is not a plain http(s) URL, whose ``branch`` is not a git branch name, whose
  ``targetpath`` or ``subpath`` leaves the server's folder, whose ``urlpath`` is not a path
  inside the server, or whose ``backup`` or ``depth`` is not what nbgitpuller means by them.

It only reads nbgitpuller's classes and the request's arguments; it has no other dependency,
so a course image copies this file alone, as the module ``campushub_pullguard`` (see
images/README.md). Enable it with a ``jupyter_server_config.d`` file naming the module in
``ServerApp.jpserver_extensions``.
"""

from __future__ import annotations

import functools
import inspect
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

_SAFE_URL_CHARACTERS = re.compile(r"^[A-Za-z0-9._~:/@+-]+$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/+-]{1,255}$")
# Any name a file may have (letters of every script, spaces), but nothing that could leave
# an attribute or a path: control characters, quotes, < >, backslash, colon.
_PATH_PART = re.compile("^[^\x00-\x1f\x7f<>\"'`\\\\:]+$")


def _relative_path(value: str, allow_query: bool = False) -> bool:
    text = value
    if allow_query:
        text = text.split("?", 1)[0].split("#", 1)[0]
    if not text or text.startswith(("/", "\\")) or "\\" in text or ":" in text:
        return False
    parts = [part for part in text.split("/") if part not in ("", ".")]
    return all(part != ".." and _PATH_PART.match(part) for part in parts)


def pull_problems(arguments: Mapping[str, str]) -> list[str]:
    """What is wrong with a pull's parameters, one line each (values never repeated)."""
    problems = []
    repo = arguments.get("repo")
    if repo is not None:
        parts = urllib.parse.urlsplit(repo)
        if (
            parts.scheme.lower() not in ("http", "https")
            or not parts.netloc
            or parts.query
            or parts.fragment
            or not _SAFE_URL_CHARACTERS.match(repo)
        ):
            problems.append("repo must be a plain http(s) address of a git repository")
    branch = arguments.get("branch")
    if branch and (not _BRANCH.match(branch) or ".." in branch or branch.startswith("-")):
        problems.append("branch must be a git branch name")
    for name in ("targetpath", "targetPath", "subpath", "subPath"):
        value = arguments.get(name)
        if value and value != "." and not _relative_path(value):
            problems.append(f"{name} must be a folder inside this server (no '..', not absolute)")
    for name in ("urlpath", "urlPath"):
        value = arguments.get(name)
        if value and not _relative_path(value, allow_query=True):
            problems.append(f"{name} must be a path inside this server")
    backup = arguments.get("backup")
    if backup is not None and backup.lower() not in ("true", "false", "1", "0", "yes", "no"):
        problems.append("backup must be true or false")
    depth = arguments.get("depth")
    if depth is not None and not (depth.isdigit() and 0 < int(depth) <= 10_000):
        problems.append("depth must be a whole number of commits")
    return problems


def _guarded(get: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(get)
    async def guarded_get(self: Any, *args: Any, **kwargs: Any) -> Any:
        from tornado.web import HTTPError

        arguments = {name: self.get_argument(name) for name in self.request.arguments}
        problems = pull_problems(arguments)
        if problems:
            self.log.warning("Refused a pull: %s", "; ".join(problems))
            raise HTTPError(400, "This pull link is not valid: " + "; ".join(problems) + ".")
        # nbgitpuller's handlers are coroutines, but ``web.authenticated`` answers a request
        # without a login with a redirect and returns None: await only what can be.
        result = get(self, *args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    guarded_get.__campushub_guarded__ = True  # type: ignore[attr-defined]
    return guarded_get


def guard_nbgitpuller() -> bool:
    """Patch nbgitpuller's handlers and templates (once); False if nbgitpuller is absent."""
    try:
        from nbgitpuller import handlers
    except ImportError:
        return False
    handlers.jinja_env.autoescape = True
    if handlers.jinja_env.cache is not None:
        handlers.jinja_env.cache.clear()  # compiled before now without escaping
    for handler in (handlers.UIHandler, handlers.SyncHandler):
        if not getattr(handler.get, "__campushub_guarded__", False):
            handler.get = _guarded(handler.get)
    return True


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    # campushub.pullguard here; campushub_pullguard where a course image copies this file alone
    return [{"module": __name__}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    if guard_nbgitpuller():
        server_app.log.info("campushub: nbgitpuller's pull page is guarded")
