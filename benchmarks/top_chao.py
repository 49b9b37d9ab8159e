"""The team orienteering solver on the Chao, Golden & Wasil (1996) benchmark, against OR-Tools.

Usage::

    .venv/bin/python benchmarks/top_chao.py ../shared/benchmarks/top/chao \\
        --best-known ../shared/benchmarks/top/best_known.csv --time-limit 2 [--vs-ortools] \\
        [--json out.json] [--only p2.]
    .venv/bin/python benchmarks/top_chao.py --generated 10 --time-limit 2 --vs-ortools

``--generated N`` solves N seeded 100-point instances from :func:`generated_instance` instead
(no best-known scores: each row gives both solvers' scores, and the last line how often the
project's solver scored at least as much as OR-Tools).

Solves every ``p*.txt`` instance under the folder, ``--time-limit`` seconds each, and prints one
row per instance (score, best known, gap %, seconds, and OR-Tools' score with ``--vs-ortools``).
The last line: ``mean gap X.XX% over N instances, mean time T.TT s`` (``| OR-Tools mean gap
Y.YY%``). Gap = (best - score) / best, averaged over instances whose best-known score is above 0.
Every route is checked: within ``tmax`` (1e-6), right start and end, no point twice.

OR-Tools (``pip install ortools``) runs its routing solver with optional visits: each point is a
disjunction whose penalty is its score times the distance scale (about one distance unit per
score point), guided local search, the same time limit, and a callback that keeps the
highest-score solution seen.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from outreach_routes import solve_orienteering


def read_instance(path: Path) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Travel matrix, scores, number of routes and budget of a Chao instance."""
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    n, m, tmax = int(lines[0][1]), int(lines[1][1]), float(lines[2][1])
    data = np.array([[float(v) for v in ln] for ln in lines[3 : 3 + n]])
    xy, score = data[:, :2], data[:, 2]
    travel = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    return travel, score, m, tmax


def generated_instance(seed: int) -> tuple[np.ndarray, np.ndarray, int, float]:
    """A seeded 100-point instance in the Chao format's terms: points uniform in a 100 x 100
    square, the start at one corner's side and the end at the opposite one, integer scores
    1-20, 2 to 4 routes and a length limit that reaches about a third to half of the points."""
    rng = np.random.default_rng(20_000 + seed)
    xy = rng.uniform(0, 100, size=(100, 2))
    xy[0], xy[-1] = (5.0, 5.0), (95.0, 95.0)
    score = np.concatenate([[0.0], rng.integers(1, 21, size=98).astype(float), [0.0]])
    travel = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    m = 2 + seed % 3
    tmax = [150.0, 175.0, 200.0, 225.0][seed % 4]
    return travel, score, m, tmax


def solve_instance(travel, score, m, tmax, **stop) -> list[list[int]]:
    """The project's solver on a Chao instance: ``m`` routes from the first point to the last;
    ``stop`` is ``iterations=...`` and/or ``time_limit=...`` (and ``seed``)."""
    n = len(score)
    return solve_orienteering(
        travel, score, np.zeros(n), budget=tmax, n_routes=m, start=0, end=n - 1, **stop
    )


def check_routes(routes, travel, score, tmax) -> float:
    """Score of a solution, after checking every rule; raises on a broken one."""
    n = len(score)
    seen: set[int] = set()
    for route in routes:
        if not route:  # an unused team stays home
            continue
        seq = [0, *route, n - 1]
        length = sum(travel[a, b] for a, b in zip(seq, seq[1:], strict=False))
        assert length <= tmax + 1e-6, f"route length {length} > tmax {tmax}"
        assert not set(route) & {0, n - 1}, "start or end inside a route"
        assert not set(route) & seen and len(set(route)) == len(route), "a point visited twice"
        seen |= set(route)
    return float(score[sorted(seen)].sum())


def solve_ortools(travel, score, m, tmax, time_limit: float) -> list[list[int]]:
    """OR-Tools routing with optional visits; the best-score solution seen within the limit."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(score)
    scale = 1000
    arcs = np.ceil(travel * scale).astype(np.int64)  # rounded up: feasible in exact lengths
    manager = pywrapcp.RoutingIndexManager(n, m, [0] * m, [n - 1] * m)
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        return int(arcs[manager.IndexToNode(i), manager.IndexToNode(j)])

    transit = routing.RegisterTransitCallback(distance)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    routing.AddDimension(transit, 0, int(np.floor(tmax * scale)), True, "length")
    for node in range(1, n - 1):
        routing.AddDisjunction([manager.NodeToIndex(node)], int(score[node] * scale))
    best: dict[str, object] = {"score": -1.0, "routes": [[] for _ in range(m)]}

    def keep_best() -> None:
        routes = []
        for vehicle in range(m):
            index, route = routing.Start(vehicle), []
            while not routing.IsEnd(index):
                node = manager.IndexToNode(index)
                if node not in (0, n - 1):
                    route.append(node)
                index = routing.NextVar(index).Value()
            routes.append(route)
        total = float(score[[p for r in routes for p in r]].sum())
        if total > best["score"]:
            best.update(score=total, routes=routes)

    routing.AddAtSolutionCallback(keep_best)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(time_limit * 1000))
    routing.SolveWithParameters(params)
    return best["routes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?")
    parser.add_argument("--generated", type=int, default=0, help="N seeded 100-point instances")
    parser.add_argument("--best-known", type=Path, default=None)
    parser.add_argument("--time-limit", type=float, default=2.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--vs-ortools", action="store_true")
    parser.add_argument("--only", default="", help="only instances whose name starts with this")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    best = {}
    if args.best_known:
        with open(args.best_known, newline="") as fh:
            best = {r["instance"]: float(r["best_known_score"]) for r in csv.DictReader(fh)}
    if args.generated:
        instances = [
            (f"gen-{k:02d}", lambda k=k: generated_instance(k)) for k in range(args.generated)
        ]
    else:
        if args.folder is None:
            parser.error("give the folder of Chao instances, or --generated N")
        paths = sorted(
            p for p in args.folder.rglob("p*.txt") if p.name.startswith(args.only or "p")
        )
        instances = [(p.stem, lambda p=p: read_instance(p)) for p in paths]
    results, gaps, ortools_gaps, seconds, at_least = {}, [], [], [], 0
    for name, make in instances:
        travel, score, m, tmax = make()
        n = len(score)
        started = time.perf_counter()
        routes = solve_instance(
            travel, score, m, tmax, iterations=None, time_limit=args.time_limit, seed=args.seed
        )
        elapsed = time.perf_counter() - started
        found = check_routes(routes, travel, score, tmax)
        known = best.get(name, float("nan"))
        gap = (known - found) / known * 100 if known > 0 else float("nan")
        row = f"{name:<12}{found:>8.0f}{known:>8.0f}{gap:>8.2f}%{elapsed:>7.2f}s"
        if known > 0:
            gaps.append(gap)
        seconds.append(elapsed)
        if args.vs_ortools:
            other = check_routes(
                solve_ortools(travel, score, m, tmax, args.time_limit), travel, score, tmax
            )
            other_gap = (known - other) / known * 100 if known > 0 else float("nan")
            if known > 0:
                ortools_gaps.append(other_gap)
            at_least += found >= other
            row += f"  OR-Tools{other:>8.0f}{other_gap:>8.2f}%"
        print(row, flush=True)
        results[name] = {
            "score": found,
            "seconds": round(elapsed, 3),
            "routes": [[0, *r, n - 1] for r in routes],
        }
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    last = (
        f"mean gap {np.mean(gaps):.2f}% over {len(gaps)} instances, "
        if gaps
        else f"{len(instances)} instances without best-known scores, "
    ) + f"mean time {np.mean(seconds):.2f} s"
    if args.vs_ortools:
        if ortools_gaps:
            last += f" | OR-Tools mean gap {np.mean(ortools_gaps):.2f}%"
        last += f" | at least OR-Tools' score on {at_least} of {len(instances)}"
    print(last)


if __name__ == "__main__":
    main()
