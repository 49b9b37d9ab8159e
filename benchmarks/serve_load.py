"""The service under load (issue 17): check-ins from 20 phones while dispatch asks `where`.

Usage::

    .venv/bin/python benchmarks/serve_load.py [--runs-dir DIR] [--clients 20] [--each 50]

Serves a runs folder (without ``--runs-dir``: the bundled Philadelphia week, planned first,
not timed) with ``outreach-routes serve`` on 127.0.0.1, its clock set to Wednesday 20:00 of the
plan's week. ``--clients`` threads post ``--each`` check-ins each while 5 others ask
``/api/where`` in a loop. Prints check-ins stored (and twice: must be 0), their rate, and the
`where` latency percentiles; the last line holds `where` p95 (target: under 100 ms on a 2-core
machine).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

COMMAND = [sys.executable, "-m", "outreach_routes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, default=None)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--each", type=int, default=50)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    runs, plan, night, tonight, now = served_week(args.runs_dir, folder)
    route = tonight[0]

    def token(name: str, *role: str) -> str:
        return add_user(runs, name, *role)

    team = token("phone", "--role", "team", "--team", route["team"])
    dispatch = token("dispatch", "--role", "dispatch")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the server's throughput, not the per-account limits (benchmarks/serve_attack.py): one
    # phone account posts every check-in here
    config = folder / "service.toml"
    config.write_text(
        "[service]\ncheckins_per_minute = 1000000\ncheckins_burst = 1000000\n"
        "checkins_per_day = 1000000\n",
        "utf-8",
    )
    server = subprocess.Popen(
        [*COMMAND, "serve", "--runs-dir", str(runs), "--port", str(port), "--config", str(config)],
        env={**os.environ, "OUTREACH_ROUTES_NOW": now},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port)
        stops = route["stops"][1:-1]
        # dispatch asks about many places: every stop of the night in turn, as scenes
        places = [(s["lat"], s["lon"]) for r in plan["teams"] if r["night"] == night
                  for s in r["stops"][1:-1]]  # fmt: skip
        asked = itertools.count()

        local = threading.local()

        def call(path: str, tok: str, body: dict | None = None) -> int:
            """One request on this thread's kept-alive connection, as a phone or a dispatch
            console keeps one."""
            if not hasattr(local, "connection"):
                local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            data = json.dumps(body).encode() if body is not None else None
            local.connection.request("POST" if data else "GET", path, body=data, headers={
                "Authorization": f"Bearer {tok}", "Content-Type": "application/json"})  # fmt: skip
            answer = local.connection.getresponse()
            answer.read()
            assert answer.status < 300, (answer.status, path)
            return answer.status

        def post(client: int) -> None:
            for k in range(args.each):
                call("/api/checkins", team, {
                    "client_id": f"bench-{client}-{k}", "team": route["team"], "night": night,
                    "status": "left", "stop_id": stops[k % len(stops)]["stop_id"],
                    "tapped_at": now[:11] + "19:55:00" + now[19:]})  # fmt: skip

        done = threading.Event()
        latencies: list[float] = []

        def ask(_n: int) -> None:
            while not done.is_set():
                started = time.perf_counter()
                lat, lon = places[next(asked) % len(places)]
                call(f"/api/where?near={lat},{lon}", dispatch)
                latencies.append(time.perf_counter() - started)

        cpu = _cpu_seconds(server.pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients + 5) as pool:
            askers = [pool.submit(ask, n) for n in range(5)]
            for f in [pool.submit(post, n) for n in range(args.clients)]:
                f.result()
            seconds = time.perf_counter() - started
            cpu = _cpu_seconds(server.pid) - cpu
            done.set()
            for f in askers:
                f.result()
        listing = urllib.request.Request(base + "/api/checkins?limit=5000&team=" + route[
            "team"].replace(" ", "+"), headers={"Authorization": f"Bearer {team}"})  # fmt: skip
        with urllib.request.urlopen(listing, timeout=30) as answer:
            ids = [r["client_id"] for r in json.loads(answer.read())]
        total = args.clients * args.each
        quantiles = statistics.quantiles(sorted(latencies), n=100)
        twice = len(ids) - len(set(ids))
        print(
            f"check-ins: {len(set(ids))} of {total} stored, {twice} twice; {total / seconds:.0f} "
            f"a second over {seconds:.1f} s; server CPU {cpu:.1f} s"
        )
        print(
            f"where: {len(latencies)} answers, p50 {quantiles[49] * 1000:.0f} ms, "
            f"p95 {quantiles[94] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
    finally:
        server.terminate()
        server.wait(10)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def served_week(runs_dir: Path | None, folder: Path) -> tuple[Path, dict, str, list[dict], str]:
    """A runs folder to serve (``runs_dir`` copied, or the bundled week planned) in ``folder``,
    its plan, the third night of the week, that night's routes and 20:00 that night (the
    server's clock): ``runs, plan, night, tonight, now``."""
    runs = folder / "runs"
    if runs_dir is None:
        subprocess.run([*COMMAND, "plan", "--runs-dir", str(runs), "--quiet"], check=True)
    else:
        shutil.copytree(runs_dir, runs, symlinks=True)
    plan = json.loads((runs / "latest" / "plan.json").read_text("utf-8"))
    night = sorted({r["night"] for r in plan["teams"]})[2]
    tonight = [r for r in plan["teams"] if r["night"] == night]
    now = tonight[0]["shift_start"][:11] + "20:00:00" + tonight[0]["shift_start"][19:]
    return runs, plan, night, tonight, now


def add_user(runs: Path, name: str, *role: str) -> str:
    """``outreach-routes users add NAME ROLE...`` on ``runs``; the account's token."""
    out = subprocess.run([*COMMAND, "users", "add", name, *role, "--runs-dir", str(runs)],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return out.strip().splitlines()[-1]


def wait_for_port(port: int) -> None:
    """Return once something listens on 127.0.0.1:``port``; exit after 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the service did not start")


if __name__ == "__main__":
    main()
