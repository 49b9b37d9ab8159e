"""How fast `where` answers: 100 random queries over a plan's week, loading included.

Usage::

    .venv/bin/python benchmarks/where_queries.py [--plan DIR] [--queries 100] [--seed 0]

Without ``--plan`` it first plans the bundled Philadelphia week into a temporary folder (not
timed). Then it times loading the plan folder and answering the queries: times drawn uniformly
over the plan's shifts, places uniformly over the bounding box of the teams' territories. The
target (issue 7): 100 queries in under 10 s on a 2-core, 24 GB machine, loading included.

It then times the walk the service draws for a call (``walking_path``, issue 35): from the
nearest team on shift of each query to its place, median and 95th percentile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from outreach_routes import plan_week, write_plan
from outreach_routes.schedule import load_schedule, nearest_teams, walking_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, default=None)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = args.plan
    if folder is None:
        folder = Path(tempfile.mkdtemp()) / "out"
        write_plan(plan_week(None), folder)

    document = json.loads((folder / "plan.json").read_text("utf-8"))
    rng = np.random.default_rng(args.seed)
    shifts = sorted({(r["shift_start"], r["shift_end"]) for r in document["teams"]})
    corners = np.array(
        [c for f in document["territories"]["features"] for c in _coords(f["geometry"])]
    )
    (west, south), (east, north) = corners.min(axis=0), corners.max(axis=0)
    queries = []
    for _ in range(args.queries):
        start, end = (dt.datetime.fromisoformat(t) for t in shifts[rng.integers(len(shifts))])
        when = start + (end - start) * float(rng.random())
        queries.append((when, (rng.uniform(south, north), rng.uniform(west, east))))

    started = time.perf_counter()
    schedule = load_schedule(folder)
    loaded = time.perf_counter()
    on_shift = 0
    walks = []  # (from, to) of each query's nearest team on shift
    for when, near in queries:
        rows = nearest_teams(schedule, when, near)
        on_shift += sum(r["on_shift"] for r in rows)
        if rows[0]["on_shift"]:
            walks.append(((rows[0]["position"][1], rows[0]["position"][0]), near))
    total = time.perf_counter() - started
    teams = len({r["team"] for r in document["teams"]})
    per_query = (total - (loaded - started)) / len(queries) * 1000
    print(f"load {loaded - started:.2f} s; {per_query:.1f} ms per query ({teams} teams; ", end="")
    print(f"{on_shift} on-shift answers in all)")
    print(f"{len(queries)} queries in {total:.2f} s, loading included ({folder})")
    times = []
    for start, end in walks:
        began = time.perf_counter()
        walking_path(schedule, start, end)
        times.append((time.perf_counter() - began) * 1000)
    if times:
        p50, p95 = np.percentile(times, [50, 95])
        print(f"walk to the scene: {len(times)} paths, median {p50:.1f} ms, p95 {p95:.1f} ms")


def _coords(geometry: dict) -> list:
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    return [c for polygon in polygons for ring in polygon for c in ring]


if __name__ == "__main__":
    main()
