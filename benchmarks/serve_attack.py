"""The service under attack (issue 34): points 1, 2 and 4 replayed against a running server,
with dispatch asking `where` all along.

Usage::

    .venv/bin/python benchmarks/serve_attack.py [--runs-dir DIR] [--header-mb 150]
        [--idle 1050] [--flood-s 20]

Serves a runs folder (without ``--runs-dir``: the bundled Philadelphia week, planned first,
not timed) with ``outreach-routes serve`` on 127.0.0.1 and its default ``[service]`` settings,
its clock set to Wednesday 20:00 of the plan's week. Then, one after the other:

1. a ``--header-mb`` MB ``Authorization`` header with no login: what the server answered,
   after how long, and how much it read;
2. ``--idle`` idle sockets from one address (the per-address cap), then as many spread over
   addresses of 127.0.0.0/8 (50 each) and 50 half-sent requests: how many the server held,
   and how long until it had closed them all;
3. one team account posting check-ins as fast as four threads can for ``--flood-s`` seconds
   while another posts one every two seconds: how many were stored and refused (429).

For each, the `where` p95 meanwhile (one dispatch console asking in a loop from 127.0.0.1).
Targets: the header refused in under 0.1 s; `where` p95 under 100 ms with the idle sockets;
the flooding account limited, the other's check-ins all stored, `where` p95 under 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import add_user, served_week, wait_for_port

COMMAND = [sys.executable, "-m", "outreach_routes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, default=None)
    parser.add_argument("--header-mb", type=int, default=150)
    parser.add_argument("--idle", type=int, default=1050)
    parser.add_argument("--flood-s", type=float, default=20.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this script's sockets too
    folder = Path(tempfile.mkdtemp())
    runs, plan, night, tonight, now = served_week(args.runs_dir, folder)

    def token(name: str, *role: str) -> str:
        return add_user(runs, name, *role)

    flood_team, quiet_team = tonight[0], tonight[1]
    tokens = {
        "flood": token("flood", "--role", "team", "--team", flood_team["team"]),
        "quiet": token("quiet", "--role", "team", "--team", quiet_team["team"]),
        "dispatch": token("dispatch", "--role", "dispatch"),
        "coordinator": token("coordinator", "--role", "coordinator"),
    }
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*COMMAND, "serve", "--runs-dir", str(runs), "--port", str(port)],
        env={**os.environ, "OUTREACH_ROUTES_NOW": now},
    )
    try:
        wait_for_port(port)
        places = [(s["lat"], s["lon"]) for r in tonight for s in r["stops"][1:-1]]
        where = _Where(port, tokens["dispatch"], places)
        where.start()
        try:
            _header(port, args.header_mb, where)
            _idle(port, args.idle, where)
            _flood(port, tokens, flood_team, quiet_team, night, now, args.flood_s, where)
        finally:
            where.stop()
    finally:
        server.terminate()
        server.wait(10)


class _Where(threading.Thread):
    """Dispatch asking `where` in a loop on one kept-alive connection; latencies by phase."""

    def __init__(self, port: int, token: str, places: list[tuple[float, float]]) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.places = port, token, places
        self.latencies: list[float] = []
        self.failed = 0
        self.halt = threading.Event()

    def run(self) -> None:
        connection = None
        k = 0
        while not self.halt.is_set():
            lat, lon = self.places[k % len(self.places)]
            k += 1
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                connection.request("GET", f"/api/where?near={lat},{lon}",
                                   headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
                answer = connection.getresponse()
                answer.read()
                ok = answer.status == 200
            except (OSError, http.client.HTTPException):
                connection, ok = None, False
            if ok:
                self.latencies.append(time.perf_counter() - started)
            else:
                self.failed += 1
                time.sleep(0.05)

    def phase(self) -> None:
        """Start a phase: forget the latencies and failures so far."""
        self.latencies, self.failed = [], 0

    def report(self) -> str:
        lat = sorted(self.latencies)
        if len(lat) < 20:
            return f"where: {len(lat)} answers, {self.failed} failed"
        q = statistics.quantiles(lat, n=100)
        return (
            f"where meanwhile: {len(lat)} answers, {self.failed} failed, p50 {q[49] * 1000:.0f} "
            f"ms, p95 {q[94] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
        )

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


def _header(port: int, megabytes: int, where: _Where) -> None:
    """Point 1: a huge Authorization header, no login."""
    where.phase()
    time.sleep(2)  # where's pace before the attack, in the same phase
    chunk = b"a" * (1 << 20)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        started = time.perf_counter()
        try:
            sock.sendall(b"GET /api/where HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
            for _ in range(megabytes):
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = sock.recv(200)
        except (ConnectionResetError, TimeoutError):
            answer = b""
        seconds = time.perf_counter() - started
    status = answer.split(b"\r\n")[0].decode() or "(closed without an answer)"
    time.sleep(2)
    print(f"1. a {megabytes} MB header: {status} after {seconds:.3f} s, {sent / 1e6:.1f} MB "
          f"taken by the socket before the server closed it; {where.report()}")  # fmt: skip


def _idle(port: int, count: int, where: _Where) -> None:
    """Point 2: idle sockets from one address, then from many; half-sent requests."""
    held = [_open(port, "127.0.0.2") for _ in range(count)]
    time.sleep(1)
    open_ = sum(_alive(s) for s in held)
    for s in held:
        s.close()
    print(f"2a. {count} idle sockets from one address: {open_} held, {count - open_} refused "
          "(connections_per_address)")  # fmt: skip
    time.sleep(1)
    where.phase()
    held = [_open(port, f"127.0.1.{1 + k // 50}") for k in range(count)]
    half = [_open(port, f"127.0.2.{1 + k // 50}") for k in range(50)]
    for s in half:
        s.sendall(b"POST /api/checkins HTTP/1.1\r\nHost: x\r\nContent-Le")
    started = time.perf_counter()
    time.sleep(1)
    open_ = sum(_alive(s) for s in held + half)
    time.sleep(9)
    report = where.report()
    closed_at = None
    while time.perf_counter() - started < 120:
        if not any(_alive(s) for s in held + half):
            closed_at = time.perf_counter() - started
            break
        time.sleep(0.5)
    for s in held + half:
        s.close()
    closed = f"all closed by the server {closed_at:.0f} s after" if closed_at else "still open"
    print(f"2b. {count} idle sockets from {-(-count // 50)} addresses and 50 half-sent "
          f"requests: {open_} held at first, {closed}; {report}")  # fmt: skip


def _open(port: int, source: str) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def _alive(sock: socket.socket) -> bool:
    """Whether the server still holds this connection open (nothing to read, no close)."""
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False  # the server answered (a refusal) or closed it


def _flood(port: int, tokens: dict, flood: dict, quiet: dict, night: str, now: str,
           seconds: float, where: _Where) -> None:  # fmt: skip
    """Point 4: one account posting as fast as it can, another at a phone's pace."""
    tapped = now[:11] + "19:55:00" + now[19:]
    counts = {"flood": [0, 0, 0], "quiet": [0, 0, 0]}  # sent, stored, refused 429
    lock = threading.Lock()
    halt = threading.Event()

    def post(who: str, team: dict, n: int, pause: float) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        k = 0
        while not halt.is_set():
            body = {"client_id": f"{who}-{n}-{k}", "team": team["team"], "night": night,
                    "status": "left", "stop_id": team["stops"][1]["stop_id"],
                    "tapped_at": tapped}  # fmt: skip
            k += 1
            headers = {"Authorization": f"Bearer {tokens[who]}",
                       "Content-Type": "application/json"}  # fmt: skip
            connection.request("POST", "/api/checkins", json.dumps(body).encode(), headers)
            answer = connection.getresponse()
            answer.read()
            with lock:
                counts[who][0] += 1
                counts[who][1] += answer.status == 201
                counts[who][2] += answer.status == 429
            time.sleep(pause)

    where.phase()
    with ThreadPoolExecutor(5) as pool:
        jobs = [pool.submit(post, "flood", flood, n, 0.0) for n in range(4)]
        jobs.append(pool.submit(post, "quiet", quiet, 0, 2.0))
        time.sleep(seconds)
        halt.set()
        for job in jobs:
            job.result()
    f, q = counts["flood"], counts["quiet"]
    print(f"3. one account flooding for {seconds:.0f} s: {f[0]} sent ({f[0] / seconds:.0f} a "
          f"second), {f[1]} stored, {f[2]} refused 429; another account at a phone's pace: "
          f"{q[1]} of {q[0]} stored; {where.report()}")  # fmt: skip
    print(f"   {_board(port, tokens['coordinator'])}")


def _board(port: int, token: str) -> str:
    """How long the coordinators' board takes afterwards (median of 20)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(20):
        started = time.perf_counter()
        connection.request("GET", "/api/board", headers={"Authorization": f"Bearer {token}"})
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200, answer.status
        times.append(time.perf_counter() - started)
    return f"/api/board afterwards: median {statistics.median(times) * 1000:.0f} ms"


if __name__ == "__main__":
    main()
