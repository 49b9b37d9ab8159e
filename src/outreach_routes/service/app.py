"""The service (``outreach-routes serve``): dispatch finds the nearest team, teams check in
from their phones, coordinators watch the night.

A Starlette app on uvicorn, serving the latest run of a runs folder (``DIR/latest``) and
reloading it when its ``plan.json`` changes, with its own SQLite database
(:mod:`.store`). Starlette rather than FastAPI: the service checks what clients
send by hand, with a one-line reason for each refusal, and FastAPI's pydantic would add 0.3 s
to every worker start for nothing (``benchmarks/cli_start.py``).

Locked down, because a leaked live position can put a worker in danger:

* Nothing but the login page answers without a token (``Authorization: Bearer``) or a session
  cookie (HttpOnly, Secure, SameSite=Strict), which a browser gets by posting the one-time code
  of a login link (the code travels in the URL's ``#fragment``, never in a query string).
* Each role has an allow-list: ``dispatch`` asks where and reads the contacts; ``team`` reads
  its own team's files and check-ins and posts check-ins for its own team; ``coordinator`` sees
  everything. The runs folder is never served as static files.
* Every ``where`` answer and every read of team positions goes to the audit log.
* Failed logins are limited per client address (taken from a proxy's headers only when
  ``--forwarded-allow-ips`` names the proxy), per account and per code, counted in the
  database; a valid link of another account still works from a locked address.
* A request made with the session cookie that changes anything must come from the service's own
  pages: ``Content-Type: application/json`` and a same-origin ``Origin`` (or
  ``Sec-Fetch-Site: same-origin``). Tokens in ``Authorization`` cannot be sent by another site.
* Each team account posts check-ins at a limited rate, checked before its body is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import json
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._assets import assets_dir
from .._errors import InputDataError
from ..config import ServiceConfig
from ..palette import team_colours
from ..runs import WEEK_FOLDER, latest_run
from ..schedule import (
    Schedule,
    load_schedule,
    nearest_teams,
    place_lat_lon,
    position_at,
    walking_path,
    where_question,
)
from .calls import CANNOT_REASONS, OUTCOMES, CallRefused, Calls
from .events import Broker, frame, stream, visible
from .limits import Buckets
from .maps import TILE_ORIGIN, TILES, VENDOR, page_csp, vendored
from .store import Store, User, utc

__all__ = ["create_app"]

SESSION_COOKIE = "outreach_session"
MAX_BODY = 16 * 1024
MAX_DEPTH = 4  # of a JSON body: the service's bodies are flat objects
PAGE = 500  # check-ins a page of GET /api/checkins by default ...
MAX_PAGE = 5000  # ... and at most
OFF_STREET_M = 1000.0  # a place this far from every walkable street is not the city's (422)
CORNER_NEAR_M = 250.0  # a call's place is named by the corner of a plan's stop this near
BOARD_SESSION_S = 600  # an open board's refreshes this close together are one audited session
EARLIEST, LATEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
CHECK_IN_FRESH_MIN = 30  # a check-in younger than this replaces the plan's place in `where`
LATE_AFTER_MIN = 5  # a check-in received this long after it was tapped came from the queue
STATUSES = ("start", "arrived", "left", "skipped", "responding", "end")
AT_STOP = ("arrived", "left", "skipped")
REPORT_FILES = {"report.html": "text/html; charset=utf-8", "report.json": "application/json"}
SKIP_REASONS = (
    "area not safe tonight",
    "police activity",
    "ran out of time",
    "responding to a scene",
    "weather",
)

_TEMPLATES = Environment(
    loader=PackageLoader("outreach_routes.service", "templates"), autoescape=select_autoescape()
)


class Refused(Exception):
    """A request refused with ``status`` and a one-line reason (and when to try again)."""

    def __init__(self, status: int, reason: str, *, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


def now() -> dt.datetime:
    """The server's clock; ``OUTREACH_ROUTES_NOW`` (an ISO time with offset) sets it, for tests."""
    fixed = os.environ.get("OUTREACH_ROUTES_NOW")
    if fixed:
        start = dt.datetime.fromisoformat(fixed)
        # ... and with ``OUTREACH_ROUTES_NOW_AT`` (a Unix time), it runs on from that moment:
        # the calls' timers of a test go off, and a restarted server's clock carries on.
        since = os.environ.get("OUTREACH_ROUTES_NOW_AT")
        if since:
            return start + dt.timedelta(seconds=time.time() - float(since))
        return start
    return dt.datetime.now(dt.UTC)


# --- the plan being served -----------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    folder: Path
    sha256: str
    document: dict[str, Any]
    schedule: Schedule

    @property
    def timezone(self) -> ZoneInfo:
        return self.schedule.timezone

    def slugs(self) -> dict[str, str]:
        """Team name -> slug."""
        return {r["team"]: r["slug"] for r in self.document["teams"]}

    def route(self, team: str, night: str) -> dict[str, Any] | None:
        return self._routes.get((team, night))

    @functools.cached_property
    def _routes(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(r["team"], r["night"]): r for r in self.document["teams"]}

    def planned_place(self, team: str, when: dt.datetime) -> tuple[float, float] | None:
        """``(lon, lat)`` where the plan puts ``team`` at ``when``; None off shift."""
        for route, track in zip(self.document["teams"], self.schedule.tracks, strict=True):
            if route["team"] == team:
                start = dt.datetime.fromisoformat(route["shift_start"])
                if start <= when <= dt.datetime.fromisoformat(route["shift_end"]):
                    t = min(max(when.timestamp(), track[0, 0]), track[-1, 0])
                    return position_at(track, t)
        return None


class Runs:
    """The latest run of a runs folder, read again when ``latest`` points elsewhere or its
    ``plan.json`` changes (a new week, a nightly revision): no restart needed. The folder is
    looked at no more than once every ``CHECK_S`` seconds, not on every request: resolving
    ``latest`` takes a system call per path part, and under load each one queues for the GIL
    (``benchmarks/serve_load.py``)."""

    CHECK_S = 1.0

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._served: Served | None = None
        self._checked = -math.inf

    def latest(self) -> Path:
        folder = latest_run(self.runs_dir) if self.runs_dir.is_dir() else None
        if folder is None:
            raise InputDataError(
                f"{self.runs_dir}: no plan yet; run `outreach-routes plan --runs-dir "
                f"{self.runs_dir}` first"
            )
        return folder

    def current(self) -> Served:
        served = self._served
        if served is not None and time.monotonic() - self._checked < self.CHECK_S:
            return served
        folder = self.latest()
        plan = folder / "plan.json"
        stat = plan.stat()
        key = (str(plan), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key != self._key:
                data = plan.read_bytes()
                sha = hashlib.sha256(data).hexdigest()
                served = self._served
                if served is None or sha != served.sha256 or folder != served.folder:
                    self._served = Served(
                        folder, sha, json.loads(data), load_schedule(folder, many_queries=True)
                    )
                self._key = key
            self._checked = time.monotonic()
            assert self._served is not None
            return self._served


# --- the app --------------------------------------------------------------------------------------


def create_app(
    runs_dir: str | Path, db: str | Path | None = None, *, keep: ServiceConfig | None = None
) -> Starlette:
    """The service for ``runs_dir``, its database at ``db`` (default
    ``runs_dir/service.sqlite3``), with the config's ``[service]`` settings ``keep``.
    Retention follows it: positions in check-ins older than ``keep_positions_days`` are
    cleared, and check-ins, scene requests and the audit log are kept ``keep_days``: at start,
    then hourly. So do the per-account limits on check-ins and failed logins."""
    keep = keep or ServiceConfig()
    runs = Runs(Path(runs_dir))
    store = Store(db or Path(runs_dir) / "service.sqlite3")
    store.start_writer()
    with contextlib.suppress(InputDataError):  # no plan yet: requests say so (503)
        runs.current()  # load the plan now, not on the first request

    def retention() -> None:
        while True:
            time.sleep(3600)
            store.forget(now(), keep.keep_positions_days, keep.keep_days)

    store.forget(now(), keep.keep_positions_days, keep.keep_days)  # before the first request

    threading.Thread(target=retention, name="outreach-routes retention", daemon=True).start()
    service = _Service(runs, store, keep)
    service.calls.start()  # the calls' timer loop: offers due while the server was down go now
    routes = [
        Route("/login", service.login_page, methods=["GET"]),
        Route("/api/login", service.login, methods=["POST"]),
        Route("/", service.home, methods=["GET"]),
        Route("/api/board", service.board, methods=["GET"]),
        Route("/api/board/routes", service.board_routes, methods=["GET"]),
        Route("/audit", service.audit_page, methods=["GET"]),
        Route("/api/audit", service.audit, methods=["GET"]),
        Route("/where", service.where_page, methods=["GET"]),
        Route("/api/where", service.where, methods=["GET"]),
        Route("/api/scene-requests", service.scene_requests, methods=["GET", "POST"]),
        Route("/api/scene-requests/{id}", service.call_read, methods=["GET"]),
        Route("/api/scene-requests/{id}/path", service.call_path, methods=["GET"]),
        Route("/api/scene-requests/{id}/{change}", service.call_change, methods=["POST"]),
        Route("/api/events", service.events, methods=["GET"]),
        Route("/api/checkins", service.checkins, methods=["GET", "POST"]),
        Route("/team/{slug}", service.team_page, methods=["GET"]),
        Route("/run/{path:path}", service.run_file, methods=["GET"]),
        Route("/reports/{week}/{name}", service.report_file, methods=["GET"]),
        Mount("/static", StaticFiles(packages=[("outreach_routes.service", "static")])),
        Mount(VENDOR.rstrip("/"), StaticFiles(directory=service.vendor, check_dir=False)),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            Refused: _refused,
            InputDataError: _no_plan,
            CallRefused: _call_refused,
        },  # fmt: skip
        lifespan=_warm_up,
    )
    app.state.service = service
    app.add_middleware(_Locked, service=service)
    return app


@contextlib.asynccontextmanager
async def _warm_up(app: Starlette):
    """Before the first request: start the worker threads (and import what they need), so
    that the first answer is not a tenth of a second slower than the rest."""
    await run_in_threadpool(lambda: None)
    yield


async def _no_plan(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=503)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    headers = {} if exc.retry_after is None else {"retry-after": str(exc.retry_after)}
    if exc.status in AUDITED:
        user = getattr(request.state, "user", None)
        await _audit_refusal(request, user.name if user else "-", exc.status, exc.reason)
    return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=headers)


async def _call_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CallRefused)
    return await _refused(request, Refused(exc.status, exc.reason))


AUDITED = (401, 403, 429)  # refusals that go to the audit log, with the address


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _audit_refusal(request: Request, user: str, status: int, reason: str) -> None:
    """An audit line for a refused request, on disk before the refusal answers. The
    same refusal again (account, address, status, method and path) within
    ``REFUSALS_EVERY_S`` is counted, not written: its next line says how many there were, so a
    flood of refusals cannot flood the log."""
    service: _Service = request.app.state.service
    address = _address(request)
    key = (user, address, status, request.method, request.url.path)
    repeats = service.refusals.count(key)
    if repeats is None:
        return
    detail = f"{status} {request.method} {request.url.path} from {address}: {reason}"
    if repeats:
        detail += f" ({repeats} more like it before this, not written)"
    await asyncio.wrap_future(
        service.store.audit_soon(user, f"refused {status}", detail[:500], now())
    )


REFUSALS_EVERY_S = 60.0  # the same refusal is written to the audit log at most this often


class _Repeats:
    """Refusals seen, by key: whether to write one now, and how many went unwritten."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple, tuple[float, int]] = {}  # key -> (last written, since then)

    def count(self, key: tuple) -> int | None:
        """None when a line for ``key`` was written under ``REFUSALS_EVERY_S`` ago (this one is
        counted); else how many were counted since, the line to write now."""
        moment = time.monotonic()
        with self._lock:
            if len(self._seen) > 100_000:  # many addresses: keep only the recent ones
                self._seen = {
                    k: v for k, v in self._seen.items() if moment - v[0] < REFUSALS_EVERY_S
                }
            last, unwritten = self._seen.get(key, (-math.inf, 0))
            if moment - last < REFUSALS_EVERY_S:
                self._seen[key] = (last, unwritten + 1)
                return None
            self._seen[key] = (moment, 0)
            return unwritten


class _Locked:
    """Every request but the login page's needs a user; every answer carries the headers that
    keep it out of caches and referrers."""

    OPEN = {"/login", "/api/login"}
    OPEN_UNDER = ("/static/", VENDOR)  # the pages' scripts, styles, map libraries: public

    def __init__(self, app, service: _Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        path = scope["path"]
        if path not in self.OPEN and not path.startswith(self.OPEN_UNDER):
            request = Request(scope)
            user = await run_in_threadpool(self.service.user, request)
            refusal = None
            if user is None:
                refusal = Refused(401, "log in first: send `Authorization: Bearer TOKEN`, or "
                                  "open your login link")  # fmt: skip
            elif request.method not in SAFE_METHODS and not _bearer(request):
                refusal = _cross_site(request)
            if refusal is not None:
                await _audit_refusal(
                    request, user.name if user else "-", refusal.status, refusal.reason
                )
                response = JSONResponse({"error": refusal.reason}, status_code=refusal.status)
                await response(scope, receive, with_headers)
                return
            scope["state"] = {**scope.get("state", {}), "user": user}
        await self.app(scope, receive, with_headers)


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _bearer(request: Request) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``, if the request sends one."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _cross_site(request: Request) -> Refused | None:
    """Why a cookie-authenticated request that changes something may not be from our own
    pages (CSRF), or None: it must be JSON, from this origin."""
    if not _is_json(request):
        return Refused(415, "send the body as JSON, with `Content-Type: application/json`")
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None:
        if origin.split("://", 1)[-1].rstrip("/").lower() != host.lower() or not host:
            return Refused(403, "this request came from another site; use the service's pages")
        return None
    if request.headers.get("sec-fetch-site") == "same-origin":
        return None
    return Refused(403, "send an `Origin` header (the service's own pages do)")


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json"


class _Service:
    def __init__(self, runs: Runs, store: Store, settings: ServiceConfig) -> None:
        self.runs = runs
        self.store = store
        self.settings = settings
        self.checkin_rate = Buckets(settings.checkins_per_minute, settings.checkins_burst)
        self._boards: dict[str, float] = {}  # user -> when its board was last read
        self.refusals = _Repeats()
        self.vendor = vendor_dir()
        self.call_rate = Buckets(settings.call_changes_per_minute, settings.call_changes_per_minute)
        self.broker = Broker()
        self.calls = Calls(
            store,
            rank=self._rank,
            clock=now,
            zone=lambda: self.runs.current().timezone,
            contacts=self._contacts,
            corner=self._corner,
            publish=self.broker.publish,
            answer_min=settings.scene_answer_min,
            give_up_min=settings.scene_give_up_min,
        )

    # --- who is asking --------------------------------------------------------------------

    def user(self, request: Request) -> User | None:
        token = _bearer(request)
        if token is not None:
            return self.store.user_by_token(token)
        session = request.cookies.get(SESSION_COOKIE)
        if session:
            return self.store.user_by_session(session, now())
        return None

    @staticmethod
    def _allow(request: Request, *roles: str) -> User:
        user: User = request.state.user
        if user.role not in roles:
            raise Refused(403, f"a {user.role} account cannot do this")
        return user

    # --- login ----------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        return _page("login.html")

    async def login(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            if not isinstance(body, dict) or set(body) != {"code"}:
                raise Refused(400, "send a JSON object with the link's `code`, and nothing else")
            code = _text(body, "code", 200, required=True)
        except Refused as refused:  # a malformed code counts as a failed login too
            if refused.status == 400:
                await run_in_threadpool(self._failed_login, request, refused.reason)
            raise
        return await run_in_threadpool(self._login, request, code)

    def _failed_login(self, request: Request, why: str) -> None:
        """Count and audit a login whose body held no code."""
        address = _address(request)
        outcome, _ = self.store.log_in(None, address, now(), limit=self.settings.failed_logins)
        self.store.audit("-", "failed login", f"from {address}: {outcome}, {why}"[:500], now())

    def _login(self, request: Request, code: str) -> Response:
        address = _address(request)
        outcome, redeemed = self.store.log_in(
            code, address, now(), limit=self.settings.failed_logins
        )
        if redeemed is None:
            self.store.audit("-", "failed login", f"from {address}: {outcome}", now())
            if outcome == "locked":
                raise Refused(429, "too many failed logins from this address, for this account "
                              "or with this link; wait 15 minutes", retry_after=900)  # fmt: skip
            raise Refused(401, "this login link is not valid (used, expired or revoked); ask "
                          "the coordinators for a new one")  # fmt: skip
        user, session = redeemed
        self.store.audit(user.name, "login", f"from {address}", now())
        response = JSONResponse({"next": self._home_of(user)})
        response.set_cookie(
            SESSION_COOKIE,
            session,
            max_age=14 * 24 * 3600,
            httponly=True,
            secure=True,
            samesite="strict",
            path="/",
        )
        return response

    def _home_of(self, user: User) -> str:
        if user.role == "team":
            slug = self.runs.current().slugs().get(user.team or "")
            return f"/team/{slug}" if slug else "/login"
        return "/where" if user.role == "dispatch" else "/"

    def home(self, request: Request) -> Response:
        user: User = request.state.user
        if user.role != "coordinator":
            return RedirectResponse(self._home_of(user), status_code=303)
        served = self.runs.current()
        return _map_page(
            "board.html",
            city=served.document["city"],
            week_of=served.document["week_of"],
            user=user.name,
        )

    # --- coordinators ---------------------------------------------------------------------

    def board(self, request: Request) -> Response:
        user = self._allow(request, "coordinator")
        served = self.runs.current()
        when = now().astimezone(served.timezone)
        night = _night_of(when)
        by_team: dict[str, list[dict[str, Any]]] = {}
        for row in self.store.night_checkins(night):
            by_team.setdefault(row["team"], []).append(row)
        teams = []
        fresh = self._reported(served, when)
        colours = team_colours(served.document)
        for team, slug in served.slugs().items():
            route = served.route(team, night)
            row = _team_board(served, team, slug, route, by_team.get(team, []), when)
            row["colour"] = colours[slug]
            row["place"] = _believed_place(served, team, fresh.get(team), when)
            teams.append(row)
        if self._board_session_starts(user):
            self.store.audit(
                user.name,
                "board",
                f"opened: positions of {len(teams)} teams, from {_address(request)}",
                now(),
            )
        calls = self.store.calls_since(when - dt.timedelta(hours=24))
        return JSONResponse(
            {
                "night": night,
                "now": when.isoformat(timespec="seconds"),
                "teams": teams,
                "calls": [self.calls.view(c) for c in calls],
                "week_of": served.document["week_of"],
            }
        )

    def board_routes(self, request: Request) -> Response:
        """``GET /api/board/routes``: tonight's routes (or ``?night=YYYY-MM-DD``'s) for the
        board's map, each with its team's colour, its path and its stops."""
        self._allow(request, "coordinator")
        _only(request.query_params, "night")
        served = self.runs.current()
        night = request.query_params.get("night") or _night_of(now().astimezone(served.timezone))
        if not _NIGHT.match(night):
            raise Refused(400, "`night` is a date, YYYY-MM-DD")
        colours = team_colours(served.document)
        routes = [
            {
                "team": r["team"],
                "colour": colours[r["slug"]],
                "shift_start": r["shift_start"],
                "shift_end": r["shift_end"],
                "path": [[lat, lon] for lon, lat in r["path"]],
                "stops": [
                    {
                        "number": k,
                        "name": s.get("corner") or s["label"],
                        "lat": s["lat"],
                        "lon": s["lon"],
                        "arrive": s["arrive"],
                    }
                    for k, s in enumerate(r["stops"][1:-1], start=1)
                ],  # fmt: skip
            }
            for r in served.document["teams"]
            if r["night"] == night
        ]
        return JSONResponse({"night": night, "routes": routes})

    def _board_session_starts(self, user: User) -> bool:
        """Whether this read of the board starts a session of it (one audit line a session,
        not one a refresh): the user's last read was ``BOARD_SESSION_S`` ago or more."""
        moment = time.monotonic()
        last = self._boards.get(user.name)
        self._boards[user.name] = moment
        return last is None or moment - last >= BOARD_SESSION_S

    def audit_page(self, request: Request) -> Response:
        self._allow(request, "coordinator")
        kind, account, before = _audit_filter(request)
        rows = self.store.audit_log(action=kind, user=account, before=before)
        older = None
        if len(rows) == 500:
            older = "/audit?" + urlencode(
                {k: v for k, v in (("kind", kind), ("user", account)) if v}
                | {"before": rows[-1]["id"]}
            )
        return _page("audit.html", rows=rows, kind=kind or "", account=account or "",
                     kinds=self.store.audit_actions(), older=older)  # fmt: skip

    def audit(self, request: Request) -> Response:
        self._allow(request, "coordinator")
        kind, account, before = _audit_filter(request)
        return JSONResponse(self.store.audit_log(action=kind, user=account, before=before))

    # --- dispatch -------------------------------------------------------------------------

    def where_page(self, request: Request) -> Response:
        user = self._allow(request, "dispatch", "coordinator")
        served = self.runs.current()
        return _map_page("where.html", city=served.document["city"], user=user.name)

    def where(self, request: Request) -> Response:
        user = self._allow(request, "dispatch", "coordinator")
        served = self.runs.current()
        _only(request.query_params, "near", "at")
        near = request.query_params.get("near", "").strip()
        if not near or len(near) > 200:
            raise Refused(400, 'give `near`: "lat,lon" or a corner such as "Lake St & Chicago Ave"')
        at = request.query_params.get("at") or now().astimezone(served.timezone).isoformat()
        when = _time(at, served.timezone, "at", 400)
        try:
            where_question(served.schedule, when, near)
        except InputDataError as exc:
            raise Refused(422, str(exc)) from exc
        # a good question: its audit line is written while the answer is worked out, and the
        # answer waits for it (under load, the wait was a third of the answer's time)
        audited = self.store.audit_soon(
            user.name, "where", f"near {near!r} at {when.isoformat()}", now()
        )
        rows = nearest_teams(served.schedule, when, near, reported=self._reported(served, when))
        audited.result()
        _on_the_streets(near, rows)
        return JSONResponse(rows)

    def _reported(self, served: Served, when: dt.datetime) -> dict[str, dict[str, Any]]:
        """Per team on shift at ``when``, where its newest check-in of the last
        ``CHECK_IN_FRESH_MIN`` minutes puts it (see :func:`nearest_teams`)."""
        since = when - dt.timedelta(minutes=CHECK_IN_FRESH_MIN)
        out = {}
        for row in self.store.latest_checkins(served.slugs(), since, when):
            tapped = dt.datetime.fromisoformat(row["tapped_at"])
            route = served.route(row["team"], row["night"])
            if route is None:
                continue
            start = dt.datetime.fromisoformat(route["shift_start"])
            end = dt.datetime.fromisoformat(route["shift_end"])
            if not start <= when <= end or row["status"] == "end":
                continue
            place = _place(row, route, self.store)
            if place is not None:
                out[row["team"]] = {
                    "lon": place[0],
                    "lat": place[1],
                    "age_min": (when - tapped).total_seconds() / 60,
                    "status": _said(row, route),
                }
        return out

    async def scene_requests(self, request: Request) -> Response:
        if request.method == "POST":
            self._allow(request, "dispatch", "coordinator")
        body = await _json_body(request) if request.method == "POST" else None
        return await run_in_threadpool(self._scene_requests, request, body)

    def _scene_requests(self, request: Request, body: Any) -> Response:
        served = self.runs.current()
        when = now()
        if request.method != "POST":
            user = self._allow(request, "coordinator", "team", "dispatch")
            calls = self.store.calls_since(when - dt.timedelta(hours=24))
            if user.role == "team":
                calls = [c for c in calls if _offered_to(c, user.team)]
            return JSONResponse([self.calls.view(c) for c in calls])
        user = self._allow(request, "dispatch", "coordinator")
        if not isinstance(body, dict):
            raise Refused(400, "send a JSON object: near, asked_by, note")
        _known(body, "near", "asked_by", "note")
        near = _text(body, "near", 200, required=True) or ""
        asked_by = _text(body, "asked_by", 200, required=True)
        note = _text(body, "note", 1000) or ""
        try:
            lat, lon = place_lat_lon(served.schedule, near)
            rows = nearest_teams(
                served.schedule, when.astimezone(served.timezone), near,
                reported=self._reported(served, when.astimezone(served.timezone)),
            )  # fmt: skip
        except InputDataError as exc:
            raise Refused(422, str(exc)) from exc
        _on_the_streets(near, rows)
        request_id = f"scene-{when:%Y%m%d%H%M%S}-{hashlib.sha256(os.urandom(8)).hexdigest()[:6]}"
        call = {"id": request_id, "lat": lat, "lon": lon, "place": near, "asked_by": asked_by,
                "note": note}  # fmt: skip
        self._admit_call_change(user)  # calls made: a malformed request takes no turn
        view = self.calls.ask(user, call, self._on_shift(served, rows))
        self.store.audit(user.name, "scene request", f"{request_id} at {near!r}: "
                         f"{_call_words(view)}", when)  # fmt: skip
        return JSONResponse({**view, "nearest_team": view["offered_to"]}, status_code=201)

    # --- calls (service/calls.py) ---------------------------------------------------------

    async def call_read(self, request: Request) -> Response:
        user = self._allow(request, "dispatch", "coordinator", "team")
        _only(request.query_params)
        return await run_in_threadpool(self._call_read, user, request.path_params["id"])

    def _call_read(self, user: User, call_id: str) -> Response:
        call = self.calls.get(call_id)
        if user.role == "team" and not _offered_to(call, user.team):
            raise Refused(403, "this call was not offered to your team")
        return JSONResponse(self.calls.view(call))

    async def call_path(self, request: Request) -> Response:
        user = self._allow(request, "dispatch", "coordinator", "team")
        _only(request.query_params)
        return await run_in_threadpool(self._call_path, user, request.path_params["id"])

    def _call_path(self, user: User, call_id: str) -> Response:
        """``GET /api/scene-requests/{id}/path``: the walk over the streets from where the
        service believes the call's team is (its check-in under ``CHECK_IN_FRESH_MIN``
        minutes old, else the plan) to the scene, while the call is offered; once accepted,
        from where it was when it accepted. A
        team reads it only for a call that is its own now: an offer that passed on would
        otherwise tell it where the next team is."""
        call = self.calls.get(call_id)
        view = self.calls.view(call)
        team = view["team"] if view["state"] in ("offered", "accepted") else None
        if user.role == "team" and (team is None or team != user.team):
            raise Refused(403, "this call is not your team's now")
        out: dict[str, Any] = {"id": call_id, "state": view["state"], "team": team,
                               "scene": {"lat": call["lat"], "lon": call["lon"]},
                               "from": None, "path": None, "metres": None}  # fmt: skip
        if team is None:
            return JSONResponse(out)
        served = self.runs.current()
        # an accepted call's walk starts where the team was when it said "Going" (its
        # `responding` check-in, made that moment, puts it at the scene)
        when = now()
        if view["state"] == "accepted":
            when = dt.datetime.fromisoformat(view["accepted_at"]) - dt.timedelta(seconds=1)
        row = next((r for r in self._rank(call["lat"], call["lon"], when) if r["team"] == team),
                   None)  # fmt: skip
        if row is None or row["position"] is None:
            return JSONResponse({**out, "why": f"{team} is not on shift now"})
        lon, lat = row["position"]
        out["from"] = {"lat": lat, "lon": lon, "source": row["source"], "status": row["status"],
                       "age_min": row.get("check_in_age_min")}  # fmt: skip
        walk = walking_path(served.schedule, (lat, lon), (call["lat"], call["lon"]))
        if walk is None:
            return JSONResponse({**out, "why": "no street leads from the team to the scene"})
        points, metres = walk
        return JSONResponse({**out, "metres": round(metres),
                             "path": [[round(a, 6), round(b, 6)] for a, b in points]})  # fmt: skip

    CHANGES = ("answer", "arrived", "close", "cancel")

    async def call_change(self, request: Request) -> Response:
        """``POST /api/scene-requests/{id}/answer|arrived|close|cancel``."""
        change = request.path_params["change"]
        if change not in self.CHANGES:
            raise Refused(404, f"no such change {change[:40]!r}: answer, arrived, close, cancel")
        user = self._allow(request, *(("team",) if change == "answer" else
                                      ("dispatch", "coordinator") if change == "cancel" else
                                      ("team", "coordinator")))  # fmt: skip
        await run_in_threadpool(self._admit_call_change, user)
        body = await _json_body(request) if await _has_body(request) else {}
        if not isinstance(body, dict):
            raise Refused(400, "send a JSON object")
        return await run_in_threadpool(
            self._call_change, user, request.path_params["id"], change, body
        )

    def _call_change(self, user: User, call_id: str, change: str, body: dict) -> Response:
        calls = self.calls
        if change == "answer":
            _known(body, "answer", "reason", "note")
            answer = body.get("answer")
            if answer not in ("going", "cannot"):
                raise Refused(422, '`answer` must be "going" or "cannot"')
            reason = body.get("reason")
            note = _text(body, "note", 200)
            if answer == "cannot" and reason not in CANNOT_REASONS:
                raise Refused(422, f"`reason` must be one of {', '.join(CANNOT_REASONS)}")
            if answer == "going" and (reason is not None or note is not None):
                raise Refused(422, '`reason` and `note` go with "cannot" only')
            if reason == "other" and not note:
                raise Refused(422, 'the reason "other" needs a `note` saying what it is')
            view = calls.answer(user, call_id, answer, reason, note)
        elif change == "close":
            _known(body, "outcome", "note")
            outcome = body.get("outcome")
            if outcome not in OUTCOMES:
                raise Refused(422, f"`outcome` must be one of {', '.join(OUTCOMES)}")
            note = _text(body, "note", 500)
            if outcome == "other" and not note:
                raise Refused(422, 'the outcome "other" needs a `note` saying what happened')
            view = calls.close(user, call_id, outcome, note)
        else:
            _known(body)
            step = calls.arrived if change == "arrived" else calls.cancel
            view = step(user, call_id)
        self.store.audit(user.name, f"call {change}", f"{call_id}: {_call_words(view)}", now())
        return JSONResponse(view)

    def _admit_call_change(self, user: User) -> None:
        wait = self.call_rate.take(user.name)
        if wait:
            raise Refused(429, f"more than {self.settings.call_changes_per_minute} calls made or "
                          "answered a minute from this account",
                          retry_after=Buckets.retry_after(wait))  # fmt: skip

    def _rank(self, lat: float, lon: float, when: dt.datetime) -> list[dict[str, Any]]:
        """The teams on shift nearest ``lat, lon`` at ``when``, as ``where`` ranks them."""
        served = self.runs.current()
        local = when.astimezone(served.timezone)
        try:
            rows = nearest_teams(served.schedule, local, f"{lat},{lon}",
                                 reported=self._reported(served, local))  # fmt: skip
        except InputDataError:  # outside the plan's week: no team on shift
            return []
        return self._on_shift(served, rows)

    @staticmethod
    def _on_shift(served: Served, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        speeds = {r["team"]: r["walk_speed_kmh"] for r in served.document["teams"]}
        return [
            {**r, "distance_km": None if r["walk_min"] is None
             else round(r["walk_min"] / 60 * speeds.get(r["team"], 4.5), 2)}
            for r in rows if r["on_shift"]
        ]  # fmt: skip

    def _corner(self, lat: float, lon: float) -> str | None:
        """The street corner of the plan's stop nearest ``lat, lon``, within
        ``CORNER_NEAR_M``: a call's place in words for the phone and dispatch."""
        best, name = CORNER_NEAR_M, None
        for route in self.runs.current().document["teams"]:
            for stop in route["stops"]:
                if stop.get("corner"):
                    dy = (stop["lat"] - lat) * 111_320
                    dx = (stop["lon"] - lon) * 111_320 * math.cos(math.radians(lat))
                    gap = math.hypot(dx, dy)
                    if gap < best:
                        best, name = gap, stop["corner"]
        return name

    def _contacts(self) -> tuple[dict[str, str], str]:
        document = self.runs.current().document
        lines = {r["team"]: r["contact"] for r in document["teams"]}
        return lines, document.get("coordinators_contact") or ""

    # --- live updates ---------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        """``GET /api/events``: this account's Server-Sent Events (service/events.py)."""
        user: User = request.state.user
        _only(request.query_params)
        # a reconnecting page says the last event it had: it gets what came after, from the
        # database; a page that opens a new stream reads the calls' state itself
        last = request.headers.get("last-event-id", "").strip()
        after = int(last) if last.isdigit() and len(last) < 19 else None
        most = self.settings.streams_per_account
        subscription = self.broker.subscribe(user, most)
        if subscription is None:
            raise Refused(429, f"this account has {most} live streams open, the most it may; "
                          "close a page", retry_after=10)  # fmt: skip

        async def replay() -> list[tuple[int, str]]:
            if after is None:
                return []
            rows = await run_in_threadpool(self.calls.replay, after)
            return [(e["id"], frame(e, extra["call"])) for e, extra in rows
                    if visible(user, e, extra["user"])]  # fmt: skip

        return StreamingResponse(
            stream(self.broker, subscription, replay, self.settings.stream_keep_alive_s),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    # --- teams ----------------------------------------------------------------------------

    def team_page(self, request: Request) -> Response:
        """``/team/<slug>``: the team's map (with its check-in buttons) in the run's folder
        layout, so the map's links to its sheet and GPX work."""
        return RedirectResponse(f"/run/teams/{request.path_params['slug']}.html", 303)

    def _team_map(self, served: Served, user: User, slug: str) -> str:
        """The run's team map with the check-in panel for tonight's (or the week's) stops."""
        team = next(t for t, s in served.slugs().items() if s == slug)
        when = now().astimezone(served.timezone)
        routes = {r["night"]: r for r in served.document["teams"] if r["team"] == team}
        night = _night_of(when)
        panel = _TEMPLATES.get_template("team_panel.html").render(
            team=team,
            night=night if night in routes else min(routes),
            nights={
                n: [
                    {"stop_id": s["stop_id"], "number": k, "label": s["label"],
                     "corner": s.get("corner"), "arrive": s["arrive"][11:16]}
                    for k, s in enumerate(r["stops"][1:-1], start=1)
                ]
                for n, r in sorted(routes.items())
            },
            reasons=SKIP_REASONS,
            can_check_in=user.role == "team",
            cannot_reasons=CANNOT_REASONS,
            outcomes=OUTCOMES,
        )  # fmt: skip
        page = (served.folder / "teams" / f"{slug}.html").read_text("utf-8")
        return page.replace("</body>", panel + "\n</body>", 1)

    async def checkins(self, request: Request) -> Response:
        if request.method != "POST":
            return await run_in_threadpool(self._read_checkins, request)
        user = self._allow(request, "team")
        await run_in_threadpool(self._admit_checkin, user)  # before the body is read
        body = await _json_body(request)
        return await run_in_threadpool(self._add_checkin, user, body)

    def _admit_checkin(self, user: User) -> None:
        """The account's limits, or 429 with when to try again."""
        wait = self.checkin_rate.take(user.name)
        if wait:
            raise Refused(429, f"more than {self.settings.checkins_per_minute} check-ins a "
                          "minute from this account; the phone tries again later",
                          retry_after=Buckets.retry_after(wait))  # fmt: skip
        day = self.settings.checkins_per_day
        if self.store.checkins_stored_by(user.name, now() - dt.timedelta(days=1)) >= day:
            raise Refused(429, f"this account has sent {day} check-ins in 24 hours, the most "
                          "it may; ask the coordinators", retry_after=3600)  # fmt: skip

    def _read_checkins(self, request: Request) -> Response:
        """A page of check-ins, oldest first: ``limit`` rows (default ``PAGE``) after the row
        ``after``; a ``Link: <...>; rel="next"`` header when more remain."""
        served = self.runs.current()
        user = self._allow(request, "team", "coordinator")
        query = request.query_params
        _only(query, "team", "since", "limit", "after")
        team = query.get("team") or user.team
        if user.role == "team" and team != user.team:
            raise Refused(403, "a team account reads its own team's check-ins only")
        since = query.get("since")
        if since is not None:
            since = _time(since, served.timezone, "since", 400).isoformat()
        limit = _whole(query, "limit", PAGE, 1, MAX_PAGE)
        after = _whole(query, "after", 0, 0, 2**62)
        rows = self.store.checkins(team=team, since=since, after=after, limit=limit + 1)
        headers = {}
        if len(rows) > limit:
            rows = rows[:limit]
            following = {k: v for k, v in query.items() if k != "after"} | {"after": rows[-1]["id"]}
            headers["link"] = f'<{request.url.path}?{urlencode(following)}>; rel="next"'
        self.store.audit(user.name, "check-ins", f"team {team!r} since {since}, {len(rows)} rows "
                         f"after {after}", now())  # fmt: skip
        return JSONResponse(rows, headers=headers)

    def _add_checkin(self, user: User, body: Any) -> Response:
        row = _checkin(body, self.runs.current(), user, now())
        outcome, differ = self.store.add_checkin(row)
        if outcome == "conflict":
            raise Refused(409, f"check-in {row['client_id']!r} was sent before with another "
                          f"{', '.join(differ)}; a new check-in needs a new client_id")  # fmt: skip
        return JSONResponse(
            {"client_id": row["client_id"], "stored": outcome == "stored",
             "late": bool(row["late"])},
            status_code=201 if outcome == "stored" else 200,
        )  # fmt: skip

    def run_file(self, request: Request) -> Response:
        """A file of the run being served, by the role's allow-list."""
        user: User = request.state.user
        served = self.runs.current()
        path = request.path_params["path"]
        allowed = _allowed_files(served, user)
        if path not in allowed:
            raise Refused(404, "no such file for this account")
        target = served.folder / path
        slug = path.removeprefix("teams/").removesuffix(".html")
        if path == f"teams/{slug}.html" and slug in served.slugs().values():
            return self._run_page(self._team_map(served, user, slug))
        if target.suffix == ".html":
            return self._run_page(target.read_text("utf-8"))
        media = {
            ".html": "text/html; charset=utf-8",
            ".gpx": "application/gpx+xml",
            ".ics": "text/calendar",
            ".json": "application/json",
        }
        return Response(target.read_bytes(), media_type=media.get(target.suffix, "text/plain"))

    def report_file(self, request: Request) -> Response:
        """A week's dosage report (``outreach-routes report``): coordinators only."""
        self._allow(request, "coordinator")
        week, name = request.path_params["week"], request.path_params["name"]
        target = self.runs.runs_dir / "reports" / week / name
        if not WEEK_FOLDER.match(week) or name not in REPORT_FILES or not target.is_file():
            raise Refused(404, f"no report {name!r} for week {week!r}; make it with "
                          "`outreach-routes report --week`")  # fmt: skip
        if name.endswith(".html"):
            return self._run_page(target.read_text("utf-8"))
        return Response(target.read_bytes(), media_type=REPORT_FILES[name])

    def _run_page(self, page: str) -> HTMLResponse:
        """One of the run's HTML pages: its map libraries from ``/vendor/``, under a CSP."""
        page = vendored(page, self.vendor)
        return HTMLResponse(page, headers={"content-security-policy": page_csp(page)})


# --- helpers --------------------------------------------------------------------------------------


# The service's own pages: their scripts and styles are files it serves (static/), nothing inline.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def vendor_dir() -> Path | None:
    """The npm copies of the map libraries (``make`` installs them; ``OUTREACH_ROUTES_ASSETS``
    names another folder), or None with a warning: the maps then show without them."""
    try:
        return assets_dir()
    except InputDataError as exc:
        print(f"warning: {exc}", file=sys.stderr, flush=True)
        return None


# ... and those with a live map (the board, /where) load tiles from the tile server, only.
MAP_PAGE_CSP = PAGE_CSP.replace("img-src 'self' data:", f"img-src 'self' data: {TILE_ORIGIN}")


def _page(name: str, *, csp: str = PAGE_CSP, **values: Any) -> HTMLResponse:
    return HTMLResponse(
        _TEMPLATES.get_template(name).render(**values),
        headers={"content-security-policy": csp},
    )


def _map_page(name: str, **values: Any) -> HTMLResponse:
    """A service page with a live map: Leaflet from ``/vendor/``, tiles from ``TILES``."""
    return _page(name, csp=MAP_PAGE_CSP, tiles=TILES, leaflet=VENDOR + "leaflet/dist/", **values)


async def _json_body(request: Request) -> Any:
    """The request's JSON body: at most ``MAX_BODY`` bytes of strict UTF-8 (no lone
    surrogates, even escaped), nested at most ``MAX_DEPTH`` deep; else 400, 413 or 415."""
    if not _is_json(request):
        raise Refused(415, "send the body as JSON, with `Content-Type: application/json`")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise Refused(413, f"the body is larger than {MAX_BODY // 1024} KB")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refused(413, f"the body is larger than {MAX_BODY // 1024} KB")
    try:
        value = json.loads(body.decode("utf-8"))
    except RecursionError as exc:
        raise Refused(400, f"the body is nested more than {MAX_DEPTH} deep") from exc
    except ValueError as exc:  # UnicodeDecodeError too
        raise Refused(400, f"the body is not JSON in UTF-8 ({str(exc)[:200]})") from exc
    _plain(value)
    return value


def _plain(value: Any) -> None:
    """Refuse (400) a JSON value nested over ``MAX_DEPTH``, or holding a string that is not
    Unicode text (a lone surrogate such as "\\ud800")."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused(400, f"the body is nested more than {MAX_DEPTH} deep")
        if isinstance(item, dict):
            stack += [(k, depth + 1) for k in item] + [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise Refused(400, "the body holds a lone surrogate (\\ud800-\\udfff); "
                              "send Unicode text") from exc  # fmt: skip


def _known(body: dict, *fields: str) -> None:
    extra = sorted(set(body) - set(fields))
    if extra:
        raise Refused(422, f"unknown field(s) {', '.join(map(repr, extra))}; known: "
                      f"{', '.join(fields) or 'none'}")  # fmt: skip


def _only(query: Any, *names: str) -> None:
    extra = sorted(set(query) - set(names))
    if extra:
        raise Refused(400, f"unknown parameter(s) {', '.join(map(repr, extra))}; known: "
                      f"{', '.join(names)}")  # fmt: skip


def _whole(query: Any, name: str, default: int, least: int, most: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not least <= int(text) <= most:
        raise Refused(400, f"`{name}` must be a whole number from {least} to {most}")
    return int(text)


def _time(text: str, zone: ZoneInfo, name: str, status: int) -> dt.datetime:
    """``text`` as an aware time (in ``zone`` when it has no offset) between ``EARLIEST``
    and ``LATEST``, or :class:`Refused` with ``status``."""
    try:
        when = _aware(text, zone)
        if EARLIEST <= when <= LATEST:
            return when
    except (ValueError, OverflowError):
        pass
    raise Refused(status, f"`{name}` {text[:40]!r} is not a time from {EARLIEST.year} to "
                  f"{LATEST.year}; write it as YYYY-MM-DDTHH:MM[:SS][+HH:MM]")  # fmt: skip


def _offered_to(call: dict[str, Any], team: str | None) -> bool:
    """Whether ``call`` was ever offered to ``team``."""
    return any(e["state"] == "offered" and e["team"] == team for e in call["events"])


def _call_words(view: dict[str, Any]) -> str:
    """A call's state in a few words, for the audit log."""
    team = view["accepted_by"] or view["offered_to"] or "no team"
    return f"{view['state']} ({team})"


async def _has_body(request: Request) -> bool:
    """Whether a request sends a body (a change with nothing to say may send none)."""
    length = request.headers.get("content-length")
    return length not in (None, "0") or "transfer-encoding" in request.headers


def _on_the_streets(near: str, rows: list[dict[str, Any]]) -> None:
    """Refuse (422) a place farther than ``OFF_STREET_M`` from every walkable street."""
    gap = rows[0].get("off_network_m") if rows else None
    if gap is not None and gap > OFF_STREET_M:
        raise Refused(
            422,
            f"{near!r} is {gap / 1000:.1f} km from the nearest walkable street "
            "of this plan: not a place in the city; check the numbers (lat first)",
        )


def _audit_filter(request: Request) -> tuple[str | None, str | None, int | None]:
    """``kind``, ``user`` and ``before`` (an id: older lines) of an audit log request."""
    query = request.query_params
    _only(query, "kind", "user", "before")
    before = _whole(query, "before", 0, 1, 2**62) or None
    return query.get("kind") or None, query.get("user") or None, before


def _text(body: dict, key: str, limit: int, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Refused(422, f"`{key}` must be text" + (" and is required" if required else ""))
    if len(value) > limit:
        raise Refused(422, f"`{key}` is longer than {limit} characters")
    return value.strip()


def _aware(text: str, zone: ZoneInfo) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=zone)


def _night_of(when: dt.datetime) -> str:
    """The night a local time belongs to: a shift past midnight is still the evening's night."""
    return (when - dt.timedelta(hours=12)).date().isoformat()


_NIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _checkin(body: Any, served: Served, user: User, received: dt.datetime) -> dict[str, Any]:
    """A check-in as stored, or :class:`Refused` with the one reason it cannot be."""
    if not isinstance(body, dict):
        raise Refused(400, "send a JSON object (see docs: POST /api/checkins)")
    _known(body, "client_id", "team", "night", "stop_id", "status", "tapped_at", "reason", "lat",
           "lon", "scene_request_id")  # fmt: skip
    client_id = _text(body, "client_id", 100, required=True)
    team = _text(body, "team", 200, required=True)
    night = _text(body, "night", 10, required=True)
    status = body.get("status")
    if status not in STATUSES:
        raise Refused(422, f"`status` must be one of {', '.join(STATUSES)}")
    if team not in served.slugs():
        raise Refused(422, f"unknown team {team!r} in the plan being served")
    if team != user.team:
        raise Refused(403, "a team account posts check-ins for its own team only")
    if not _NIGHT.match(night or ""):
        raise Refused(422, "`night` must be YYYY-MM-DD")
    route = served.route(team, night)
    if route is None:
        raise Refused(422, f"team {team!r} has no shift on the night of {night} in this plan")
    tapped_text = _text(body, "tapped_at", 40, required=True) or ""
    try:
        tapped = dt.datetime.fromisoformat(tapped_text)
    except ValueError as exc:
        raise Refused(422, "`tapped_at` must be an ISO time with its offset") from exc
    if tapped.tzinfo is not None:
        tapped = _time(tapped_text, served.timezone, "tapped_at", 422)
    if tapped.tzinfo is None:
        raise Refused(422, "`tapped_at` needs its UTC offset, e.g. 2023-01-04T20:15:00-05:00")
    start = dt.datetime.fromisoformat(route["shift_start"])
    end = dt.datetime.fromisoformat(route["shift_end"])
    if not start - dt.timedelta(hours=12) <= tapped <= end + dt.timedelta(hours=12):
        raise Refused(422, f"`tapped_at` {tapped.isoformat()} is more than 12 h outside the "
                      f"shift of {night}")  # fmt: skip
    if tapped > received + dt.timedelta(minutes=15):
        raise Refused(422, "`tapped_at` is more than 15 minutes ahead of the server's clock; "
                      "check the phone's clock")  # fmt: skip
    stop_id = body.get("stop_id")
    stops = {s["stop_id"] for s in route["stops"][1:-1]}
    if status in AT_STOP:
        if not isinstance(stop_id, str) or stop_id not in stops:
            raise Refused(422, f"`stop_id` {stop_id!r} is not a stop of {team}'s route on {night}")
    elif stop_id is not None:
        raise Refused(422, f"`stop_id` goes with {', '.join(AT_STOP)} only")
    reason = _text(body, "reason", 500)
    if status == "skipped" and not reason:
        raise Refused(422, "a skipped stop needs a `reason`")
    lat, lon = body.get("lat"), body.get("lon")
    if (lat is None) != (lon is None):
        raise Refused(422, "give both `lat` and `lon`, or neither")
    if lat is not None:
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
            raise Refused(422, "`lat` and `lon` must be numbers")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Refused(422, "`lat` must be within ±90 and `lon` within ±180")
    scene = body.get("scene_request_id")
    if scene is not None and (status != "responding" or not isinstance(scene, str)):
        raise Refused(422, "`scene_request_id` goes with status responding, as text")
    return {
        "client_id": client_id,
        "team": team,
        "night": night,
        "stop_id": stop_id,
        "status": status,
        "tapped_at": tapped.isoformat(),
        "tapped_utc": utc(tapped),
        "received_at": utc(received),
        "reason": reason,
        "lat": float(lat) if lat is not None else None,
        "lon": float(lon) if lon is not None else None,
        "scene_request_id": scene,
        "late": int(received - tapped > dt.timedelta(minutes=LATE_AFTER_MIN)),
        "user": user.name,
    }


def _place(
    row: dict[str, Any], route: dict[str, Any], store: Store | None
) -> tuple[float, float] | None:
    """Where a check-in puts the team: the phone's position when it sent one; else the stop
    it is at or just left, its base at the start, the scene it is responding to."""
    if row["lat"] is not None:
        return row["lon"], row["lat"]
    if row["status"] in ("arrived", "left"):
        stop = next((s for s in route["stops"] if s["stop_id"] == row["stop_id"]), None)
        return (stop["lon"], stop["lat"]) if stop else None
    if row["status"] == "start":
        return tuple(route["base"])
    if row["status"] == "responding" and row["scene_request_id"] and store is not None:
        scene = store.scene_request(row["scene_request_id"])
        return (scene["lon"], scene["lat"]) if scene else None
    return None


def _said(row: dict[str, Any], route: dict[str, Any]) -> str:
    """A check-in in words for dispatch: "checked in: at stop 3"."""
    ids = [s["stop_id"] for s in route["stops"][1:-1]]
    number = ids.index(row["stop_id"]) + 1 if row["stop_id"] in ids else None
    words = {
        "start": "started the shift",
        "arrived": f"at stop {number}",
        "left": f"left stop {number}",
        "skipped": f"skipped stop {number}",
        "responding": "responding to a scene",
        "end": "ended the shift",
    }[row["status"]]
    return f"checked in: {words}"


def _team_board(
    served: Served,
    team: str,
    slug: str,
    route: dict[str, Any] | None,
    checkins: list[dict[str, Any]],
    when: dt.datetime,
) -> dict[str, Any]:
    """One team's night for the board: each stop's state, started or not, last place."""
    out: dict[str, Any] = {"team": team, "slug": slug, "on_tonight": route is not None}
    if route is None:
        return out
    by_stop: dict[str, dict] = {}
    for row in checkins:
        if row["stop_id"]:
            by_stop[row["stop_id"]] = row
    stops = []
    for number, stop in enumerate(route["stops"][1:-1], start=1):
        row = by_stop.get(stop["stop_id"])
        planned = dt.datetime.fromisoformat(stop["arrive"])
        if row is None:
            state = "late" if when > planned + dt.timedelta(minutes=30) else "planned"
        else:
            state = {"arrived": "at stop", "left": "done", "skipped": "skipped"}[row["status"]]
        stops.append(
            {
                "number": number,
                "stop_id": stop["stop_id"],
                "label": stop["label"],
                "corner": stop.get("corner"),
                "arrive": stop["arrive"],
                "state": state,
                "reason": row["reason"] if row else None,
                "checked_in_at": row["tapped_at"] if row else None,
                "late_sent": bool(row["late"]) if row else False,
            }
        )
    last = None
    for row in reversed(checkins):
        place = _place(row, route, None) if row["status"] != "responding" else None
        if place is not None:
            tapped = dt.datetime.fromisoformat(row["tapped_at"])
            last = {
                "lon": place[0],
                "lat": place[1],
                "status": row["status"],
                "age_min": round((when - tapped).total_seconds() / 60, 1),
            }
            break
    statuses = [r["status"] for r in checkins]
    out.update(
        shift_start=route["shift_start"],
        shift_end=route["shift_end"],
        started=bool(statuses),
        ended="end" in statuses,
        responding=next(
            (r["scene_request_id"] for r in reversed(checkins) if r["status"] == "responding"),
            None,
        ),
        stops=stops,
        last_position=last,
        contact=route["contact"],
    )
    return out


def _believed_place(
    served: Served, team: str, fresh: dict[str, Any] | None, when: dt.datetime
) -> dict[str, Any] | None:
    """Where the board draws a team on shift: its check-in of the last
    ``CHECK_IN_FRESH_MIN`` minutes, else where the plan puts it now; None off shift."""
    if fresh is not None:
        return {"lat": fresh["lat"], "lon": fresh["lon"], "source": "check-in",
                "age_min": round(fresh["age_min"], 1), "status": fresh["status"]}  # fmt: skip
    planned = served.planned_place(team, when)
    if planned is None:
        return None
    return {"lat": planned[1], "lon": planned[0], "source": "plan", "age_min": None,
            "status": "by the plan"}  # fmt: skip


def _allowed_files(served: Served, user: User) -> set[str]:
    """The run's files a user may read."""
    team_files = {
        slug: {f"teams/{slug}{s}" for s in (".html", "-sheet.html", ".gpx", ".ics")}
        for slug in served.slugs().values()
    }
    if user.role == "team":
        return team_files.get(served.slugs().get(user.team or "", ""), set())
    if user.role == "dispatch":
        return {"contacts.html"}
    everything = {"index.html", "changes.html", "contacts.html", "plan.json", "changes.json"}
    return everything.union(*team_files.values())
