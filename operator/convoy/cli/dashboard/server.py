"""The dashboard's web server: the page and its files, each page's view as JSON and as a stream of server-sent
events, and the buttons' endpoint.

Everything it shows or does is a request of the caller's own connection; what keeps other local pages from using
it is here. Every request must name one of the dashboard's own hosts (so a page of another site that rebinds its
name to this address gets nothing), and an action must also come from the dashboard's origin, as JSON, with the
token that only the dashboard's own page carries (a form or a script on another page can send none of these).
No CORS header is ever sent, so other origins cannot read an answer either.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from aiohttp import web

from convoy.cli.dashboard import actions
from convoy.cli.dashboard.live import Connect, Watches
from convoy.cli.dashboard.pages import Page, UnknownPage, build

TOKEN_HEADER = "X-Convoy-Token"
DEBOUNCE_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONNECT: web.AppKey[Connect] = web.AppKey("connect")
SETTINGS: web.AppKey[dict[str, Any]] = web.AppKey("settings")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def application(
    connect: Connect, *, hosts: Collection[str], token: str, all_namespaces: bool, identity: str
) -> web.Application:
    """`hosts`: the `host:port` names the dashboard answers to; `identity`: who the caller is, as the page says."""
    app = web.Application(middlewares=[_guard])
    app[CONNECT] = connect
    app[SETTINGS] = {"hosts": set(hosts), "token": token, "all_namespaces": all_namespaces, "identity": identity}
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/api/view", _view)
    app.router.add_get("/api/events", _events)
    app.router.add_post("/api/actions", _action)
    return app


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    host = request.headers.get("Host", "")
    if host not in settings["hosts"]:
        return _refuse(f"this dashboard does not answer to host {host!r}")
    if request.method not in ("GET", "HEAD"):
        origin = request.headers.get("Origin")
        if origin != f"http://{host}":
            return _refuse(f"actions are taken only from the dashboard's own page, not from {origin!r}")
        if not hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), settings["token"]):
            return _refuse("the dashboard's token is missing or wrong")
        if request.content_type != "application/json":
            return _refuse("actions are sent as application/json")
    response = await handler(request)
    response.headers.update(HEADERS)
    return response


def _refuse(reason: str) -> web.Response:
    return web.json_response({"ok": False, "message": f"error: {reason}"}, status=403, headers=HEADERS)


async def _index(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    page = resources.files("convoy.cli.dashboard").joinpath("static", "index.html").read_text()
    for key, value in {"token": settings["token"], "identity": settings["identity"]}.items():
        page = page.replace("{{" + key + "}}", _html_escape(value))
    return web.Response(text=page, content_type="text/html")


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    text = resources.files("convoy.cli.dashboard").joinpath("static", name).read_text()
    return web.Response(text=text, content_type=STATIC[name])


def _page(request: web.Request) -> Page:
    try:
        return Page.from_query(request.query)
    except UnknownPage as error:
        raise web.HTTPBadRequest(text=str(error)) from None


async def _build(request: web.Request, page: Page) -> tuple[dict[str, Any], list[Any]]:
    all_namespaces = request.app[SETTINGS]["all_namespaces"]
    connect = request.app[CONNECT]
    return await asyncio.to_thread(build, connect, page, all_namespaces=all_namespaces, now=datetime.now(UTC))


async def _view(request: web.Request) -> web.Response:
    view, _ = await _build(request, _page(request))
    return web.json_response(view)


async def _events(request: web.Request) -> web.StreamResponse:
    """The page's view, sent again each time a watch of what it shows reports a change."""
    page = _page(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **HEADERS})
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def notify() -> None:
        loop.call_soon_threadsafe(changed.set)

    watches = Watches(request.app[CONNECT](None), notify)
    last = ""
    try:
        while True:
            changed.clear()
            view, scopes = await _build(request, page)
            watches.keep(scopes)
            text = json.dumps({**view, "problem": watches.problem})
            if text != last:
                await response.write(f"event: view\ndata: {text}\n\n".encode())
                last = text
            try:
                await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
                await asyncio.sleep(DEBOUNCE_SECONDS)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
    except ConnectionResetError:  # the page was closed
        pass
    finally:
        watches.close()
    return response


async def _action(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise actions.BadRequest("send a JSON object")
        ok, message = await asyncio.to_thread(actions.perform, request.app[CONNECT], body)
    except ValueError as error:  # not JSON, or actions.BadRequest
        return web.json_response({"ok": False, "message": f"error: {error}"}, status=400)
    return web.json_response({"ok": ok, "message": message})
