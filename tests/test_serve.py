"""The service (#17), run as a real process: uvicorn on 127.0.0.1, real HTTP, real tokens.

The bundled Philadelphia week is served from a runs folder; the server's clock is set to
Wednesday 2023-01-04 20:00 (``OUTREACH_ROUTES_NOW``), when every team is on shift.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import run_cli

NOW = "2023-01-04T20:00:00-05:00"
# What a client sees when the server dies under it: refused, reset, or cut mid-answer.
CUT_OFF = (urllib.error.URLError, OSError, http.client.HTTPException)
NIGHT = "2023-01-04"
TEAM = "Team 22 North Central"
OTHER = "Team 39 Nicetown"
UNLIMITED = """[service]
checkins_per_minute = 100000
checkins_burst = 100000
checkins_per_day = 100000
"""


class Server:
    """``outreach-routes serve`` in a subprocess, restartable."""

    def __init__(self, runs: Path, *args: str, now: str = NOW) -> None:
        self.runs = runs
        self.args = args
        self.now = now
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "OUTREACH_ROUTES_NOW": self.now}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "outreach_routes", "serve", "--runs-dir", str(self.runs),
             "--port", str(self.port), *self.args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.wait_for_port()

    def wait_for_port(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.process.poll() is None, self.process.stdout.read().decode()
                time.sleep(0.1)
        raise AssertionError("the service did not start within 30 s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def call(self, path: str, *, token: str | None = None, body=None, cookie: str | None = None,
             raw: bytes | None = None, method: str | None = None):  # fmt: skip
        """(status, headers, parsed JSON or text)."""
        headers = {}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = cookie
        request = urllib.request.Request(self.base + path, data=data, headers=headers,
                                         method=method)  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, head, content = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, head, content = error.code, error.headers, error.read()
        try:
            return status, head, json.loads(content)
        except ValueError:
            return status, head, content.decode("utf-8", "replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_runs(plan_dir: Path, root: Path) -> Path:
    """``root/runs``: a runs folder holding the bundled week's plan as its latest run."""
    runs = root / "runs"
    shutil.copytree(plan_dir, runs / "2023-W01")
    (runs / "latest").symlink_to("2023-W01")
    return runs


def add_user(runs: Path, name: str, role: str, team: str | None = None) -> str:
    extra = ["--team", team] if team else []
    result = run_cli("users", "add", name, "--role", role, *extra, "--runs-dir", str(runs))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def service(plan_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    runs = served_runs(plan_dir, tmp_path_factory.mktemp("service"))
    (runs / "logs").mkdir()
    (runs / "logs" / "2023-W01.log").write_text("a run log\n")
    tokens = {
        "coordinator": add_user(runs, "coord", "coordinator"),
        "dispatch": add_user(runs, "disp", "dispatch"),
        "team": add_user(runs, "t22", "team", TEAM),
        "other": add_user(runs, "t39", "team", OTHER),
    }
    # the load test's 1,000 check-ins from one account: above the per-account limits
    config = runs.parent / "service.toml"
    config.write_text(UNLIMITED, "utf-8")
    server = Server(runs, "--config", str(config))
    server.start()
    yield server, tokens
    server.stop()


def _route(server: Server, team: str, night: str = NIGHT) -> dict:
    plan = json.loads((server.runs / "latest" / "plan.json").read_text("utf-8"))
    return next(r for r in plan["teams"] if r["team"] == team and r["night"] == night)


def _checkin(client_id: str, status: str = "start", team: str = TEAM, **extra) -> dict:
    return {"client_id": client_id, "team": team, "night": NIGHT, "status": status,
            "tapped_at": "2023-01-04T19:55:00-05:00", **extra}  # fmt: skip


def test_nothing_answers_without_a_token(service):
    server, _ = service
    paths = ["/", "/api/board", "/api/where?near=39.99,-75.15", "/where", "/audit", "/api/audit",
             "/api/checkins", "/api/scene-requests", "/run/index.html", "/run/plan.json",
             "/plan.json", "/service.sqlite3", "/logs/", "/team/team-22-north-central",
             "/run/teams/team-22-north-central.html", "/no/such/page"]  # fmt: skip
    for path in paths:
        status, head, _ = server.call(path)
        assert status == 401, path
        assert head["referrer-policy"] == "no-referrer"
    assert server.call("/api/checkins", body=_checkin("anon"))[0] == 401
    assert server.call("/api/where?near=1,1", token="not-a-token")[0] == 401
    status, head, page = server.call("/login")
    assert status == 200 and '<script src="/static/login.js">' in page
    assert head["content-security-policy"].startswith("default-src 'self'")
    status, _, script = server.call("/static/login.js")  # the pages' own files: no secret
    assert status == 200 and "/api/login" in script


def test_a_login_link_gives_a_locked_session_once(service):
    server, _ = service
    link = run_cli("users", "link", "t22", "--base-url", server.base, "--runs-dir",
                   str(server.runs))  # fmt: skip
    assert link.returncode == 0, link.stderr
    url = link.stdout.strip()
    assert url.startswith(f"{server.base}/login#code=") and "?" not in url
    code = url.split("#code=")[1]
    status, head, answer = server.call("/api/login", body={"code": code})
    assert status == 200 and answer["next"] == "/team/team-22-north-central"
    cookie = head["set-cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=strict"):
        assert flag.lower() in cookie.lower(), cookie
    session = cookie.split(";")[0]
    assert server.call("/api/login", body={"code": code})[0] == 401  # used once only
    assert server.call("/run/teams/team-22-north-central.html", cookie=session)[0] == 200
    for path in ("/service.sqlite3", "/plan.json", "/logs/", "/run/plan.json", "/run/index.html",
                 "/run/../service.sqlite3", "/run/teams/team-39-nicetown.html", "/api/board",
                 "/api/audit"):  # fmt: skip
        assert server.call(path, cookie=session)[0] in (403, 404), path


def test_a_team_token_stays_inside_its_team(service):
    server, tokens = service
    team = tokens["team"]
    assert server.call("/run/teams/team-22-north-central-sheet.html", token=team)[0] == 200
    assert server.call("/run/teams/team-39-nicetown.html", token=team)[0] == 404
    assert server.call("/run/teams/team-39-nicetown.gpx", token=team)[0] == 404
    status, _, answer = server.call("/api/checkins", token=team, body=_checkin("x1", team=OTHER))
    assert status == 403 and "own team" in answer["error"]
    assert server.call(f"/api/checkins?team={OTHER.replace(' ', '+')}", token=team)[0] == 403
    assert server.call("/api/where?near=39.99,-75.15", token=team)[0] == 403


def test_dispatch_finds_teams_but_not_the_board_or_the_audit_log(service):
    server, tokens = service
    status, _, rows = server.call("/api/where?near=39.99,-75.15", token=tokens["dispatch"])
    assert status == 200 and rows[0]["on_shift"] and rows[0]["source"] == "plan"
    assert server.call("/run/contacts.html", token=tokens["dispatch"])[0] == 200
    for path in ("/api/board", "/api/audit", "/audit", "/run/index.html", "/run/plan.json"):
        assert server.call(path, token=tokens["dispatch"])[0] in (403, 404), path
    _, _, log = server.call("/api/audit", token=tokens["coordinator"])
    assert any(r["user"] == "disp" and r["action"] == "where" and "39.99,-75.15" in r["detail"]
               for r in log)  # fmt: skip


def test_a_revoked_token_stops_at_once(service):
    server, _ = service
    token = add_user(server.runs, "short-lived", "dispatch")
    assert server.call("/api/where?near=39.99,-75.15", token=token)[0] == 200
    result = run_cli("users", "revoke", "short-lived", "--runs-dir", str(server.runs))
    assert result.returncode == 0, result.stderr
    assert server.call("/api/where?near=39.99,-75.15", token=token)[0] == 401


def test_each_bad_check_in_is_refused_and_nothing_is_stored(service):
    server, tokens = service
    stops = [s["stop_id"] for s in _route(server, TEAM)["stops"][1:-1]]
    bad = {
        "not JSON": b"{not json",
        "a list": json.dumps([1, 2]).encode(),
        "unknown team": _checkin("bad-1", team="Team 99 Nowhere"),
        "another team": _checkin("bad-2", team=OTHER),
        "stop not on the route": _checkin("bad-3", "arrived", stop_id="team-22-north-central-0"),
        "stop of another night": _checkin(
            "bad-4", "arrived", stop_id=_route(server, TEAM, "2023-01-02")["stops"][1]["stop_id"]
        )
        if _route(server, TEAM, "2023-01-02")["stops"][1]["stop_id"] not in stops
        else _checkin("bad-4", "arrived", stop_id="nowhere"),
        "far outside the shift": _checkin("bad-5", tapped_at="2023-01-06T20:00:00-05:00"),
        "ahead of the clock": _checkin("bad-6", tapped_at="2023-01-04T20:30:00-05:00"),
        "no offset": _checkin("bad-7", tapped_at="2023-01-04T19:00:00"),
        "skipped without reason": _checkin("bad-8", "skipped", stop_id=stops[0]),
        "unknown status": _checkin("bad-9", "napping"),
        "unknown field": _checkin("bad-10", mood="fine"),
        "half a position": _checkin("bad-11", lat=39.99),
        "oversized": _checkin("bad-12", reason="x" * 20_000),
    }
    for what, body in bad.items():
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, _, answer = server.call("/api/checkins", token=tokens["team"], raw=raw,
                                        method="POST")  # fmt: skip
        assert 400 <= status < 500, what
        assert isinstance(answer, dict) and "\n" not in answer["error"], what
    _, _, stored = server.call("/api/checkins?team=" + TEAM.replace(" ", "+"),
                               token=tokens["coordinator"])  # fmt: skip
    assert not [r for r in stored if r["client_id"].startswith("bad-")]


def test_a_check_in_moves_the_team_in_where_and_on_the_board(service):
    server, tokens = service
    stop = _route(server, TEAM)["stops"][3]
    body = _checkin("tap-1", "arrived", stop_id=stop["stop_id"])
    assert server.call("/api/checkins", token=tokens["team"], body=body)[0] == 201
    status, _, again = server.call("/api/checkins", token=tokens["team"], body=body)
    assert status == 200 and again["stored"] is False  # a repeat is ignored
    _, _, rows = server.call(f"/api/where?near={stop['lat']},{stop['lon']}",
                             token=tokens["dispatch"])  # fmt: skip
    assert rows[0]["team"] == TEAM and rows[0]["source"] == "check-in"
    assert rows[0]["status"] == "checked in: at stop 3" and rows[0]["walk_min"] < 1
    _, _, board = server.call("/api/board", token=tokens["coordinator"])
    mine = next(t for t in board["teams"] if t["team"] == TEAM)
    assert mine["stops"][2]["state"] == "at stop" and mine["last_position"]["status"] == "arrived"


def test_a_new_week_is_served_without_a_restart(service):
    server, tokens = service
    _, _, before = server.call("/api/board", token=tokens["coordinator"])
    week2 = server.runs / "2023-W02"
    shutil.copytree(server.runs / "2023-W01", week2)
    plan = json.loads((week2 / "plan.json").read_text("utf-8"))
    plan["city"] = "Philadelphia, next week"
    (week2 / "plan.json").write_text(json.dumps(plan), "utf-8")
    (server.runs / ".latest").symlink_to("2023-W02")
    os.replace(server.runs / ".latest", server.runs / "latest")
    try:  # the folder is looked at once a second (Runs.CHECK_S)
        assert _within(3, lambda: "Philadelphia, next week" in _home(server, tokens))
        assert before["week_of"] == "2023-01-02"
    finally:
        (server.runs / ".latest").symlink_to("2023-W01")
        os.replace(server.runs / ".latest", server.runs / "latest")
    assert _within(3, lambda: "Philadelphia, next week" not in _home(server, tokens))


def _home(server, tokens) -> str:
    return server.call("/", token=tokens["coordinator"])[2]


def _within(seconds: float, check) -> bool:
    """True once ``check()`` is, polling for up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_load_and_a_kill_lose_nothing_acknowledged(service):
    """20 clients post 50 check-ins each while 5 poll `where`; the server is killed with
    SIGKILL part way and restarted; clients resend what was not acknowledged, as the team
    page's queue does. Every check-in is stored exactly once."""
    server, tokens = service
    stops = _route(server, TEAM)["stops"][1:-1]
    acknowledged: set[str] = set()
    killed = {"done": False}

    def post(client: int) -> list[str]:
        unsent = []
        for k in range(50):
            cid = f"load-{client}-{k}"
            body = _checkin(cid, "left", stop_id=stops[k % len(stops)]["stop_id"])
            try:
                status, _, _ = server.call("/api/checkins", token=tokens["team"], body=body)
                assert status in (200, 201)
                acknowledged.add(cid)
            except CUT_OFF:
                unsent.append(cid)
        return unsent

    def poll(_n: int) -> int:
        answered = 0
        while not killed["done"]:
            try:
                if server.call("/api/where?near=39.99,-75.15", token=tokens["dispatch"])[0] == 200:
                    answered += 1
            except CUT_OFF:
                pass
        return answered

    with ThreadPoolExecutor(25) as pool:
        polls = [pool.submit(poll, n) for n in range(5)]
        try:
            posts = [pool.submit(post, n) for n in range(20)]
            deadline = time.monotonic() + 120
            while len(acknowledged) < 300 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.kill()  # part way: some check-ins acknowledged, others in flight or not sent
            unsent = [cid for f in posts for cid in f.result()]
        finally:
            killed["done"] = True  # the pollers stop, whatever happened
        assert sum(f.result() for f in polls) > 0
    server.start()
    before_kill = set(acknowledged)
    for cid in unsent:  # the queue sends again what got no answer
        client, k = map(int, cid.split("-")[1:])
        body = _checkin(cid, "left", stop_id=stops[k % len(stops)]["stop_id"])
        assert server.call("/api/checkins", token=tokens["team"], body=body)[0] in (200, 201)
    _, _, stored = server.call("/api/checkins?team=" + TEAM.replace(" ", "+") + "&limit=5000",
                               token=tokens["coordinator"])  # fmt: skip
    ids = [r["client_id"] for r in stored if r["client_id"].startswith("load-")]
    assert 300 <= len(before_kill) < 1000 and unsent
    assert len(ids) == len(set(ids)) == 1000
    assert before_kill <= set(ids)


# --- in a real browser ------------------------------------------------------------------------


def _launch(playwright):
    from browser_support import CHROMIUM, CHROMIUM_ARGS

    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _phone(browser, server: Server):
    """A phone-sized browser context: the map's CDN files answered from npm copies, tiles
    blank, nothing else leaves the machine."""
    from browser_support import _TILE, BLANK_PNG, NODE_MODULES

    from outreach_routes._assets import npm_file

    context = browser.new_context(
        viewport={"width": 390, "height": 844}, timezone_id="America/New_York"
    )
    # The phone's clock: two minutes before the server's (OUTREACH_ROUTES_NOW).
    context.clock.set_fixed_time(dt.datetime.fromisoformat(NOW) - dt.timedelta(minutes=2))

    def handle(route) -> None:
        url = route.request.url
        if url.startswith(server.base):
            route.continue_()
            return
        local = npm_file(url, NODE_MODULES)
        if local is not None:
            route.fulfill(status=200, body=local.read_bytes())
        elif _TILE.search(url):
            route.fulfill(status=200, body=BLANK_PNG, content_type="image/png")
        else:
            route.fulfill(status=200, body=b"")

    context.route("**/*", handle)
    return context


def _log_in(context, server: Server, user: str):
    link = run_cli("users", "link", user, "--base-url", server.base, "--runs-dir",
                   str(server.runs))  # fmt: skip
    assert link.returncode == 0, link.stderr
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # a script or style the page's Content-Security-Policy blocked
    page.on("console", lambda m: errors.append(m.text) if "Content Security" in m.text else None)
    page.goto(link.stdout.strip())
    page.wait_for_load_state("load")
    return page, errors


def test_a_tap_on_the_phone_reaches_the_board_and_dispatch(service):
    from playwright.sync_api import sync_playwright

    server, tokens = service
    stop = _route(server, TEAM)["stops"][3]  # stop 3 of the night
    with sync_playwright() as p:
        browser = _launch(p)
        board, board_errors = _log_in(_phone(browser, server), server, "coord")
        board.wait_for_selector(f"section[data-team='{TEAM}']")
        phone, phone_errors = _log_in(_phone(browser, server), server, "t22")
        phone.wait_for_url("**/run/teams/team-22-north-central.html")
        phone.select_option("#ci-stop", stop["stop_id"])
        phone.click("#ci-at")
        started = time.monotonic()
        row = f"section[data-team='{TEAM}'] tr[data-stop-id='{stop['stop_id']}'] td:last-child"
        board.wait_for_function(
            "sel => document.querySelector(sel)?.textContent.startsWith('at stop')",
            arg=row,
            timeout=2000,
        )
        assert time.monotonic() - started < 2
        assert not board_errors and not phone_errors
        browser.close()
    _, _, rows = server.call(f"/api/where?near={stop['lat']},{stop['lon']}",
                             token=tokens["dispatch"])  # fmt: skip
    assert rows[0]["team"] == TEAM and rows[0]["source"] == "check-in"


def test_check_ins_made_offline_are_sent_once_when_back_online(service):
    from playwright.sync_api import sync_playwright

    server, tokens = service
    stops = _route(server, OTHER)["stops"][1:-1]

    def mine() -> list[dict]:
        _, _, rows = server.call("/api/checkins?team=" + OTHER.replace(" ", "+") + "&limit=5000",
                                 token=tokens["coordinator"])  # fmt: skip
        return rows

    before = {r["client_id"] for r in mine()}
    with sync_playwright() as p:
        browser = _launch(p)
        context = _phone(browser, server)
        phone, errors = _log_in(context, server, "t39")
        phone.wait_for_url("**/run/teams/team-39-nicetown.html")
        context.set_offline(True)
        phone.select_option("#ci-stop", stops[0]["stop_id"])
        phone.click("#ci-at")
        phone.click("button[data-status='left']")
        phone.wait_for_function("() => document.getElementById('ci-queue').textContent"
                                ".startsWith('2 waiting')")  # fmt: skip
        assert {r["client_id"] for r in mine()} == before  # nothing reached the server
        queued = phone.evaluate("() => Object.keys(localStorage)")
        assert any("queue" in key for key in queued)  # kept in the browser's storage
        context.set_offline(False)
        phone.wait_for_function("() => document.getElementById('ci-queue').textContent === ''",
                                timeout=15000)  # fmt: skip
        phone.wait_for_timeout(6000)  # a later retry tick must not send them again
        assert not errors
        browser.close()
    new = [r for r in mine() if r["client_id"] not in before]
    assert sorted(r["status"] for r in new) == ["arrived", "left"]
    assert len({r["client_id"] for r in new}) == 2


def test_the_phone_keeps_a_tap_the_server_did_not_take(service):
    """A 502 (the proxy while the service restarts), a 500, a 401 (the session ended) and a
    429 keep the tap in the queue, and it is sent once the server takes it; a 422 moves it to
    the panel's "refused" list with the server's reason (issue 34, point 3)."""
    from playwright.sync_api import sync_playwright

    server, tokens = service
    stops = _route(server, TEAM)["stops"][1:-1]
    _, _, rows = server.call("/api/checkins?team=" + TEAM.replace(" ", "+") + "&limit=5000",
                             token=tokens["coordinator"])  # fmt: skip
    before = {r["client_id"] for r in rows}
    answers = [
        {"status": 502, "body": "<html>Bad gateway</html>"},
        {"status": 500, "body": "Internal Server Error"},
        {"status": 401, "body": '{"error": "log in first"}'},
        {"status": 429, "body": '{"error": "slow down"}', "headers": {"Retry-After": "1"}},
    ]
    tried: list[int] = []

    def failing(route) -> None:
        if route.request.method != "POST" or not answers:
            route.continue_()
            return
        answer = answers.pop(0)
        tried.append(answer["status"])
        route.fulfill(**answer)

    queue_text = "() => document.getElementById('ci-queue').textContent"
    with sync_playwright() as p:
        browser = _launch(p)
        context = _phone(browser, server)
        phone, errors = _log_in(context, server, "t22")
        phone.wait_for_url("**/run/teams/team-22-north-central.html")
        phone.route("**/api/checkins", failing)
        phone.select_option("#ci-stop", stops[1]["stop_id"])
        phone.click("#ci-at")
        phone.wait_for_function(f"() => ({queue_text})().startsWith('1 waiting')")
        phone.wait_for_function("() => document.getElementById('ci-status').textContent"
                                ".includes('(502)')")  # fmt: skip
        phone.wait_for_function(f"() => ({queue_text})() === ''", timeout=30000)
        assert tried == [502, 500, 401, 429]
        # a refusal on its merits: off the queue, onto the visible "refused" list
        phone.route("**/api/checkins", lambda route: route.fulfill(
            status=422, body='{"error": "no such stop tonight"}'))  # fmt: skip
        phone.click("button[data-status='left']")
        phone.wait_for_function("() => document.getElementById('ci-refused').textContent"
                                ".includes('no such stop tonight')")  # fmt: skip
        assert phone.evaluate(queue_text) == ""
        assert not errors
        browser.close()
    _, _, rows = server.call("/api/checkins?team=" + TEAM.replace(" ", "+") + "&limit=5000",
                             token=tokens["coordinator"])  # fmt: skip
    new = [r for r in rows if r["client_id"] not in before]
    assert [r["status"] for r in new] == ["arrived"]


def test_backup_while_serving_holds_what_was_acknowledged(service, tmp_path):
    import sqlite3

    server, tokens = service
    body = _checkin("backup-1", "arrived", stop_id=_route(server, TEAM)["stops"][2]["stop_id"])
    assert server.call("/api/checkins", token=tokens["team"], body=body)[0] in (200, 201)
    copy = tmp_path / "copy.sqlite3"
    result = run_cli("backup-db", "--to", str(copy), "--runs-dir", str(server.runs))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {r[0] for r in db.execute("SELECT client_id FROM checkins")}
    db.close()
    assert "backup-1" in ids


def test_the_service_files_are_its_users_alone(plan_dir: Path, tmp_path: Path):
    """The database, its WAL and shared memory, a backup and a report are 0600, the folders the
    commands make 0700, whatever the umask they were started with; a database made 0644 by an
    older version is put right (issue 34, point 9)."""
    import stat

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    runs = served_runs(plan_dir, tmp_path)
    old = os.umask(0o022)
    try:
        token = add_user(runs, "t22", "team", TEAM)
        db = runs / "service.sqlite3"
        assert mode(db) == 0o600
        server = Server(runs)
        server.start()
        try:
            assert server.call("/api/checkins", token=token, body=_checkin("mode-1"))[0] == 201
            for suffix in ("-wal", "-shm"):
                assert mode(db.with_name(db.name + suffix)) == 0o600, suffix
            copy = tmp_path / "backups" / "copy.sqlite3"
            copy.parent.mkdir()
            result = run_cli("backup-db", "--runs-dir", str(runs), "--to", str(copy))
            assert result.returncode == 0, result.stderr
            assert mode(copy) == 0o600
        finally:
            server.stop()
        result = run_cli("report", "--runs-dir", str(runs), "--week", "2023-W01")
        assert result.returncode == 0, result.stderr
        assert mode(runs / "reports") == 0o700 and mode(runs / "reports" / "2023-W01") == 0o700
        assert all(mode(f) == 0o600 for f in (runs / "reports" / "2023-W01").iterdir())
        db.chmod(0o644)  # as an older version left it
        add_user(runs, "coord", "coordinator")
        assert mode(db) == 0o600
    finally:
        os.umask(old)


def test_user_names_and_teams_are_checked(plan_dir: Path, tmp_path: Path):
    """`users add` refuses a name that is empty, too long, not printable (a line break could
    fake a line of `users list`, an escape code the terminal), or like another account's after
    case and look-alike folding; an unknown --team; a revoked name comes back with --reuse
    only (issue 34, point 12)."""
    runs = served_runs(plan_dir, tmp_path)
    add_user(runs, "Ana", "coordinator")

    def add(name: str, *extra: str) -> subprocess.CompletedProcess:
        return run_cli("users", "add", name, "--runs-dir", str(runs), *extra)

    cases = {
        "": "give 1 to 64",
        "x" * 100_000: "give 1 to 64",
        "eve\nmallory: coordinator, active": "printable characters only",
        "\x1b[2Jeve": "printable characters only",
        " ana": "printable characters only",
        "ana": "looks like the account 'Ana'",
        "\u0410na": "looks like the account 'Ana'",  # a Cyrillic A
        "Ana": "exists already",
    }
    for name, reason in cases.items():
        result = add(name, "--role", "dispatch")
        assert result.returncode == 2 and reason in result.stderr, (name[:20], result.stderr)
    result = add("phone-x", "--role", "team", "--team", "No Such Team")
    assert result.returncode == 2 and "not a team of the latest plan" in result.stderr
    assert TEAM in result.stderr
    assert add("phone-22", "--role", "team", "--team", TEAM).returncode == 0
    assert run_cli("users", "revoke", "phone-22", "--runs-dir", str(runs)).returncode == 0
    result = add("phone-22", "--role", "team", "--team", TEAM)
    assert result.returncode == 2 and "add it again with --reuse" in result.stderr
    result = add("phone-22", "--role", "team", "--team", TEAM, "--reuse")
    assert result.returncode == 0, result.stderr
    listed = run_cli("users", "list", "--runs-dir", str(runs)).stdout
    assert "phone-22: team (Team 22 North Central), active" in listed
    assert add("D\u0065\u0301sir\u00e9e", "--role", "dispatch").returncode == 0  # kept in NFC
    assert "D\u00e9sir\u00e9e: dispatch" in run_cli("users", "list", "--runs-dir", str(runs)).stdout


def test_retention_and_schema_versions(tmp_path):
    import sqlite3

    from outreach_routes import InputDataError
    from outreach_routes.service.store import Store

    store = Store(tmp_path / "s.sqlite3")
    old, recent = dt.datetime(2023, 1, 1, tzinfo=dt.UTC), dt.datetime(2023, 2, 20, tzinfo=dt.UTC)
    for cid, when in (("old", old), ("recent", recent)):
        store.add_checkin({"client_id": cid, "team": TEAM, "night": "2023-01-01", "stop_id": None,
                           "status": "start", "tapped_at": when.isoformat(),
                           "tapped_utc": when.isoformat(), "received_at": when.isoformat(),
                           "reason": None, "lat": 39.99, "lon": -75.15, "scene_request_id": None,
                           "late": 0, "user": "t"})  # fmt: skip
    store.audit("t", "where", "near somewhere", old)
    store.forget(dt.datetime(2023, 3, 1, tzinfo=dt.UTC), keep_positions_days=30)
    rows = {r["client_id"]: r for r in store.checkins()}
    assert rows["old"]["lat"] is None and rows["recent"]["lat"] == 39.99  # positions: 30 days
    assert len(store.audit_log()) == 1  # the rest: 26 weeks
    store.forget(dt.datetime(2023, 8, 1, tzinfo=dt.UTC), keep_positions_days=30)
    assert [r["client_id"] for r in store.checkins()] == ["recent"] and not store.audit_log()
    window = (recent - dt.timedelta(minutes=1), recent)
    assert [r["client_id"] for r in store.latest_checkins([TEAM, "Nobody"], *window)] == ["recent"]
    # a version 1 database (before the index of latest_checkins, with client_id unique across
    # all accounts) is brought up to date, its check-ins kept
    from outreach_routes.service import store as store_module

    old_db = tmp_path / "v1.sqlite3"
    with sqlite3.connect(old_db) as db:
        db.executescript(store_module._SCHEMA)
        db.execute(
            "INSERT INTO checkins VALUES ('a1', ?, '2023-01-01', NULL, 'start', ?, ?, ?, "
            "NULL, NULL, NULL, NULL, 0, 't')",
            (TEAM, *[recent.isoformat()] * 3),
        )
        db.execute("PRAGMA user_version = 1")
    db.close()
    migrated = Store(old_db)
    assert [r["client_id"] for r in migrated.checkins()] == ["a1"]
    row = {"client_id": "a1", "team": OTHER, "night": "2023-01-01", "stop_id": None,
           "status": "start", "tapped_at": recent.isoformat(), "tapped_utc": recent.isoformat(),
           "received_at": recent.isoformat(), "reason": None, "lat": None, "lon": None,
           "scene_request_id": None, "late": 0, "user": "other account"}  # fmt: skip
    assert migrated.add_checkin(row) == ("stored", [])  # the same id, another account
    with sqlite3.connect(old_db) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        for query, index in (
            ("SELECT * FROM checkins WHERE team = 'x' AND tapped_utc > ''", "checkins_by_team_tap"),
            ("SELECT * FROM checkins WHERE night = 'x'", "checkins_by_night"),
        ):
            plan = " ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN " + query))
            assert index in plan
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(InputDataError, match="schema version 99 is newer"):
        Store(old_db)


def test_retention_follows_the_config_service_table(service, tmp_path):
    """`serve --config` reads [service]: a position 40 days old stays under
    keep_positions_days = 60 and goes under 35, at the service's start. A period the config
    cannot mean is refused before the service starts, naming the key."""
    from outreach_routes.service.store import Store

    runs = tmp_path / "runs"
    shutil.copytree(service[0].runs / "2023-W01", runs / "2023-W01", symlinks=True)
    old = (dt.datetime.fromisoformat(NOW) - dt.timedelta(days=40)).isoformat()
    Store(runs / "service.sqlite3").add_checkin(
        {"client_id": "old-one", "team": TEAM, "night": "2022-11-25", "stop_id": None,
         "status": "start", "tapped_at": old, "tapped_utc": old, "received_at": old,
         "reason": None, "lat": 39.99, "lon": -75.15, "scene_request_id": None, "late": 0,
         "user": "t"})  # fmt: skip
    for days, kept in ((60, True), (35, False)):
        config = tmp_path / f"keep{days}.toml"
        config.write_text(f"[service]\nkeep_positions_days = {days}\n", "utf-8")
        server = Server(runs, "--config", str(config))
        server.start()  # the first retention pass runs before the port opens
        try:
            assert (_old_position(runs) is not None) == kept
        finally:
            server.stop()
    bad = tmp_path / "bad.toml"
    bad.write_text("[service]\nkeep_days = 30\n", "utf-8")
    result = run_cli("serve", "--runs-dir", str(runs), "--config", str(bad))
    assert result.returncode == 2
    assert "[service] `keep_days` = 30: give a whole number of days, at least 182" in result.stderr


def _old_position(runs: Path):
    import sqlite3

    with sqlite3.connect(runs / "service.sqlite3") as db:
        (lat,) = db.execute("SELECT lat FROM checkins WHERE client_id = 'old-one'").fetchone()
    db.close()
    return lat


def test_the_service_loads_none_of_the_planning_libraries(service):
    """The app and the plan it serves load without osmnx, folium, scikit-learn, dask or
    geopandas: a worker starts quickly, and the request path stays small."""
    server, _ = service
    code = (
        "import sys\n"
        "from outreach_routes.service.app import Runs, create_app\n"
        f"create_app({str(server.runs)!r}, {str(server.runs / 'probe.sqlite3')!r})\n"
        f"Runs(__import__('pathlib').Path({str(server.runs)!r})).current()\n"
        "print(sorted(m for m in ('osmnx', 'folium', 'sklearn', 'dask', 'geopandas')"
        " if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _login_from(server: Server, source: str, raw: bytes,
                content_type: str = "application/json") -> tuple[int, dict, dict]:  # fmt: skip
    """POST /api/login from the client address ``source`` (any of 127.0.0.0/8)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30,
                                            source_address=(source, 0))  # fmt: skip
    try:
        connection.request("POST", "/api/login", body=raw,
                           headers={"Content-Type": content_type})  # fmt: skip
        answer = connection.getresponse()
        return answer.status, dict(answer.headers), json.loads(answer.read() or b"{}")
    finally:
        connection.close()


def _code(runs: Path, user: str) -> str:
    link = run_cli("users", "link", user, "--base-url", "http://x", "--runs-dir", str(runs))
    assert link.returncode == 0, link.stderr
    return link.stdout.strip().split("#code=")[1]


def test_failed_logins_are_limited_per_address_account_and_code(plan_dir: Path, tmp_path: Path):
    """Ten bad codes lock their address, yet another account's valid link still works from
    it (carrier NAT); ten tries of one account's spent link lock that account, from any
    address; a malformed code counts as a failure; 200 bad codes at once get exactly ten
    tries (issue 34, points 5-7). Its own server: the limits would lock out other tests."""
    runs = served_runs(plan_dir, tmp_path)
    add_user(runs, "t22", "team", TEAM)
    add_user(runs, "t39", "team", OTHER)
    server = Server(runs)
    server.start()
    try:
        # a login CSRF form cannot post JSON: text/plain is refused, and not looked at
        status, _, _ = _login_from(server, "127.0.0.2", b'{"code": "x"}', "text/plain")
        assert status == 415
        # one address: a lone surrogate and nine bad codes, then 429; a good link still works
        status, _, answer = _login_from(server, "127.0.0.2", b'{"code": "\\ud800"}')
        assert status == 400 and "surrogate" in answer["error"]
        for k in range(9):
            status, _, answer = _login_from(server, "127.0.0.2", b'{"code": "wrong-%d"}' % k)
            assert status == 401 and "not valid" in answer["error"], (k, answer)
        status, head, answer = _login_from(server, "127.0.0.2", b'{"code": "wrong-10"}')
        assert status == 429 and "too many failed logins" in answer["error"]
        assert head["retry-after"] == "900"
        good = _code(runs, "t22").encode()
        status, _, answer = _login_from(server, "127.0.0.2", b'{"code": "%s"}' % good)
        assert status == 200 and answer["next"] == "/team/team-22-north-central"
        # one account: its spent code tried from ten addresses locks it, not the others
        for k in range(10):
            status, _, _ = _login_from(server, f"127.0.1.{k + 1}", b'{"code": "%s"}' % good)
            assert status in (401, 429)
        fresh = _code(runs, "t22").encode()
        status, _, answer = _login_from(server, "127.0.2.1", b'{"code": "%s"}' % fresh)
        assert status == 429, answer
        other = _code(runs, "t39").encode()
        assert _login_from(server, "127.0.2.1", b'{"code": "%s"}' % other)[0] == 200
        # counted in the database, one try at a time: 200 at once get exactly 10 tries
        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(
                lambda k: _login_from(server, "127.0.3.1", b'{"code": "bad-%d"}' % k)[0],
                range(200)))  # fmt: skip
        assert statuses.count(401) == 10 and statuses.count(429) == 190
        _, _, log = server.call("/api/audit?kind=failed+login",
                                token=add_user(runs, "coord", "coordinator"))  # fmt: skip
        assert len(log) >= 200 and all("from 127." in r["detail"] for r in log)
    finally:
        server.stop()


def test_before_the_first_plan_the_service_says_so(tmp_path: Path):
    runs = tmp_path / "runs"
    runs.mkdir()
    token = add_user(runs, "coord", "coordinator")
    server = Server(runs)
    server.start()
    try:
        status, _, answer = server.call("/api/board", token=token)
        assert (
            status == 503 and "no plan yet; run `outreach-routes plan --runs-dir" in answer["error"]
        )
        assert server.call("/api/board")[0] == 401
    finally:
        server.stop()


def test_a_team_responding_to_a_scene_is_placed_at_the_scene(service):
    server, tokens = service
    status, _, scene = server.call("/api/scene-requests", token=tokens["dispatch"],
                                   body={"near": "40.0052,-75.1545", "asked_by": "dispatch",
                                         "note": "crowd gathering"})  # fmt: skip
    assert status == 201
    # After every other check-in of this team in the module (the phone's clock reads 19:58).
    body = _checkin("scene-1", "responding", team=OTHER, scene_request_id=scene["id"],
                    tapped_at="2023-01-04T19:59:30-05:00")  # fmt: skip
    assert server.call("/api/checkins", token=tokens["other"], body=body)[0] == 201
    _, _, rows = server.call("/api/where?near=40.0052,-75.1545", token=tokens["dispatch"])
    mine = next(r for r in rows if r["team"] == OTHER)
    assert mine["source"] == "check-in" and mine["status"] == "checked in: responding to a scene"
    assert mine["walk_min"] < 1
