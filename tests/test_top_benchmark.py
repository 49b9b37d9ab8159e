"""The team orienteering solver on real Chao et al. (1996) instances, as the benchmark runs it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from top_chao import check_routes, read_instance, solve_instance

TOP = Path(__file__).parent / "data" / "top"
# Best-known scores (Kim, Li & Johnson 2013); p2.2.a is proven optimal.
BEST = {"p2.2.a": 90, "p1.4.p": 175}


@pytest.mark.parametrize("name", sorted(BEST))
def test_reaches_the_best_known_score(name):
    travel, score, m, tmax = read_instance(TOP / f"{name}.txt")
    routes = solve_instance(travel, score, m, tmax, iterations=1500, seed=0)
    assert len(routes) == m
    assert check_routes(routes, travel, score, tmax) == BEST[name]


def test_time_limit_stops_the_search_and_routes_stay_feasible():
    travel, score, m, tmax = read_instance(TOP / "p1.4.p.txt")
    started = time.perf_counter()
    routes = solve_instance(travel, score, m, tmax, iterations=None, time_limit=0.3, seed=3)
    assert time.perf_counter() - started < 1.0
    assert check_routes(routes, travel, score, tmax) > 0.9 * BEST["p1.4.p"]


def test_check_routes_catches_broken_solutions():
    travel, score, m, tmax = read_instance(TOP / "p2.2.a.txt")
    near = [int(i) for i in np.argsort(travel[0] + travel[:, -1])[:3] if 0 < i < len(score) - 1]
    with pytest.raises(AssertionError, match="visited twice"):
        check_routes([[near[0]], [near[0]]], travel, score, tmax)
    far = int(np.argmax(travel[0] + travel[:, -1]))
    with pytest.raises(AssertionError, match="> tmax"):
        check_routes([[far]], travel, score, tmax)
