from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from outreach_routes import InputDataError, solve_orienteering


def euclid(xy: np.ndarray) -> np.ndarray:
    return np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])


def route_cost(route, travel, service, start=0, end=0):
    seq = [start, *route, end]
    return sum(travel[a, b] for a, b in itertools.pairwise(seq)) + service[route].sum()


def best_single_route(travel, prize, service, budget):
    """Exact optimum of one route from and to point 0 (Held-Karp over every subset)."""
    points = list(range(1, len(prize)))
    n = len(points)
    cost = np.full((1 << n, n), np.inf)
    for i, p in enumerate(points):
        cost[1 << i, i] = travel[0, p] + service[p]
    for mask in range(1, 1 << n):
        for last in range(n):
            if not np.isfinite(cost[mask, last]):
                continue
            for nxt in range(n):
                if mask & (1 << nxt):
                    continue
                new = cost[mask, last] + travel[points[last], points[nxt]] + service[points[nxt]]
                if new < cost[mask | (1 << nxt), nxt]:
                    cost[mask | (1 << nxt), nxt] = new
    best = 0.0
    for mask in range(1, 1 << n):
        closing = min(cost[mask, i] + travel[points[i], 0] for i in range(n))
        if closing <= budget + 1e-9:
            best = max(best, sum(prize[points[i]] for i in range(n) if mask & (1 << i)))
    return best


def instance(seed: int, n: int = 10):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, size=(n, 2))
    prize = np.concatenate([[0.0], rng.integers(1, 10, size=n - 1).astype(float)])
    service = np.concatenate([[0.0], np.full(n - 1, 5.0)])
    return euclid(xy), prize, service


@pytest.mark.parametrize("seed", range(12))
def test_finds_the_optimum_of_small_instances(seed):
    travel, prize, service, budget = *instance(seed), 220.0
    (route,) = solve_orienteering(travel, prize, service, budget=budget, iterations=200, seed=1)
    assert route_cost(route, travel, service) <= budget + 1e-9
    assert len(set(route)) == len(route) and 0 not in route
    assert prize[route].sum() == pytest.approx(best_single_route(travel, prize, service, budget))


def test_same_seed_same_routes_and_budget_holds_for_every_route():
    travel, prize, service = instance(42, n=40)
    kwargs = {"budget": 150.0, "n_routes": 3, "iterations": 150, "seed": 7}
    first = solve_orienteering(travel, prize, service, **kwargs)
    assert first == solve_orienteering(travel, prize, service, **kwargs)
    visited = [p for r in first for p in r]
    assert len(visited) == len(set(visited))
    for route in first:
        assert route_cost(route, travel, service) <= 150.0 + 1e-9


def test_search_beats_its_own_greedy_start():
    travel, prize, service = instance(3, n=60)
    (greedy,) = solve_orienteering(travel, prize, service, budget=200.0, iterations=0)
    (searched,) = solve_orienteering(travel, prize, service, budget=200.0, iterations=300)
    assert prize[searched].sum() > prize[greedy].sum()


def test_mandatory_stops_are_kept():
    travel, prize, service = instance(5, n=30)
    low = int(np.argmin(np.where(prize > 0, prize, np.inf)))
    (route,) = solve_orienteering(
        travel, prize, service, budget=150.0, iterations=100, mandatory=[low]
    )
    assert low in route


def test_mandatory_stop_out_of_reach_is_an_input_error():
    travel, prize, service = instance(5, n=10)
    with pytest.raises(InputDataError, match="mandatory stop 3 does not fit"):
        solve_orienteering(travel, prize, service, budget=1.0, mandatory=[3])


def test_a_night_never_repeats_an_earlier_nights_walk():
    from outreach_routes._teamweek import _unlike

    xy = np.array([[0, 0], [1, 0], [2, 1], [1, 2], [0, 1]], dtype=float)
    travel, service = euclid(xy), np.zeros(5)
    loop = [1, 2, 3, 4]
    budget = route_cost(loop, travel, service) + 2.5
    assert _unlike(loop, set(), travel, service, budget) == loop
    seen = {tuple(loop), tuple(loop[::-1])}
    other = _unlike(loop, seen, travel, service, budget)
    assert tuple(other) not in seen and sorted(other) == loop
    assert route_cost(other, travel, service) <= budget
    # With no slack at all, nothing else fits: the walk stays as it was.
    assert _unlike(loop, seen, travel, service, route_cost(loop, travel, service)) == loop


def _week(travel, prize, *, dwell=15.0, config=None):
    """A team's week as ``_night_order`` sees it (point 0 the base, no hour risks), and its
    settings."""
    from outreach_routes._teamweek import TeamWeek
    from outreach_routes.config import RoutingConfig
    from outreach_routes.routing import night_knobs

    n = len(prize)
    knobs = night_knobs(config or RoutingConfig())
    week = TeamWeek(
        travel=travel,
        service=np.concatenate([[0.0], np.full(n - 1, dwell)]),
        prize=prize,
        core=np.zeros(n, bool),
        grown_prize=prize,
        grown_core=np.zeros(n, bool),
        hourly=None,
        first_response=n,
        nights=(),
        knobs=knobs,
    )
    return week, knobs


def _first(seed=0, shift_min=300.0):
    """The first night of the week: a shift at 18:00 of ``shift_min`` minutes."""
    from outreach_routes._teamweek import Night

    return Night(index=0, start_min=18 * 60, shift_minutes=shift_min, seed=seed)


def test_two_loops_walk_rich_corners_again_hours_later_within_the_shift():
    from outreach_routes._teamweek import _arrivals, _night_order
    from outreach_routes.config import RoutingConfig

    config = RoutingConfig(iterations=30)
    twice = 0
    for seed in range(8):
        # The base, a rich corner 10 minutes out, and eight poorer corners around them.
        rng = np.random.default_rng(seed)
        xy = np.vstack([[0, 0], [10, 0], rng.uniform(-40, 40, size=(8, 2))])
        travel = euclid(xy)
        prize = np.concatenate([[0.0, 100.0], np.full(8, 10.0)])
        problem, knobs = _week(travel, prize, config=config)
        order = _night_order(problem, prize, prize, [], [1], _first(seed), knobs)
        assert order.count(0) == 1  # back at base once, between the two loops
        times, minutes = _arrivals(order, travel, problem.service)
        assert minutes <= 300 + 1e-9
        first: dict[int, float] = {}
        for point, at in zip(order, times, strict=True):
            if point in first:
                assert point and at - first[point] >= config.revisit_gap_min
                twice += 1
            first[point] = at
        assert max(order.count(p) for p in set(order) - {0}) <= 2
        # One loop: one tour, each corner once, as the solver gives it.
        single = replace(knobs, loops=1)
        alone = _night_order(problem, prize, prize, [], [1], _first(seed), single)
        assert (
            alone
            == solve_orienteering(
                travel, prize, problem.service, budget=300, iterations=30, seed=seed, mandatory=[1]
            )[0]
        )
    assert twice  # the rich corner is walked in both loops on some of these nights


def test_a_corner_cannot_be_walked_again_within_the_gap():
    from outreach_routes._teamweek import _night_order

    # Everything within 5 minutes of the base: the first loop ends well within two hours of
    # its first visits, and a shift of 160 minutes leaves no later loop far enough apart.
    xy = np.array([[0, 0], [3, 0], [0, 3], [-3, 0], [0, -3]], dtype=float)
    travel = euclid(xy)
    prize = np.array([0.0, 100, 50, 50, 50])
    problem, knobs = _week(travel, prize)
    order = _night_order(problem, prize, prize, [], [1], _first(shift_min=160.0), knobs)
    stops = [p for p in order if p]
    assert len(stops) == len(set(stops)) == 4


def test_a_corner_another_team_walks_is_left_to_it_near_that_time():
    """A second team sharing corners: a corner the other team walks within ``revisit_gap_min``
    of when this loop would reach it is worth nothing, even a core one (not forced); one the
    other team walks hours away is still worth ``revisit_share`` of its prize."""
    from dataclasses import replace

    from outreach_routes._teamweek import _night_order

    # Two rich corners 10 minutes out, and poorer ones around: one loop of the whole shift.
    xy = np.array([[0, 0], [10, 0], [-10, 0], [0, 8], [0, -8], [6, 6]], dtype=float)
    travel = euclid(xy)
    prize = np.array([0.0, 100, 100, 20, 20, 20])
    problem, knobs = _week(travel, prize)
    knobs = replace(knobs, loops=1)
    alone = _night_order(problem, prize, prize, [], [1, 2], _first(shift_min=90.0), knobs)
    assert {1, 2} <= set(alone)
    # The other team is at corner 1 twenty minutes into this shift, at corner 2 four hours in.
    night = replace(_first(shift_min=90.0), claimed=((1, 20.0), (2, 240.0)))
    shared = _night_order(problem, prize, prize, [], [1, 2], night, knobs)
    assert 1 not in shared and 2 in shared
    assert set(shared) - set(alone)  # the time corner 1 took goes to a corner not walked alone
    # Both visits hours away: both rich corners are walked, as alone.
    later = replace(night, claimed=((1, 200.0), (2, 240.0)))
    assert {1, 2} <= set(_night_order(problem, prize, prize, [], [1, 2], later, knobs))


def test_teams_sharing_corners_are_planned_in_turn_and_never_meet_at_one():
    """Two teams on the same corners, shifts 18:00-23:00 and 21:00-02:00 on the same nights:
    planned alone the second walks the first's corners at the same hours; planned in turn
    (``plan_team_weeks``) it never reaches a corner within ``revisit_gap_min`` of the first's
    visit, and a team of its own is planned as alone. A week whose corners the other never
    walks is unchanged by ``claiming``."""
    from outreach_routes._teamweek import Night, _arrivals, claiming, plan_team_weeks

    rng = np.random.default_rng(3)
    xy = np.vstack([[0, 0], rng.uniform(-30, 30, size=(14, 2))])
    prize = np.concatenate([[0.0], rng.integers(10, 100, size=14).astype(float)])
    week, knobs = _week(euclid(xy), prize)
    week = replace(week, corner_ids=np.arange(100, 115))
    monday = 28_900_000.0  # minutes since the epoch of a Monday 18:00
    evening, late = (
        replace(
            week,
            nights=tuple(
                Night(index=k, start_min=start, shift_minutes=300.0, seed=k, epoch_min=epoch)
                for k, epoch in enumerate(monday + 1440 * d + offset for d in range(3))
            ),
        )
        for start, offset in ((18 * 60, 0.0), (21 * 60, 180.0))
    )

    def visits(first, second, first_nights, second_nights):
        close = 0
        nights = zip(first.nights, second.nights, first_nights, second_nights, strict=True)
        for a, b, na, nb in nights:
            ta, _ = _arrivals(na[0], first.travel, first.service)
            tb, _ = _arrivals(nb[0], second.travel, second.service)
            at = {}
            for p, t in zip(na[0], ta, strict=True):
                at.setdefault(p, []).append(a.epoch_min + t)
            close += sum(
                abs(b.epoch_min + t - u) < knobs.revisit_gap_min
                for p, t in zip(nb[0], tb, strict=True)
                if p
                for u in at.get(p, [])
            )
        return close

    first, second = plan_team_weeks([evening, late])
    apart = plan_team_weeks([evening]) + plan_team_weeks([late])
    assert [o for o, _ in first] == [o for o, _ in apart[0]]  # the first is planned as alone
    assert visits(evening, late, apart[0], apart[1]) > 0  # alone, they meet
    assert visits(evening, late, first, second) == 0
    elsewhere = (np.arange(500, 515), np.full(15, monday + 60))
    assert claiming(late, [elsewhere]) is late


def test_a_response_the_first_loop_cannot_hold_makes_the_night_one_loop():
    from outreach_routes._teamweek import _night_order

    # The response corner is 80 minutes out: 175 minutes there and back with the dwell, more
    # than half the shift, so two loops could not walk it; one loop can.
    xy = np.array([[0, 0], [80, 0], [5, 0], [0, 5], [-5, 0]], dtype=float)
    travel = euclid(xy)
    prize = np.array([0.0, 200, 50, 50, 50])
    problem, knobs = _week(travel, prize)
    order = _night_order(problem, prize, prize, [1], [2], _first(), knobs)
    assert 1 in order and 0 not in order


def test_walks_between_stops_take_risky_streets_and_count_the_metres_walked():
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    from outreach_routes.routing import path_nodes, walking_paths

    # Two ways from 0 to 3: through quiet corner 1 (200 m) or risky corner 2 (240 m).
    u = np.array([0, 1, 0, 2, 1, 3, 2, 3])
    v = np.array([1, 0, 2, 0, 3, 1, 3, 2])
    metres = np.array([100.0, 100, 120, 120, 100, 100, 120, 120])
    matrix = csr_array((metres, (u, v)), shape=(4, 4))
    risk = np.array([0.0, 0.0, 1.0, 0.0])
    for pull, via, walked in ((0.0, 1, 200.0), (0.1, 1, 200.0), (0.8, 2, 240.0)):
        got, pred = walking_paths(matrix, np.array([0]), risk, pull)
        assert path_nodes(pred, 0, 0, 3) == [0, via, 3], pull
        assert got[0, 3] == pytest.approx(walked)  # metres walked, not the discounted ones

    # On a random street grid: every path's metres are its streets' lengths, never shorter
    # than the shortest path, and never longer than it divided by 1 - pull.
    rng = np.random.default_rng(7)
    side = 12
    nodes = np.arange(side * side).reshape(side, side)
    pairs = [(nodes[i, j], nodes[i, j + 1]) for i in range(side) for j in range(side - 1)]
    pairs += [(nodes[i, j], nodes[i + 1, j]) for i in range(side - 1) for j in range(side)]
    a, b = np.array(pairs).T
    length = rng.uniform(50, 150, len(a))
    grid = csr_array(
        (np.concatenate([length, length]), (np.concatenate([a, b]), np.concatenate([b, a]))),
        shape=(side * side, side * side),
    )
    risk = rng.uniform(0, 1, side * side)
    sources = np.array([0, 17, 80, 143])
    shortest = dijkstra(grid, indices=sources)
    got, pred = walking_paths(grid, sources, risk, 0.8)
    assert not np.allclose(got, shortest)  # some walks do go round
    assert (got >= shortest - 1e-6).all() and (got <= shortest / 0.2 + 1e-6).all()
    for row, source in enumerate(sources):
        for target in (5, 60, 131):
            chain = path_nodes(pred, row, source, target)
            along = sum(grid[i, j] for i, j in itertools.pairwise(chain))
            assert got[row, target] == pytest.approx(along)


def test_corners_walked_past_are_the_riskiest_apart_from_the_stops_and_each_other():
    from types import SimpleNamespace

    from outreach_routes.routing import passing_corners

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 2000, (400, 2))
    risk = rng.uniform(0, 1, 400)
    risk[rng.choice(400, 100, replace=False)] = 0.0  # no risk near: never worth a walk past
    net = SimpleNamespace(xy=xy, corners=np.arange(0, 400, 2))  # only the even nodes are corners
    taken = [0, 5, 11]
    chosen = passing_corners(net, risk, taken, 12, 300.0)
    assert len(chosen) == 12
    assert (chosen % 2 == 0).all() and (risk[chosen] > 0).all()
    assert (np.diff(risk[chosen]) <= 0).all()  # riskiest first
    held = np.vstack([xy[taken], xy[chosen]])
    gaps = np.hypot(*(held[:, None, :] - held[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    assert gaps[len(taken) :].min() >= 300.0
    # None left out that was riskier than the last one chosen and as far from all of them.
    for node in np.arange(0, 400, 2):
        if node not in chosen and risk[node] > risk[chosen[-1]]:
            assert np.hypot(*(held - xy[node]).T).min() < 300.0
    assert len(passing_corners(net, risk, taken, 1000, 300.0)) < 200  # spacing bounds them
    assert not len(passing_corners(net, np.zeros(400), taken, 12, 300.0))


def test_walking_past_corners_never_leaves_a_night_fewer_stops_than_it_needs():
    from dataclasses import replace

    from outreach_routes._teamweek import plan_team_week
    from outreach_routes.config import RoutingConfig

    # Six stops scattered 30-50 minutes out; a chain of rich corners to walk past, 6 minutes
    # apart on the other side: passing them pays far more a minute than standing at a stop.
    rng = np.random.default_rng(11)
    angle = rng.uniform(0, np.pi, 6)
    stops = np.column_stack([np.cos(angle), np.sin(angle)]) * rng.uniform(30, 50, (6, 1))
    chain = np.column_stack([np.linspace(-20, 20, 10), np.full(10, -15.0)])
    xy = np.vstack([[0.0, 0.0], stops, chain])
    prize = np.concatenate([[0.0], np.full(6, 30.0), np.full(10, 60.0)])
    passing = np.arange(len(xy)) > 6
    for least, expect_at_least in ((0, 0), (4, 4)):
        week, _ = _week(euclid(xy), prize, config=RoutingConfig(iterations=40, loops=1))
        week = replace(
            week,
            service=np.where(passing, 0.0, week.service),
            passing=passing,
            nights=(_first(shift_min=240.0),),
            knobs=replace(week.knobs, min_stops=least),
        )
        ((order, _),) = plan_team_week(week)
        stops_walked = [p for p in order if p and not passing[p]]
        walked_past = [p for p in order if passing[p]]
        if least:  # with the floor: from stop to stop, as many as the shift holds
            assert len(stops_walked) >= expect_at_least and not walked_past
        else:  # without it, the corners crowd the stops out
            assert len(stops_walked) < 4 and len(walked_past) >= 5


def test_a_revised_night_counts_the_corners_its_route_walked_past_as_on_it():
    from types import SimpleNamespace

    from outreach_routes.routing import _Problem

    # Points: the base, two stops, then three corners to walk past (nodes 5, 6, 7).
    xy = np.array([[0, 0], [100, 0], [200, 0], [300, 0], [0, 100], [50, 0], [400, 400], [200, 0.4]])
    problem = SimpleNamespace(
        net=SimpleNamespace(xy=xy.astype(float)),
        passing=np.array([5, 6, 7]),
        first_corner=3,
    )
    # The old route walks base - stop 1 - stop 2 and back, past node 5's corner and within a
    # metre of node 7's; never near node 6's.
    route = SimpleNamespace(path=np.array([[0.0, 0], [50, 0], [100, 0], [200, 0], [0, 0]]))
    assert _Problem._walked_past(problem, route) == (3, 5)
    assert _Problem._walked_past(problem, None) == ()
    problem.passing = np.zeros(0, int)
    assert _Problem._walked_past(problem, route) == ()
