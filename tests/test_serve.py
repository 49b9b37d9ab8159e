"""The service (#17), run as a real process: uvicorn on 127.0.0.1, real HTTP, real tokens.

The bundled Philadelphia week is served from a runs folder; the server's clock is set to
Wednesday 2023-01-04 20:00 (``OUTREACH_ROUTES_NOW``), when every team is on shift.
"""

from __future__ import annotations

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
NIGHT = "2023-01-04"
TEAM = "Team 22 North Central"
OTHER = "Team 39 Nicetown"


class Server:
    """``outreach-routes serve`` in a subprocess, restartable."""

    def __init__(self, runs: Path) -> None:
        self.runs = runs
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "OUTREACH_ROUTES_NOW": NOW}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "outreach_routes", "serve", "--runs-dir", str(self.runs),
             "--port", str(self.port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
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


def add_user(runs: Path, name: str, role: str, team: str | None = None) -> str:
    extra = ["--team", team] if team else []
    result = run_cli("users", "add", name, "--role", role, *extra, "--runs-dir", str(runs))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def service(plan_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    runs = tmp_path_factory.mktemp("service") / "runs"
    shutil.copytree(plan_dir, runs / "2023-W01")
    (runs / "latest").symlink_to("2023-W01")
    (runs / "logs").mkdir()
    (runs / "logs" / "2023-W01.log").write_text("a run log\n")
    tokens = {
        "coordinator": add_user(runs, "coord", "coordinator"),
        "dispatch": add_user(runs, "disp", "dispatch"),
        "team": add_user(runs, "t22", "team", TEAM),
        "other": add_user(runs, "t39", "team", OTHER),
    }
    server = Server(runs)
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
    status, _, page = server.call("/login")
    assert status == 200 and "/api/login" in page


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
    try:
        _, _, page = server.call("/", token=tokens["coordinator"])
        assert "Philadelphia, next week" in page
        assert before["week_of"] == "2023-01-02"
    finally:
        (server.runs / ".latest").symlink_to("2023-W01")
        os.replace(server.runs / ".latest", server.runs / "latest")
    _, _, page = server.call("/", token=tokens["coordinator"])
    assert "Philadelphia, next week" not in page


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
            except (urllib.error.URLError, ConnectionError, OSError):
                unsent.append(cid)
        return unsent

    def poll(_n: int) -> int:
        answered = 0
        while not killed["done"]:
            try:
                if server.call("/api/where?near=39.99,-75.15", token=tokens["dispatch"])[0] == 200:
                    answered += 1
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
        return answered

    with ThreadPoolExecutor(25) as pool:
        polls = [pool.submit(poll, n) for n in range(5)]
        posts = [pool.submit(post, n) for n in range(20)]
        deadline = time.monotonic() + 120
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # part way: some check-ins acknowledged, others in flight or not sent
        unsent = [cid for f in posts for cid in f.result()]
        killed["done"] = True
        assert sum(f.result() for f in polls) > 0
    server.start()
    before_kill = set(acknowledged)
    for cid in unsent:  # the queue sends again what got no answer
        client, k = map(int, cid.split("-")[1:])
        body = _checkin(cid, "left", stop_id=stops[k % len(stops)]["stop_id"])
        assert server.call("/api/checkins", token=tokens["team"], body=body)[0] in (200, 201)
    _, _, stored = server.call("/api/checkins?team=" + TEAM.replace(" ", "+"),
                               token=tokens["coordinator"])  # fmt: skip
    ids = [r["client_id"] for r in stored if r["client_id"].startswith("load-")]
    assert 300 <= len(before_kill) < 1000 and unsent
    assert len(ids) == len(set(ids)) == 1000
    assert before_kill <= set(ids)
