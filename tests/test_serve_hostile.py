"""The service against hostile clients (issue 34): per-account limits, paging, CSRF, input
that must not cause a 5xx, `client_id` per account, HEAD, places off the streets, audit.

A real server on 127.0.0.1 with small per-account limits; its clock is NOW (test_serve).
"""

from __future__ import annotations

import http.client
import json
import random
from pathlib import Path

import pytest
from test_serve import NIGHT, OTHER, TEAM, Server, _checkin, _route, add_user, served_runs

LIMITS = """[service]
checkins_per_minute = 1
checkins_burst = 4
checkins_per_day = 6
"""


@pytest.fixture(scope="module")
def hostile(plan_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hostile")
    runs = served_runs(plan_dir, root)
    tokens = {
        "coordinator": add_user(runs, "coord", "coordinator"),
        "dispatch": add_user(runs, "disp", "dispatch"),
        "flood": add_user(runs, "flood", "team", TEAM),
        "quiet": add_user(runs, "quiet", "team", OTHER),
        "t22b": add_user(runs, "t22b", "team", TEAM),
        "t22c": add_user(runs, "t22c", "team", TEAM),
        "csrf": add_user(runs, "csrf", "team", OTHER),
        "csrf2": add_user(runs, "csrf2", "team", OTHER),
    }
    config = root / "service.toml"
    config.write_text(LIMITS, "utf-8")
    server = Server(runs, "--config", str(config))
    server.start()
    yield server, tokens
    server.stop()


def _raw(server: Server, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:  # fmt: skip
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    finally:
        connection.close()


def _stored(server: Server, tokens: dict, team: str) -> list[dict]:
    _, _, rows = server.call(f"/api/checkins?team={team.replace(' ', '+')}&limit=5000",
                             token=tokens["coordinator"])  # fmt: skip
    return rows


def test_one_account_flooding_is_limited_while_another_is_not(hostile):
    """Four at once (the burst), then 429 with Retry-After, decided before the body is read
    (a broken body gets 429 too); another account's check-ins are all stored."""
    server, tokens = hostile
    answers = [server.call("/api/checkins", token=tokens["flood"], body=_checkin(f"f{k}"))
               for k in range(6)]  # fmt: skip
    assert [a[0] for a in answers] == [201, 201, 201, 201, 429, 429]
    assert int(answers[4][1]["retry-after"]) >= 1 and "a minute" in answers[4][2]["error"]
    assert server.call("/api/checkins", token=tokens["flood"], raw=b"{{{")[0] == 429
    for k in range(4):
        body = _checkin(f"q{k}", team=OTHER)
        assert server.call("/api/checkins", token=tokens["quiet"], body=body)[0] == 201
    assert {r["client_id"] for r in _stored(server, tokens, OTHER)} >= {f"q{k}" for k in range(4)}


def test_an_account_has_a_daily_limit(hostile):
    """`checkins_per_day` = 6 stored in 24 hours: two accounts' bursts of four, the second
    account stops at its own limit only."""
    server, tokens = hostile
    statuses = []
    for k in range(4):
        body = _checkin(f"d{k}")
        statuses.append(server.call("/api/checkins", token=tokens["t22b"], body=body)[0])
    assert statuses == [201] * 4
    # the database holds 4 of t22b's today; a limit of 6 leaves 2 (a burst of 4 minus 4 used)
    assert server.call("/api/checkins", token=tokens["t22b"], body=_checkin("d5"))[0] == 429


def test_check_ins_are_read_a_page_at_a_time(hostile):
    server, tokens = hostile
    for k in range(4):
        body = _checkin(f"p{k}")
        assert server.call("/api/checkins", token=tokens["t22c"], body=body)[0] == 201
    team = TEAM.replace(" ", "+")
    path, seen, pages = f"/api/checkins?team={team}&limit=3", [], 0
    while path:
        status, head, rows = server.call(path, token=tokens["coordinator"])
        assert status == 200 and len(rows) <= 3
        seen += [r["id"] for r in rows]
        link = head.get("link")
        path = link.split(">")[0].lstrip("<") if link else None
        assert link is None or link.endswith('rel="next"')
        pages += 1
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(
        _stored(server, tokens, TEAM)
    )
    assert pages >= 3
    for bad in ("limit=0", "limit=5001", "limit=x", "after=-1", "colour=red"):
        assert server.call(f"/api/checkins?team={team}&{bad}",
                           token=tokens["coordinator"])[0] == 400  # fmt: skip


def test_client_ids_are_per_account(hostile):
    """The same id and content again: 200, not stored twice; other content: 409 with the
    reason; another account's same id: stored."""
    server, tokens = hostile
    body = _checkin("shared-id", team=OTHER)
    assert server.call("/api/checkins", token=tokens["csrf"], body=body)[0] == 201
    status, _, answer = server.call("/api/checkins", token=tokens["csrf"], body=body)
    assert status == 200 and answer["stored"] is False
    changed = {**body, "status": "end"}
    status, _, answer = server.call("/api/checkins", token=tokens["csrf"], body=changed)
    assert status == 409 and "status" in answer["error"]
    status, _, answer = server.call("/api/checkins", token=tokens["csrf2"], body=body)
    assert status == 201 and answer["stored"] is True


def _session(server: Server, user: str) -> str:
    from test_serve import run_cli

    link = run_cli("users", "link", user, "--base-url", server.base, "--runs-dir",
                   str(server.runs))  # fmt: skip
    code = link.stdout.strip().split("#code=")[1]
    status, head, _ = server.call("/api/login", body={"code": code})
    assert status == 200
    return head["set-cookie"].split(";")[0]


def test_a_cookie_cannot_post_from_another_site(hostile):
    """With the session cookie: text/plain is 415; JSON from another origin, or with no
    Origin at all, is 403; from the service's own origin it is stored. A token is exempt."""
    server, tokens = hostile
    cookie = _session(server, "coord")
    body = json.dumps({"near": "39.99,-75.15", "asked_by": "x", "note": "csrf"}).encode()
    host = f"127.0.0.1:{server.port}"
    cases = [
        ({"Content-Type": "text/plain", "Origin": "https://evil.example.org"}, 415),
        ({"Content-Type": "application/json", "Origin": "https://evil.example.org"}, 403),
        ({"Content-Type": "application/json"}, 403),
        ({"Content-Type": "application/json", "Origin": f"http://{host}.evil.org"}, 403),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403),
        ({"Content-Type": "application/json", "Origin": f"http://{host}"}, 201),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}, 201),
    ]
    for headers, expected in cases:
        status, _, answer = _raw(server, "POST", "/api/scene-requests", body,
                                 {**headers, "Cookie": cookie})  # fmt: skip
        assert status == expected, (headers, answer)
    status, _, _ = _raw(server, "POST", "/api/scene-requests", body,
                        {"Content-Type": "application/json", "Origin": "https://evil.example.org",
                         "Authorization": f"Bearer {tokens['dispatch']}"})  # fmt: skip
    assert status == 201
    status, _, _ = _raw(server, "POST", "/api/login", b'{"code": "x"}',
                        {"Content-Type": "text/plain"})  # fmt: skip
    assert status == 415


HOSTILE_BODIES = [
    b"[" * 16000,
    b"{" * 8000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"client_id": "\\ud800", "code": "\\ud800", "near": "\\udfff", "asked_by": "\\ud800"}',
    b'"\\ud800"',
    b"\xff\xfe{}",
    b'{"near": "\xed\xa0\x80"}',
    b"",
    b"null",
    b"[]",
    b"1e999999",
    b"9" * 5000,
    b'{"lat": NaN, "lon": Infinity}',
    b'{"tapped_at": "9999-12-31T23:59:59-14:00"}',
    b'{"tapped_at": "0001-01-01T00:00:00+14:00"}',
]


def _hostile_checkins() -> list[bytes]:
    rng = random.Random(34)
    base = _checkin("h", team=TEAM)
    out = []
    for value in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "\ud800", 1e308,
                  [], {}, None, True, "x" * 100_000, "2023-01-04T25:00:00-05:00"):  # fmt: skip
        for key in ("tapped_at", "client_id", "night", "team", "lat", "stop_id", "reason"):
            body = {**base, key: value}
            out.append(json.dumps(body).encode()[:16_000])
    for _ in range(40):  # random bytes in a body of the right shape
        text = bytearray(json.dumps(base).encode())
        for _ in range(5):
            text[rng.randrange(len(text))] = rng.randrange(256)
        out.append(bytes(text))
    return out


def test_no_hostile_input_gets_a_5xx(hostile):
    """Every endpoint, with and without a token, every method it takes, fed bodies and query
    strings an attacker would send: never a 5xx."""
    server, tokens = hostile
    queries = ["near=0,0", "near=39.99,-75.15&at=9999-12-31T23:59:59-14:00",
               "near=39.99,-75.15&at=0001-01-01T00:00:00%2B14:00", "near=%ED%A0%80",
               "near=" + "1" * 5000, "since=9999-12-31T23:59:59-14:00",
               "after=99999999999999999999", "limit=99999999999999999999", "team=%00",
               "kind=%ff", "before=-1", "near=nan,nan", "near=1e999,1"]  # fmt: skip
    paths = ["/api/where", "/api/checkins", "/api/scene-requests", "/api/board", "/api/audit",
             "/audit", "/where", "/", "/api/login", "/login"]  # fmt: skip
    bodies = HOSTILE_BODIES + _hostile_checkins()
    for token in (None, tokens["dispatch"], tokens["coordinator"], tokens["csrf"]):
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        for path in paths:
            for query in queries:
                for method in ("GET", "HEAD"):
                    status, _, _ = _raw(server, method, f"{path}?{query}", headers=auth)
                    assert status < 500, (method, path, query)
            for body in bodies:
                status, _, content = _raw(server, "POST", path, body,
                                          {**auth, "Content-Type": "application/json"})  # fmt: skip
                assert status < 500, (path, body[:80], content[:200])


def test_head_runs_no_post(hostile):
    """HEAD answers like GET: it stores nothing and is not refused as a bad check-in."""
    server, tokens = hostile
    before = len(_stored(server, tokens, OTHER))
    status, _, _ = _raw(server, "HEAD", "/api/checkins",
                        headers={"Authorization": f"Bearer {tokens['csrf']}"})  # fmt: skip
    assert status == 200
    status, _, _ = _raw(server, "HEAD", "/api/scene-requests",
                        headers={"Authorization": f"Bearer {tokens['dispatch']}"})  # fmt: skip
    assert status == 200
    assert len(_stored(server, tokens, OTHER)) == before


def test_a_place_off_the_streets_is_refused_with_its_distance(hostile):
    server, tokens = hostile
    status, _, answer = server.call("/api/where?near=0,0", token=tokens["dispatch"])
    assert status == 422 and "km from the nearest walkable street" in answer["error"]
    status, _, answer = server.call("/api/scene-requests", token=tokens["dispatch"],
                                    body={"near": "0,0", "asked_by": "x"})  # fmt: skip
    assert status == 422 and "km from the nearest walkable street" in answer["error"]
    stop = _route(server, TEAM, NIGHT)["stops"][1]
    near = f"{stop['lat']},{stop['lon']}"
    assert server.call(f"/api/where?near={near}", token=tokens["dispatch"])[0] == 200
    extra = {"near": near, "asked_by": "x", "colour": "red"}
    status, _, answer = server.call("/api/scene-requests", token=tokens["dispatch"], body=extra)
    assert status == 422 and "unknown field" in answer["error"] and "'colour'" in answer["error"]


def test_the_audit_log_has_board_sessions_refusals_and_filters(hostile):
    """A board read every second is one line, not one a read; refusals (401, 403, 429) and
    failed logins are audited with the address; /audit filters by kind and account."""
    server, tokens = hostile
    for _ in range(5):
        assert server.call("/api/board", token=tokens["coordinator"])[0] == 200
    report = "/reports/2023-W01/report.html"  # a path the corpus above did not ask
    for _ in range(5):  # the same refusal again and again: one line, the rest counted
        assert server.call(report, token=tokens["dispatch"])[0] == 403
    assert server.call("/run/contacts.html", token="no-such-token")[0] == 401  # not in the corpus
    assert server.call("/api/login", body={"code": "nope"})[0] in (401, 429)  # 429: the corpus
    _, _, log = server.call("/api/audit?user=coord&kind=board", token=tokens["coordinator"])
    assert len(log) == 1 and "from 127.0.0.1" in log[0]["detail"]
    log = []
    for kind in ("refused+401", "refused+403", "refused+429", "failed+login"):
        _, _, lines = server.call(f"/api/audit?kind={kind}", token=tokens["coordinator"])
        assert lines and {r["action"] for r in lines} == {kind.replace("+", " ")}, kind
        log += lines
    assert any("401 GET /run/contacts.html from 127.0.0.1" in r["detail"] for r in log)
    mine = [r for r in log if r["detail"].startswith(f"403 GET {report} from 127.0.0.1")]
    assert len(mine) == 1 and mine[0]["user"] == "disp"
    assert len([r for r in log if r["action"] == "refused 429" and r["user"] == "flood"]) == 1
    _, _, newest = server.call("/api/audit", token=tokens["coordinator"])
    _, _, older = server.call(f"/api/audit?before={newest[2]['id']}", token=tokens["coordinator"])
    assert [r["id"] for r in older[:3]] == [r["id"] for r in newest[3:6]]  # pages back
    status, _, page = server.call("/audit?kind=refused+401", token=tokens["coordinator"])
    assert status == 200 and "refused 401" in page and "refused 403</td>" not in page


def test_pages_load_nothing_from_a_cdn_and_carry_a_csp(hostile):
    """The service's own pages: `default-src 'self'` and no inline script; the week's maps:
    their libraries from /vendor/ (the npm copies), their inline scripts allowed by hash and
    tiles by the tile server they name (issue 34, point 10)."""
    import base64
    import hashlib
    import re

    server, tokens = hostile
    for path in ("/", "/where", "/audit", "/login"):
        status, head, page = server.call(path, token=tokens["coordinator"])
        assert status == 200, path
        assert head["content-security-policy"].startswith("default-src 'self';"), path
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path  # no inline script
        assert not re.search(r"<style|style=", page), path
    for path, token in (("/run/teams/team-22-north-central.html", tokens["flood"]),
                        ("/run/index.html", tokens["coordinator"])):  # fmt: skip
        status, head, page = server.call(path, token=token)
        assert status == 200
        sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
        assert sources and all(s.startswith(("/vendor/", "/static/")) for s in sources), sources
        for source in sources:
            assert server.call(source)[0] == 200, source  # public: no secret in a library
        policy = head["content-security-policy"]
        for code in re.findall(r"<script>(.*?)</script>", page, re.S):
            digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy
        assert "img-src 'self' data: https://tile.openstreetmap.org" in policy
        assert "'unsafe-eval'" not in policy and "script-src 'self' 'sha256-" in policy
