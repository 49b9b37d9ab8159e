"""Dispatch's calls reaching the phones (issue 35): how fast an offer arrives on the team's
live stream, and what an open stream costs the server.

Usage::

    .venv/bin/python benchmarks/scene_calls.py [--runs-dir DIR] [--streams 30] [--phones 20]
        [--calls-per-min 10] [--minutes 2] [--idle-streams 300]

Serves a runs folder (without ``--runs-dir``: the bundled Philadelphia week, planned first, not
timed) with ``outreach-routes serve`` on 127.0.0.1, its default ``[service]`` settings, its
clock running from Wednesday 20:00 of the plan's week (every team on shift). Then:

1. ``--streams`` team pages hold ``GET /api/events`` open (spread over the teams on shift and
   over addresses of 127.0.0.0/8, as phones on several carriers), while ``--phones`` team
   accounts post a check-in every 3 s each and dispatch asks ``--calls-per-min`` calls a minute
   at stops of tonight's routes, for ``--minutes``; each call is cancelled once offered, so the
   teams stay free. Measured: per offer received on a team's stream, the time from the start
   of the call's POST (p50, p95, max; target p95 under 0.5 s), and the check-ins stored.
2. ``--idle-streams`` more streams opened (coordinator accounts, 10 each): the server's
   resident memory before and after, per stream (target under 1 MB).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import add_user, served_week, wait_for_port

COMMAND = [sys.executable, "-m", "outreach_routes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, default=None)
    parser.add_argument("--streams", type=int, default=30)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--calls-per-min", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--idle-streams", type=int, default=300)
    parser.add_argument("--seed", type=int, default=35)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp())
    runs, plan, night, tonight, now = served_week(args.runs_dir, folder)

    def token(name: str, *role: str) -> str:
        return add_user(runs, name, *role)

    pages = [(token(f"page-{k}", "--role", "team", "--team", tonight[k % len(tonight)]["team"]),
              tonight[k % len(tonight)]["team"]) for k in range(args.streams)]  # fmt: skip
    phones = [(token(f"phone-{k}", "--role", "team", "--team", tonight[k % len(tonight)]["team"]),
               tonight[k % len(tonight)]) for k in range(args.phones)]  # fmt: skip
    dispatch = token("dispatch", "--role", "dispatch")
    viewers = [token(f"viewer-{k}", "--role", "coordinator")
               for k in range((args.idle_streams + 9) // 10)]  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*COMMAND, "serve", "--runs-dir", str(runs), "--port", str(port)],
        env={**os.environ, "OUTREACH_ROUTES_NOW": now, "OUTREACH_ROUTES_NOW_AT": str(time.time())},
    )
    try:
        wait_for_port(port)
        places = [(s["lat"], s["lon"]) for r in tonight for s in r["stops"][1:-1]]
        _calls(port, server.pid, pages, phones, dispatch, places, night, args, rng)
        _memory(port, server.pid, viewers, args.idle_streams)
    finally:
        server.terminate()
        server.wait(15)


class _Stream(threading.Thread):
    """One page's ``GET /api/events``: when each call's offer arrived."""

    def __init__(self, port: int, token: str, source: str, offers: dict | None) -> None:
        super().__init__(daemon=True)
        self.offers = offers  # call id -> [arrival times] (shared), or None: just hold it open
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120,
                                                     source_address=(source, 0))  # fmt: skip
        self.connection.request("GET", "/api/events", headers={"Authorization": f"Bearer {token}"})
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.status
        self.first = threading.Event()  # the stream's opening lines are in
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            while line := self.response.readline():
                self.first.set()
                if self.offers is None or not line.startswith(b"data: "):
                    continue
                arrived = time.perf_counter()
                data = json.loads(line[6:])
                if data["state"] == "offered":
                    self.offers.setdefault(data["id"], []).append(arrived)
        except (OSError, ValueError, AttributeError):
            pass

    def close(self) -> None:
        # shut the socket first: a reader blocked in readline() holds the response's lock,
        # and close() alone would wait for the stream's next line
        if self.connection.sock is not None:
            with contextlib.suppress(OSError):
                self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def _post(port: int, token: str, path: str, body: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=json.dumps(body),
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json"})  # fmt: skip
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        connection.close()


def _calls(port, pid, pages, phones, dispatch, places, night, args, rng) -> None:
    offers: dict[str, list[float]] = {}
    streams = [_Stream(port, t, f"127.0.2.{2 + k // 10}", offers) for k, (t, _team) in
               enumerate(pages)]  # fmt: skip
    for stream in streams:
        stream.start()
    for stream in streams:
        stream.first.wait(10)
    halt = threading.Event()
    stored = [0, 0]  # stored, refused or failed

    def phone(token: str, route: dict) -> None:
        stops = route["stops"][1:-1]
        k = 0
        while not halt.is_set():
            stop = stops[k % len(stops)]
            k += 1
            tapped = dt.datetime.fromisoformat(route["shift_start"]) + dt.timedelta(minutes=k)
            body = {"client_id": f"bench-{k}", "team": route["team"], "night": night,
                    "status": "arrived", "stop_id": stop["stop_id"],
                    "tapped_at": tapped.isoformat(), "lat": stop["lat"],
                    "lon": stop["lon"]}  # fmt: skip
            try:
                status, _ = _post(port, token, "/api/checkins", body)
                stored[0 if status in (200, 201) else 1] += 1
            except (OSError, http.client.HTTPException):
                stored[1] += 1
            halt.wait(3.0)

    workers = [threading.Thread(target=phone, args=p, daemon=True) for p in phones]
    for worker in workers:
        worker.start()
    asked: dict[str, float] = {}
    every = 60.0 / args.calls_per_min
    deadline = time.monotonic() + args.minutes * 60
    refused = 0
    while time.monotonic() < deadline:
        lat, lon = rng.choice(places)
        started = time.perf_counter()
        status, call = _post(port, dispatch, "/api/scene-requests",
                             {"near": f"{lat},{lon}", "asked_by": "benchmark"})  # fmt: skip
        if status != 201:
            refused += 1
        else:
            asked[call["id"]] = started
            time.sleep(1.0)  # the offer is out: cancel, so the teams stay free
            _post(port, dispatch, f"/api/scene-requests/{call['id']}/cancel", {})
        time.sleep(max(0.0, every - (time.perf_counter() - started)))
    halt.set()
    for worker in workers:
        worker.join(10)
    delays = sorted(arrived - asked[call] for call, times in offers.items() if call in asked
                    for arrived in times)  # fmt: skip
    reached = sum(1 for call in asked if call in offers)
    print(f"1. {len(streams)} team pages streaming, {len(phones)} phones posting every 3 s, "
          f"dispatch {args.calls_per_min:g} calls a minute for {args.minutes:g} min:")  # fmt: skip
    print(f"   {len(asked)} calls made ({refused} refused); {reached} reached a team's stream; "
          f"{len(delays)} offers received on the teams' streams")  # fmt: skip
    if delays:
        p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))]
        print(
            f"   POST to offer on the stream: p50 {statistics.median(delays) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms (target p95 < 500 ms)"
        )
    print(f"   check-ins: {stored[0]} stored, {stored[1]} refused or failed")
    for stream in streams:
        stream.close()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _memory(port: int, pid: int, viewers: list[str], count: int) -> None:
    time.sleep(2)
    before = _rss_kb(pid)
    streams = []
    for k in range(count):
        stream = _Stream(port, viewers[k // 10], f"127.0.3.{2 + k // 40}", None)
        stream.start()
        streams.append(stream)
    for stream in streams:
        stream.first.wait(10)
    time.sleep(2)
    after = _rss_kb(pid)
    per = (after - before) / count
    print(f"2. {count} more streams held open: server RSS {before / 1024:.1f} MB before, "
          f"{after / 1024:.1f} MB after: {per:.0f} KB a stream (target < 1 MB)")  # fmt: skip
    for stream in streams:
        stream.close()


if __name__ == "__main__":
    main()
