"""Dispatch's calls (issue 35), against real servers on 127.0.0.1: offered to the nearest free
team, accepted or passed on, timed to arrival; live over Server-Sent Events.

Two servers serve the bundled Philadelphia week at Wednesday 20:00, when its six teams are on
shift: a *patient* one whose clock stands still (no offer ever times out: each rule is tested by
answers alone), and a *quick* one whose clock runs from 20:00 (``OUTREACH_ROUTES_NOW_AT``) and
whose offers wait 3 s (``scene_answer_min = 0.05``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import math
import os
import queue
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from test_serve import NIGHT, NOW, OTHER, TEAM, Server, _route, add_user, served_runs

from outreach_routes.service import store as store_module

TEAMS = {  # name of each team's account -> its team (the bundled week's six)
    "t12": "Team 12 Southwest",
    "t22": "Team 22 North Central",
    "t24": "Team 24 Kensington",
    "t25": "Team 25 Fairhill",
    "t35": "Team 35 Olney",
    "t39": "Team 39 Nicetown",
}
ACCOUNT = {team: name for name, team in TEAMS.items()}
COORDINATORS = "Coordinators, 24 h: 215-555-0100"
PLACE = "40.0052,-75.1545"  # in North Philadelphia, on the streets
PATIENT = """[service]
stream_keep_alive_s = 1
streams_per_account = 3
connections_per_address = 16
call_changes_per_minute = 100000
"""
QUICK = """[service]
scene_answer_min = 0.05
scene_give_up_min = 10
"""
ANSWER_S = 3.0


class RunningServer(Server):
    """A server whose clock runs on from ``now`` since ``since`` (a Unix time), across
    restarts."""

    def __init__(self, *args, since: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.since = since

    def start(self) -> None:
        os.environ["OUTREACH_ROUTES_NOW_AT"] = str(self.since)
        try:
            super().start()
        finally:
            del os.environ["OUTREACH_ROUTES_NOW_AT"]


def _runs(plan_dir: Path, root: Path) -> tuple[Path, dict[str, str]]:
    runs = served_runs(plan_dir, root)
    tokens = {
        "coord": add_user(runs, "coord", "coordinator"),
        "disp": add_user(runs, "disp", "dispatch"),
        "disp2": add_user(runs, "disp2", "dispatch"),
    }
    for name, team in TEAMS.items():
        tokens[name] = add_user(runs, name, "team", team)
    return runs, tokens


@pytest.fixture(scope="module")
def patient(plan_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("calls-patient")
    runs, tokens = _runs(plan_dir, root)
    (root / "service.toml").write_text(PATIENT, "utf-8")
    server = Server(runs, "--config", str(root / "service.toml"))
    server.start()
    yield server, tokens
    server.stop()


@pytest.fixture(scope="module")
def quick(plan_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("calls-quick")
    runs, tokens = _runs(plan_dir, root)
    (root / "service.toml").write_text(QUICK, "utf-8")
    server = RunningServer(runs, "--config", str(root / "service.toml"), since=time.time())
    server.start()
    yield server, tokens
    server.stop()


def _cancel_open(server: Server, tokens: dict) -> None:
    _, _, calls = server.call("/api/scene-requests", token=tokens["coord"])
    for call in calls:
        if call["state"] in ("offered", "accepted", "on_scene"):
            path = f"/api/scene-requests/{call['id']}/cancel"
            assert server.call(path, token=tokens["coord"], body={})[0] == 200


@pytest.fixture
def calm(patient):
    """The patient server with no call open before or after the test."""
    server, tokens = patient
    _cancel_open(server, tokens)
    yield server, tokens
    _cancel_open(server, tokens)


def _ask(server: Server, tokens: dict, near: str = PLACE, who: str = "disp") -> dict:
    status, _, call = server.call("/api/scene-requests", token=tokens[who],
                                  body={"near": near, "asked_by": "Officer Diaz, 25th district",
                                        "note": "crowd gathering after a fight"})  # fmt: skip
    assert status == 201, call
    return call


def _answer(server: Server, tokens: dict, call: dict, team: str, **body):
    path = f"/api/scene-requests/{call['id']}/answer"
    return server.call(path, token=tokens[ACCOUNT[team]], body=body)


def _get(server: Server, tokens: dict, call_id: str, who: str = "coord") -> dict:
    status, _, call = server.call(f"/api/scene-requests/{call_id}", token=tokens[who])
    assert status == 200, call
    return call


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- the state machine, by answers ----------------------------------------------------------------


def test_a_call_is_offered_to_the_nearest_team_as_where_ranks_them(calm):
    server, tokens = calm
    _, _, ranked = server.call(f"/api/where?near={PLACE}", token=tokens["disp"])
    call = _ask(server, tokens)
    assert call["state"] == "offered" and call["offered_to"] == ranked[0]["team"]
    assert call["walk_min"] == ranked[0]["walk_min"] and call["distance_km"] > 0
    assert call["team_line"] == ranked[0]["contact"]
    assert call["events"] == [
        {"state": "offered", "team": ranked[0]["team"], "at": call["created_at"], "by": "disp",
         "walk_min": ranked[0]["walk_min"], "distance_km": call["distance_km"]}
    ]  # fmt: skip
    # the place in words, for the phone: the corner of the plan's stop there (the bundled
    # Philadelphia streets have no names: none)
    stop = _route(server, TEAM)["stops"][1]
    assert _ask(server, tokens, near=f"{stop['lat']},{stop['lon']}")["corner"] == stop["corner"]
    # the answer's time is the city's, with its offset; the offer is due after 2 minutes
    assert call["created_at"] == NOW
    assert _at(call["offer_due"]) - _at(call["created_at"]) == dt.timedelta(minutes=2)


def test_going_accepts_with_an_eta_and_a_responding_check_in_then_arrival_and_close(calm):
    server, tokens = calm
    call = _ask(server, tokens)
    team = call["offered_to"]
    status, _, accepted = _answer(server, tokens, call, team, answer="going")
    assert status == 200 and accepted["state"] == "accepted" and accepted["accepted_by"] == team
    assert _at(accepted["eta"]) == _at(NOW) + dt.timedelta(minutes=call["walk_min"])
    # "Going" is the team's responding check-in: `where` places it at the scene
    _, _, rows = server.call(f"/api/where?near={PLACE}", token=tokens["disp"])
    mine = next(r for r in rows if r["team"] == team)
    assert mine["status"] == "checked in: responding to a scene" and mine["walk_min"] < 1
    # only the accepting team (or a coordinator) marks it at the scene and done
    other = next(t for t in TEAMS.values() if t != team)
    path = f"/api/scene-requests/{call['id']}"
    assert server.call(path + "/arrived", token=tokens[ACCOUNT[other]], body={})[0] == 403
    assert server.call(path + "/arrived", token=tokens["disp"], body={})[0] == 403
    status, _, closed = server.call(path + "/close", token=tokens[ACCOUNT[team]],
                                    body={"outcome": "no such outcome"})  # fmt: skip
    assert status == 422 and "de-escalated" in closed["error"]
    status, _, there = server.call(path + "/arrived", token=tokens[ACCOUNT[team]], method="POST")
    assert status == 200 and there["state"] == "on_scene" and there["arrived_at"] == NOW
    assert server.call(path + "/arrived", token=tokens[ACCOUNT[team]], body={})[0] == 409
    status, _, closed = server.call(path + "/close", token=tokens[ACCOUNT[team]],
                                    body={"outcome": "de-escalated"})  # fmt: skip
    assert status == 200 and closed["state"] == "closed" and closed["outcome"] == "de-escalated"
    status, _, answer = server.call(path + "/cancel", token=tokens["disp"], body={})
    assert status == 409 and "closed" in answer["error"]
    assert [e["state"] for e in _get(server, tokens, call["id"])["events"]] == [
        "offered", "accepted", "on_scene", "closed"]  # fmt: skip


def _metres(a: list[float], b: list[float]) -> float:
    """Metres between two (lat, lon) points (haversine)."""
    (la1, lo1), (la2, lo2) = (map(math.radians, p) for p in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2
    h += math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_the_walk_to_the_scene_goes_from_the_team_over_the_streets_to_those_who_may_see_it(calm):
    server, tokens = calm
    stop = _route(server, OTHER)["stops"][3]  # a scene no earlier test's team went to
    place = f"{stop['lat']},{stop['lon']}"
    _, _, ranked = server.call(f"/api/where?near={place}", token=tokens["disp"])
    call = _ask(server, tokens, near=place)
    team, first = call["offered_to"], ranked[0]
    url = f"/api/scene-requests/{call['id']}/path"
    status, _, walk = server.call(url, token=tokens[ACCOUNT[team]])
    assert status == 200 and walk["team"] == team and walk["state"] == "offered"
    # from where `where` puts the team (its check-in, or the plan), to the scene
    assert walk["from"]["source"] == first["source"]
    assert walk["path"][0] == [first["position"][1], first["position"][0]]
    assert walk["path"][-1] == [stop["lat"], stop["lon"]]
    # as long as the walk the offer was timed by, and along the streets: its points are the
    # street corners on the way, their straight steps no longer than the streets between them
    assert abs(walk["metres"] / 1000 - call["distance_km"]) < 0.02
    points = walk["path"]
    along = sum(_metres(a, b) for a, b in zip(points, points[1:], strict=False))
    assert len(points) > 5 and 0.8 * walk["metres"] < along <= walk["metres"] * 1.001
    # another team may not read it; dispatch and coordinators read the same walk
    other = next(t for t in TEAMS.values() if t != team)
    status, _, refused = server.call(url, token=tokens[ACCOUNT[other]])
    assert status == 403 and "not your team's" in refused["error"]
    assert server.call(url, token=tokens["disp"])[2] == walk
    assert server.call(url + "?team=x", token=tokens["coord"])[0] == 400
    # passed on: the first team can no longer read it (it would tell where the next team is)
    _, _, passed = _answer(server, tokens, call, team, answer="cannot", reason="too far")
    second = passed["offered_to"]
    assert server.call(url, token=tokens[ACCOUNT[team]])[0] == 403
    _, _, offered = server.call(url, token=tokens[ACCOUNT[second]])
    assert offered["team"] == second and offered["path"][-1] == points[-1]
    # accepted: from where the team was when it said Going, not the scene its check-in names
    _answer(server, tokens, call, second, answer="going")
    _, _, going = server.call(url, token=tokens[ACCOUNT[second]])
    assert going["state"] == "accepted" and going["team"] == second
    assert abs(going["metres"] - offered["metres"]) < 10 and going["metres"] > 100
    # at the scene: nothing left to walk
    server.call(f"/api/scene-requests/{call['id']}/arrived", token=tokens[ACCOUNT[second]], body={})
    _, _, there = server.call(url, token=tokens["coord"])
    assert there["state"] == "on_scene" and there["path"] is None and there["team"] is None
    assert server.call(url, token=tokens[ACCOUNT[second]])[0] == 403


def test_the_boards_map_gets_tonights_routes_and_each_team_where_it_is_believed(calm):
    server, tokens = calm
    _, _, tonight = server.call("/api/board/routes", token=tokens["coord"])
    assert tonight["night"] == NIGHT
    plan = json.loads((server.runs / "latest" / "plan.json").read_text("utf-8"))["teams"]
    planned = {r["team"]: r for r in plan if r["night"] == NIGHT}
    assert {r["team"] for r in tonight["routes"]} == set(planned)
    for route in tonight["routes"]:
        assert route["path"] == [[lat, lon] for lon, lat in planned[route["team"]]["path"]]
        assert [s["number"] for s in route["stops"]] == list(
            range(1, len(planned[route["team"]]["stops"]) - 1)
        )
    assert len({r["colour"] for r in tonight["routes"]}) == len(tonight["routes"])
    _, _, other = server.call("/api/board/routes?night=2023-01-05", token=tokens["coord"])
    assert other["night"] == "2023-01-05" and other["routes"] != tonight["routes"]
    assert server.call("/api/board/routes?night=tomorrow", token=tokens["coord"])[0] == 400
    assert server.call("/api/board/routes", token=tokens["disp"])[0] == 403
    assert server.call("/api/board/routes", token=tokens["t22"])[0] == 403
    # each team on shift where `where` believes it is: by the plan, or its fresh check-in
    _, _, board = server.call("/api/board", token=tokens["coord"])
    _, _, rows = server.call(f"/api/where?near={PLACE}", token=tokens["disp"])
    believed = {r["team"]: r for r in rows if r["on_shift"]}
    assert {t["team"] for t in board["teams"] if t["place"]} == set(believed)
    for row in board["teams"]:
        if row["place"] is None:
            continue
        colour = next(r["colour"] for r in tonight["routes"] if r["team"] == row["team"])
        assert row["colour"] == colour
        lon, lat = believed[row["team"]]["position"]
        assert abs(row["place"]["lat"] - lat) < 1e-5 and abs(row["place"]["lon"] - lon) < 1e-5
        source = believed[row["team"]]["source"]
        assert row["place"]["source"] == source
        assert (row["place"]["status"] == "by the plan") == (source == "plan")


def test_a_team_cannot_answer_another_teams_offer(calm):
    server, tokens = calm
    call = _ask(server, tokens)
    team = call["offered_to"]
    other = next(t for t in TEAMS.values() if t != team)
    status, _, answer = _answer(server, tokens, call, other, answer="going")
    assert status == 403 and "not offered to your team" in answer["error"]
    assert server.call(f"/api/scene-requests/{call['id']}", token=tokens[ACCOUNT[other]])[0] == 403
    path = f"/api/scene-requests/{call['id']}/answer"
    for who in ("disp", "coord"):
        assert server.call(path, token=tokens[who], body={"answer": "going"})[0] == 403
    # ... and the audit log holds the refusal
    _, _, lines = server.call("/api/audit?kind=refused+403", token=tokens["coord"])
    assert any(path in line["detail"] for line in lines)
    # the offered team says it cannot: the call passes on, and its "going" comes too late
    status, _, passed = _answer(server, tokens, call, team, answer="cannot", reason="unsafe")
    assert status == 200 and passed["offered_to"] not in (team, None)
    assert passed["events"][1] == {"state": "cannot", "team": team, "at": NOW,
                                   "by": ACCOUNT[team], "reason": "unsafe"}  # fmt: skip
    status, _, answer = _answer(server, tokens, call, team, answer="going")
    assert status == 409 and "no longer open" in answer["error"]
    # the team it passed to can still see it; the one that declined too
    assert server.call(f"/api/scene-requests/{call['id']}", token=tokens[ACCOUNT[team]])[0] == 200


def test_answers_are_checked(calm):
    server, tokens = calm
    call = _ask(server, tokens)
    team = call["offered_to"]
    for body, words in (
        ({"answer": "maybe"}, '"going" or "cannot"'),
        ({"answer": "cannot"}, "`reason` must be one of"),
        ({"answer": "cannot", "reason": "other"}, "needs a `note`"),
        ({"answer": "going", "reason": "unsafe"}, "go with"),
        ({"answer": "going", "eta": 3}, "unknown field"),
    ):
        status, _, answer = _answer(server, tokens, call, team, **body)
        assert status == 422 and words in answer["error"], (body, answer)
    assert server.call("/api/scene-requests/no-such-call/answer", token=tokens[ACCOUNT[team]],
                       body={"answer": "going"})[0] == 404  # fmt: skip
    assert server.call(f"/api/scene-requests/{call['id']}/fly", token=tokens["coord"],
                       body={})[0] == 404  # fmt: skip
    status, _, answer = _answer(server, tokens, call, team, answer="cannot", reason="other",
                                note="our car broke down")  # fmt: skip
    assert status == 200 and answer["events"][1]["reason"] == "other: our car broke down"


def test_a_busy_team_is_skipped_and_one_holding_an_offer_waits_its_turn(calm):
    server, tokens = calm
    first = _ask(server, tokens)
    nearest = first["offered_to"]
    # a second call at the same place, while the nearest team holds the first's offer: the
    # next team is free, so it goes there
    second = _ask(server, tokens)
    assert second["offered_to"] != nearest
    # every team holding an offer: a new call goes to the nearest again
    calls = [first, second]
    while len({c["offered_to"] for c in calls}) < len(TEAMS):
        calls.append(_ask(server, tokens))
    extra = _ask(server, tokens)
    assert extra["offered_to"] == nearest
    # the nearest accepts it: its offer of the first call passes on at once
    assert _answer(server, tokens, extra, nearest, answer="going")[0] == 200
    moved = _get(server, tokens, first["id"])
    assert moved["offered_to"] != nearest and moved["state"] == "offered"
    assert moved["events"][1] == {"state": "passed", "team": nearest, "at": NOW, "by": "service",
                                  "reason": "the team accepted another call"}  # fmt: skip
    # a team on an accepted call is skipped
    _cancel_open(server, tokens)
    busy = _ask(server, tokens)
    assert _answer(server, tokens, busy, busy["offered_to"], answer="going")[0] == 200
    assert _ask(server, tokens)["offered_to"] != busy["offered_to"]


def test_every_team_declining_makes_the_call_unanswered_with_the_coordinators_line(calm):
    server, tokens = calm
    call = _ask(server, tokens)
    declined = []
    while call["state"] == "offered":
        declined.append(call["offered_to"])
        status, _, call = _answer(server, tokens, call, call["offered_to"], answer="cannot",
                                  reason="already engaged")  # fmt: skip
        assert status == 200, call
    assert sorted(declined) == sorted(TEAMS.values())
    assert call["state"] == "unanswered" and call["coordinators_line"] == COORDINATORS
    assert call["events"][-1]["reason"] == "every team on shift was offered"


def test_dispatch_and_coordinators_cancel_teams_do_not(calm):
    server, tokens = calm
    call = _ask(server, tokens)
    path = f"/api/scene-requests/{call['id']}/cancel"
    assert server.call(path, token=tokens[ACCOUNT[call["offered_to"]]], body={})[0] == 403
    status, _, answer = server.call(path, token=tokens["disp"], body={"why": "x"})
    assert status == 422 and "unknown field" in answer["error"]
    status, _, cancelled = server.call(path, token=tokens["disp"], method="POST")
    assert status == 200 and cancelled["state"] == "cancelled"
    status, _, answer = _answer(server, tokens, call, call["offered_to"], answer="going")
    assert status == 409 and "cancelled" in answer["error"]


def test_a_place_off_the_streets_or_outside_the_week_is_refused(calm):
    server, tokens = calm
    for near in ("0,0", "39.5,-75.9"):
        status, _, answer = server.call("/api/scene-requests", token=tokens["disp"],
                                        body={"near": near, "asked_by": "x"})  # fmt: skip
        assert status == 422 and "km from the nearest walkable street" in answer["error"]
    status, _, answer = server.call("/api/scene-requests", token=tokens[ACCOUNT[TEAM]],
                                    body={"near": PLACE, "asked_by": "x"})  # fmt: skip
    assert status == 403


def test_hostile_bodies_on_the_calls_endpoints_get_no_5xx(calm):
    from test_serve_hostile import HOSTILE_BODIES, _raw

    server, tokens = calm
    call = _ask(server, tokens)
    paths = [f"/api/scene-requests/{call['id']}/{c}" for c in ("answer", "arrived", "close",
             "cancel", "x")] + ["/api/scene-requests/%00/answer", "/api/scene-requests/"
             + "x" * 5000 + "/answer"]  # fmt: skip
    bodies = HOSTILE_BODIES + [b'{"answer": "going", "reason": "\\ud800"}',
                               b'{"outcome": ["de-escalated"]}', b'{"answer": null}']  # fmt: skip
    for token in (tokens["coord"], tokens[ACCOUNT[call["offered_to"]]]):
        for path in paths:
            for body in bodies:
                status, _, content = _raw(server, "POST", path, body,
                                          {"Authorization": f"Bearer {token}",
                                           "Content-Type": "application/json"})  # fmt: skip
                assert status < 500, (path, body[:80], content[:200])
                assert status != 200 or path.endswith(("cancel", "arrived")), (path, body[:80])
    assert _get(server, tokens, call["id"])["state"] in ("offered", "cancelled")


# --- timers ---------------------------------------------------------------------------------------


def _wait_for(check, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def _passed_on_time(call: dict, team: str) -> dt.timedelta:
    """How long after it was offered ``team``'s offer passed on (by the server's clock)."""
    offered = next(e for e in call["events"] if e["state"] == "offered" and e["team"] == team)
    passed = next(e for e in call["events"] if e["state"] == "passed" and e["team"] == team)
    assert passed["reason"] == "no answer in 0.05 min"
    return _at(passed["at"]) - _at(offered["at"])


def test_an_offer_nobody_answers_passes_to_the_next_team(quick):
    server, tokens = quick
    call = _ask(server, tokens)
    first = call["offered_to"]
    moved = _wait_for(lambda: (c := _get(server, tokens, call["id"]))["offered_to"] != first
                      and c, ANSWER_S + 10)  # fmt: skip
    assert moved["state"] == "offered" and moved["offered_to"] not in (None, first)
    # within a second of its time (the loop looks twice a second)
    assert dt.timedelta(seconds=ANSWER_S) <= _passed_on_time(moved, first)
    assert _passed_on_time(moved, first) <= dt.timedelta(seconds=ANSWER_S + 1)
    # the team it passed from answers too late: 409 with the reason
    status, _, answer = _answer(server, tokens, call, first, answer="going")
    assert status == 409 and "passed on" in answer["error"] and "no answer in" in answer["error"]
    # nobody answers at all: unanswered once every team was offered, with the coordinators' line
    done = _wait_for(lambda: (c := _get(server, tokens, call["id"]))["state"] == "unanswered"
                     and c, ANSWER_S * len(TEAMS) + 15)  # fmt: skip
    assert sorted(done["teams_offered"]) == sorted(TEAMS.values())
    assert done["coordinators_line"] == COORDINATORS


def test_a_killed_and_restarted_server_sends_the_next_offer_on_time(plan_dir: Path, tmp_path: Path):
    runs, tokens = _runs(plan_dir, tmp_path)
    (tmp_path / "service.toml").write_text("[service]\nscene_answer_min = 0.25\n", "utf-8")
    server = RunningServer(runs, "--config", str(tmp_path / "service.toml"), since=time.time())
    server.start()
    try:
        call = _ask(server, tokens)
        first = call["offered_to"]
        server.kill()  # mid-offer: its timer is a row of the database, nowhere else
        server.start()  # (in a few seconds: well within the offer's 15)
        moved = _wait_for(lambda: (c := _get(server, tokens, call["id"]))["offered_to"] != first
                          and c, 30)  # fmt: skip
        assert moved["state"] == "offered" and moved["offered_to"] != first
        offered = next(e for e in moved["events"] if e["state"] == "offered")
        passed = next(e for e in moved["events"] if e["state"] == "passed")
        assert passed["team"] == first and passed["reason"] == "no answer in 0.25 min"
        late = _at(passed["at"]) - _at(offered["at"]) - dt.timedelta(seconds=15)
        assert dt.timedelta(0) <= late <= dt.timedelta(seconds=1)
    finally:
        server.stop()


def test_changes_of_calls_are_limited_per_account(quick):
    server, tokens = quick
    statuses = []
    for _ in range(40):
        status, head, _ = server.call("/api/scene-requests/no-such-call/cancel",
                                      token=tokens["disp2"], body={})  # fmt: skip
        statuses.append(status)
    assert set(statuses) == {404, 429} and statuses.count(404) <= 31
    assert int(head["retry-after"]) >= 1
    # another account is not slowed
    assert server.call("/api/scene-requests/no-such-call/cancel", token=tokens["disp"],
                       body={})[0] == 404  # fmt: skip


def test_the_board_and_the_weeks_report_time_each_call(quick):
    from conftest import run_cli

    server, tokens = quick
    _cancel_open(server, tokens)
    call = _ask(server, tokens)
    team = call["offered_to"]
    _, _, board = server.call("/api/board", token=tokens["coord"])
    mine = next(c for c in board["calls"] if c["id"] == call["id"])
    assert mine["state"] == "offered" and mine["offer_due"] and mine["team"] == team
    time.sleep(1.0)  # the team takes a moment to answer, and to walk there
    status, _, accepted = _answer(server, tokens, call, team, answer="going")
    assert status == 200, accepted
    time.sleep(1.0)
    path = f"/api/scene-requests/{call['id']}"
    assert server.call(path + "/arrived", token=tokens[ACCOUNT[team]], body={})[0] == 200
    body = {"outcome": "other", "note": "talked them down"}
    status, _, closed = server.call(path + "/close", token=tokens["coord"], body=body)
    assert status == 200 and closed["outcome"] == "other: talked them down"
    _, _, board = server.call("/api/board", token=tokens["coord"])
    mine = next(c for c in board["calls"] if c["id"] == call["id"])
    assert mine["state"] == "closed" and mine["arrived_at"] and mine["eta"]
    result = run_cli("report", "--runs-dir", str(server.runs), "--week", "2023-W01")
    assert result.returncode == 0, result.stderr
    report = json.loads((server.runs / "reports" / "2023-W01" / "report.json").read_text("utf-8"))
    row = next(r for r in report["scene_requests"] if r["id"] == call["id"])
    asked = _at(closed["created_at"])
    events = {e["state"]: _at(e["at"]) for e in closed["events"]}

    def minutes(state: str) -> float:
        return round((events[state] - asked).total_seconds() / 60, 1)

    assert row["minutes_to_acceptance"] == minutes("accepted")
    assert row["minutes_to_arrival"] == minutes("on_scene")
    assert row["teams_offered"] == [team] and row["accepted_by"] == team
    assert row["outcome"] == "other: talked them down" and row["state"] == "closed"
    summary = report["calls"]
    assert summary["calls"] == len(report["scene_requests"]) >= 1
    accepted = [r for r in report["scene_requests"] if r["minutes_to_acceptance"] is not None]
    assert summary["share_accepted"] == round(len(accepted) / summary["calls"], 2)


# --- before calls had states ----------------------------------------------------------------------


def test_scene_requests_stored_before_are_migrated_and_no_team_on_shift_is_unanswered(
    plan_dir: Path, tmp_path: Path
):
    runs = served_runs(plan_dir, tmp_path)
    db = sqlite3.connect(runs / "service.sqlite3")
    db.executescript(store_module._SCHEMA + ";" + store_module._MIGRATIONS[2] + ";"
                     + store_module._MIGRATIONS[3] + "; PRAGMA user_version = 3;")  # fmt: skip
    for scene, when in (("old-1", "2023-01-03T01:00:00.000000+00:00"),
                        ("old-2", "2023-01-03T02:00:00.000000+00:00")):  # fmt: skip
        db.execute("INSERT INTO scene_requests VALUES (?, 40.0, -75.15, ?, 'police', '', ?, ?, "
                   "'disp')", (scene, PLACE, TEAM, when))  # fmt: skip
    db.execute(
        "INSERT INTO checkins (client_id, team, night, status, tapped_at, tapped_utc, "
        "received_at, scene_request_id, late, user) VALUES ('c1', ?, '2023-01-02', "
        "'responding', '2023-01-02T20:12:00-05:00', '2023-01-03T01:12:00.000000+00:00', "
        "'2023-01-03T01:12:00.000000+00:00', 'old-1', 0, 't22')",
        (TEAM,),
    )
    db.commit()
    db.close()
    tokens = {"coord": add_user(runs, "coord", "coordinator"),
              "disp": add_user(runs, "disp", "dispatch")}  # fmt: skip
    server = Server(runs, now="2023-01-04T12:00:00-05:00")  # no team on shift at noon
    server.start()
    try:
        old = _get(server, tokens, "old-1")
        assert old["state"] == "accepted" and old["accepted_by"] == TEAM
        assert [e["state"] for e in old["events"]] == ["offered", "accepted"]
        assert old["accepted_at"] == "2023-01-02T20:12:00-05:00"
        assert _get(server, tokens, "old-2")["state"] == "unanswered"
        call = _ask(server, tokens)
        assert call["state"] == "unanswered" and call["offered_to"] is None
        assert call["coordinators_line"] == COORDINATORS
        assert call["events"][0]["reason"] == "no team is on shift"
    finally:
        server.stop()


# --- live updates ---------------------------------------------------------------------------------


class Stream:
    """``GET /api/events`` read in a thread: each event's ``id`` and parsed ``data``, and the
    comment lines, in order, on a queue."""

    def __init__(self, server: Server, token: str, *, last: int | None = None,
                 source: str = "127.0.0.1") -> None:  # fmt: skip
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30,
                                                     source_address=(source, 0))  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        if last is not None:
            headers["Last-Event-ID"] = str(last)
        self.connection.request("GET", "/api/events", headers=headers)
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.items: queue.Queue = queue.Queue()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event: dict = {}
        try:
            while line := self.response.readline():
                text = line.decode().rstrip("\n")
                if text.startswith(":"):
                    self.items.put(("comment", text))
                elif text.startswith("id: "):
                    event["id"] = int(text[4:])
                elif text.startswith("data: "):
                    event["data"] = json.loads(text[6:])
                elif not text and event:
                    self.items.put(("event", event))
                    event = {}
        except (OSError, ValueError, AttributeError):  # closed by the test (fp gone)
            pass

    def next_event(self, seconds: float = 2.0) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            kind, item = self.items.get(timeout=max(0.01, deadline - time.monotonic()))
            if kind == "event":
                return item

    def close(self) -> None:
        # shut the socket first: a reader blocked in readline() holds the response's lock,
        # and close() alone would wait for the stream's next line
        if self.connection.sock is not None:
            with contextlib.suppress(OSError):
                self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def test_each_account_streams_only_what_it_may_see(calm):
    server, tokens = calm
    coordinator = Stream(server, tokens["coord"], source="127.0.0.2")
    dispatch = Stream(server, tokens["disp"], source="127.0.0.2")
    other_dispatch = Stream(server, tokens["disp2"], source="127.0.0.2")
    try:
        call = _ask(server, tokens)
        team = call["offered_to"]
        other = next(t for t in TEAMS.values() if t != team)
        phone = Stream(server, tokens[ACCOUNT[team]], source="127.0.0.3")
        other_phone = Stream(server, tokens[ACCOUNT[other]], source="127.0.0.3")
        for stream in (coordinator, dispatch):
            event = stream.next_event()
            assert event["data"]["id"] == call["id"] and event["data"]["state"] == "offered"
            assert event["data"]["team"] == team and event["id"] > 0
        # the team's own stream, opened after the offer, gets what follows; it cannot answer,
        # so the call passes on: it sees its own answer, the next team its offer
        status, _, moved = _answer(server, tokens, call, team, answer="cannot", reason="too far")
        assert status == 200
        assert phone.next_event()["data"]["state"] == "cannot"
        offered = moved["offered_to"]
        for stream in (coordinator, dispatch):
            assert stream.next_event()["data"]["state"] == "cannot"
            event = stream.next_event()
            assert event["data"]["state"] == "offered" and event["data"]["team"] == offered
        # another dispatcher sees none of it: the first event it gets is its own call's
        own = _ask(server, tokens, who="disp2")
        assert other_dispatch.next_event()["data"]["id"] == own["id"]
        # another team sees nothing until a call is offered to it
        while moved["offered_to"] != other:
            _, _, moved = _answer(server, tokens, call, moved["offered_to"], answer="cannot",
                                  reason="too far")  # fmt: skip
        event = other_phone.next_event()
        assert event["data"]["team"] == other and event["data"]["state"] == "offered"
        for stream in (phone, other_phone):
            stream.close()
    finally:
        for stream in (coordinator, dispatch, other_dispatch):
            stream.close()


def test_a_stream_resumes_from_last_event_id_and_keeps_alive(calm):
    server, tokens = calm
    first = Stream(server, tokens["disp"], source="127.0.0.4")
    call = _ask(server, tokens)
    seen = first.next_event()
    # a comment line keeps the stream open (every second on this server)
    assert ("comment", ": keep-alive") in [first.items.get(timeout=3) for _ in range(2)]
    first.close()
    # while the signal is down, the call passes on twice
    team = call["offered_to"]
    _, _, moved = _answer(server, tokens, call, team, answer="cannot", reason="unsafe")
    _answer(server, tokens, call, moved["offered_to"], answer="cannot", reason="unsafe")
    again = Stream(server, tokens["disp"], last=seen["id"], source="127.0.0.4")
    try:
        missed = [again.next_event() for _ in range(4)]
        assert [e["data"]["state"] for e in missed] == ["cannot", "offered", "cannot", "offered"]
        assert [e["id"] for e in missed] == sorted(e["id"] for e in missed)
        assert missed[0]["id"] > seen["id"]
    finally:
        again.close()


def test_streams_are_capped_per_account_and_counted_per_address(calm):
    server, tokens = calm
    from test_server_limits import _connect, _read_all

    streams = [Stream(server, tokens["coord"], source="127.0.0.5") for _ in range(3)]
    try:
        assert all(s.status == 200 for s in streams)
        extra = Stream(server, tokens["coord"], source="127.0.0.6")
        assert extra.status == 429  # streams_per_account = 3
        extra.close()
        streams += [Stream(server, tokens[name], source="127.0.0.5") for name in TEAMS]
        streams += [Stream(server, tokens[name], source="127.0.0.5") for name in TEAMS]
        streams += [Stream(server, tokens["disp"], source="127.0.0.5")]
        assert all(s.status == 200 for s in streams[:16])
        # sixteen streams open from one address: its seventeenth connection is refused
        sock = _connect(server, "127.0.0.5")
        sock.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_all(sock).startswith(b"HTTP/1.1 429")
        sock.close()
    finally:
        for stream in streams:
            stream.close()
    assert server.call("/login")[0] == 200
    # an open stream also needs a login
    anonymous = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    anonymous.request("GET", "/api/events")
    assert anonymous.getresponse().status == 401
    anonymous.close()


# --- in a real browser ----------------------------------------------------------------------------

VIBRATIONS = """
window.vibrations = [];
navigator.vibrate = (pattern) => { window.vibrations.push(pattern); return true; };
"""


def test_dispatch_asks_on_where_and_the_team_phone_rings_and_answers(calm):
    from playwright.sync_api import sync_playwright
    from test_serve import _launch, _log_in, _phone

    server, tokens = calm
    _, _, ranked = server.call(f"/api/where?near={PLACE}", token=tokens["disp"])
    team = ranked[0]["team"]
    with sync_playwright() as p:
        browser = _launch(p)
        phone_context = _phone(browser, server)
        phone_context.add_init_script(VIBRATIONS)
        phone, phone_errors = _log_in(phone_context, server, ACCOUNT[team])
        phone.wait_for_selector("body[data-live='yes']")
        desk, desk_errors = _log_in(_phone(browser, server), server, "disp")
        desk.wait_for_selector("body[data-live='yes']")
        desk.fill("#call-near", PLACE)
        desk.fill("#call-asked-by", "Officer Diaz, 25th district")
        desk.fill("#call-note", "crowd gathering")
        desk.click("#call button[type=submit]")
        # the phone rings within 2 s: the card, and a vibration
        phone.wait_for_selector("#call-card[data-state='offered']", timeout=2000)
        assert phone.evaluate("window.vibrations.length") == 1
        _, _, calls = server.call("/api/scene-requests", token=tokens[ACCOUNT[team]])
        assert isinstance(calls, list), calls
        shown = next(c for c in calls if c["state"] == "offered" and c["offered_to"] == team)
        place = f"near {shown['corner']}" if shown["corner"] else PLACE
        assert phone.text_content("#call-title") == f"Scene: {place}"
        assert "min on foot" in phone.text_content("#call-where")
        desk.wait_for_selector("#call-now[data-state='offered']", timeout=2000)
        assert desk.text_content("#call-now").startswith(f"Offered to {team} (")
        assert ranked[0]["contact"] in desk.text_content("#call-line")
        # the walk to the scene: on the team's map, and on dispatch's small map with the team
        phone.wait_for_function("document.getElementById('call-from').textContent !== ''")
        said = phone.text_content("#call-from")
        by_plan = ranked[0]["source"] == "plan"
        assert said.startswith("The dashed line: the walk from ")
        assert ("where the plan puts you" in said) == by_plan != ("your check-in" in said)
        assert phone.locator(".leaflet-overlay-pane path.lm-walk").count() == 1
        desk.wait_for_selector("#call-map path.lm-walk", timeout=2000)
        labels = desk.locator("#call-map .lm-label").all_text_contents()
        assert sorted(labels)[0] == "Scene" and len(labels) == 2
        assert labels[1 - labels.index("Scene")].startswith(f"{team}: ")
        assert labels[1 - labels.index("Scene")].endswith(": by the plan") == by_plan
        # Going: dispatch sees it accepted within 2 s
        phone.click("#call-going")
        desk.wait_for_selector("#call-now[data-state='accepted']", timeout=2000)
        assert desk.text_content("#call-now").startswith(f"Accepted 20:00 by {team}, expected")
        assert "Going: dispatch is told" in phone.text_content("#call-said")
        phone.click("#call-arrived")
        desk.wait_for_selector("#call-now[data-state='on_scene']", timeout=2000)
        assert desk.text_content("#call-now").startswith("At the scene")
        phone.click("#call-card [data-outcome='de-escalated']")
        desk.wait_for_selector("#call-now[data-state='closed']", timeout=2000)
        assert desk.text_content("#call-now") == f"Done: de-escalated ({team})"
        assert phone.text_content("#call-said").startswith("Done: de-escalated")
        # the card's buttons are big enough for a thumb at night, at 390 px
        phone.click("#call-dismiss")
        assert phone.is_hidden("#call-card")
        assert not phone_errors and not desk_errors, (phone_errors, desk_errors)
        browser.close()


def test_the_boards_live_map_shows_tonight_the_teams_and_a_team_on_its_way(calm):
    from playwright.sync_api import sync_playwright
    from test_serve import _launch, _log_in, _phone

    server, tokens = calm
    call = _ask(server, tokens)
    team = call["offered_to"]
    _answer(server, tokens, call, team, answer="going")
    with sync_playwright() as p:
        browser = _launch(p)
        board, errors = _log_in(_phone(browser, server), server, "coord")
        board.wait_for_selector("#live-key .lm-row")
        # the list under the map: the call first, then every team on shift, by name
        board.wait_for_function("document.querySelectorAll('#live-key .lm-row').length === 7")
        rows = board.locator("#live-key .lm-row").all_text_contents()
        assert rows[0].strip().startswith("Scene ") and f"{team} on the way, expected" in rows[0]
        assert f"{team}: on the way to the scene since 20:00" in [r.strip() for r in rows]
        _, _, data = server.call("/api/board", token=tokens["coord"])
        others = [t["place"] for t in data["teams"] if t["place"] and t["team"] != team]
        assert len(others) == 5
        planned = sum(place["source"] == "plan" for place in others)
        assert sum(r.strip().endswith(": by the plan") for r in rows) == planned
        # tonight's six routes, the team's dashed walk (white casing and dashes), two dots
        board.wait_for_selector("#live-map path.lm-walk")
        assert board.locator("#live-map .leaflet-overlay-pane path").count() == 6 + 2 + 6 + 1
        # zoomed out to the city the names would overlap: hidden until a tap on a row zooms in
        assert board.locator("#live-map.lm-quiet").count() == 1
        board.locator("#live-key .lm-row").nth(0).click()
        board.wait_for_selector("#live-map:not(.lm-quiet)")
        assert board.locator("#live-map .lm-scene").first.is_visible()
        assert not errors, errors
        browser.close()


def test_the_public_summary_counts_calls_with_the_same_suppression():
    from test_report import _week

    from outreach_routes.report import public_summary

    plan, figures = _week([10, 12], [[], []])
    for count, shown in ((2, None), (5, {"count": 5, "share_accepted": 0.8})):
        figures["calls"] = {"calls": count, "share_accepted": 0.8}
        week = public_summary([(plan, figures)])["weeks"][0]
        assert week["calls"] == (shown or {"count": None, "share_accepted": None})
