"""The orienteering solver: iterated local search over one travel matrix, its hot loops compiled.

The search (which moves, in which order, with which random draws) is plain Python over lists of
points; the loops inside each move (2-opt and or-opt passes, the cost of every insertion, swap
and replacement) are compiled with Numba. Measured on the bundled weekly plan (``python -m
cProfile``), those loops were 9 of the routing stage's 12 seconds as numpy calls on arrays of a
few dozen points, where each call's overhead outweighs its arithmetic.

This module imports only numpy, Numba and the project's exception classes, so a worker process
that routes a team (:mod:`outreach_routes._teamweek`) starts without pandas or geopandas.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

import numpy as np
from numba import njit

from ._errors import InputDataError

__all__ = ["solve_orienteering"]

_EPS = 1e-9


def solve_orienteering(
    travel: np.ndarray,
    prize: np.ndarray,
    service: np.ndarray,
    *,
    budget: float,
    n_routes: int = 1,
    start: int = 0,
    end: int = 0,
    iterations: int | None = 400,
    time_limit: float | None = None,
    seed: int = 0,
    mandatory: Sequence[int] = (),
) -> list[list[int]]:
    """Team orienteering: up to ``n_routes`` routes from ``start`` to ``end`` maximising prize.

    Iterated local search: greedy insertion by prize per added minute, then repeatedly remove a
    random run of stops from one route, repair by randomised insertion, tighten each route with
    2-opt, and keep the best plan found. Stops after exactly ``iterations`` rounds, so the same
    inputs and seed give the same routes.

    Parameters
    ----------
    travel
        ``(n, n)`` travel cost between points (minutes, or any unit shared with ``budget``).
    prize
        Value of visiting each point once; points with no prize are never visited.
    service
        Time spent at each point when visited.
    budget
        Longest a route may take, travel and service together.
    n_routes, start, end
        Number of routes and their common start and end points.
    iterations, time_limit, seed
        The search stops after ``iterations`` rounds or ``time_limit`` seconds, whichever comes
        first (``None``: no such limit; give at least one). Only an iteration count makes the
        result depend on nothing but the inputs and ``seed``: the weekly plan uses one.
    mandatory
        Points that every solution must visit; they are never removed.

    Returns
    -------
    list of list of int
        Each route's points in visiting order, without ``start`` and ``end``.

    Raises
    ------
    InputDataError
        When the mandatory points cannot all fit within the budget.

    Examples
    --------
    >>> import numpy as np
    >>> xy = np.array([[0, 0], [1, 0], [2, 0], [9, 9]])
    >>> travel = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    >>> solve_orienteering(travel, np.array([0, 1, 1, 5]), np.zeros(4), budget=5)
    [[1, 2]]
    """
    deviation = 0.05
    solver = _Solver(travel, prize, service, budget, start, end, np.random.default_rng(seed))
    routes: list[list[int]] = [[] for _ in range(n_routes)]
    for point in mandatory:
        if not solver.insert_cheapest(routes, int(point)):
            raise InputDataError(
                f"mandatory stop {point} does not fit in any route within the budget {budget}"
            )
    solver.set_fixed(mandatory)
    solver.improve(routes, noise=0.0)
    best = [r[:] for r in routes]
    best_key = current_key = solver.key(best)
    current = [r[:] for r in best]
    stale = 0
    if iterations is None and time_limit is None:
        raise ValueError("give `iterations` or `time_limit` to stop the search")
    deadline = time.perf_counter() + time_limit if time_limit is not None else math.inf
    rounds = itertools.count() if iterations is None else range(iterations)
    for _ in rounds:
        if time.perf_counter() >= deadline:
            break
        candidate = [r[:] for r in current]
        solver.perturb(candidate)
        solver.improve(candidate, noise=0.6)
        key = solver.key(candidate)
        if key > best_key:
            best, best_key, stale = [r[:] for r in candidate], key, 0
        else:
            stale += 1
        # Record-to-record travel: accept anything within `deviation` of the best score, so the
        # search can cross valleys; go back to the best plan when it has wandered too long.
        if key >= current_key or key[0] >= best_key[0] * (1 - deviation):
            current, current_key = candidate, key
        if stale >= 100:  # stuck: go back to the best plan, or now and then start afresh
            stale = 0
            if solver.rng.random() < 0.5:
                current, current_key = [r[:] for r in best], best_key
            else:
                current = [[p for p in r if p in solver.fixed] for r in best]
                solver.improve(current, noise=0.6)
                current_key = solver.key(current)
    solver.insert_reordering(best)
    return best


class _Solver:
    """Moves of the iterated local search, over one travel matrix."""

    def __init__(self, travel, prize, service, budget, start, end, rng) -> None:
        self.travel = np.ascontiguousarray(travel, dtype=np.float64)
        self.prize = np.ascontiguousarray(prize, dtype=np.float64)
        self.service = np.ascontiguousarray(service, dtype=np.float64)
        self.budget = float(budget)
        self.start, self.end = int(start), int(end)
        self.rng = rng
        self.fixed: set[int] = set()
        self.is_fixed = np.zeros(len(self.prize), dtype=np.bool_)
        self.symmetric = bool(np.allclose(self.travel, self.travel.T))
        self.candidates = np.flatnonzero(self.prize > 0)
        self.candidates = self.candidates[(self.candidates != start) & (self.candidates != end)]
        # the same, worth most first (stable among equals), as insert_reordering tries them
        self.by_prize = self.candidates[np.argsort(-self.prize[self.candidates], kind="stable")]

    def set_fixed(self, points: Sequence[int]) -> None:
        self.fixed = set(map(int, points))
        self.is_fixed[list(self.fixed)] = True

    def seq(self, route: list[int]) -> np.ndarray:
        """The route with its start and end, as the compiled moves take it."""
        return np.array([self.start, *route, self.end], dtype=np.int64)

    def cost(self, route: list[int]) -> float:
        return _cost(self.travel, self.service, self.seq(route))

    def key(self, routes: list[list[int]]) -> tuple[float, float]:
        visited = [p for r in routes for p in r]
        total = sum(self.cost(r) for r in routes)
        return (round(float(self.prize[visited].sum()), 9), -round(total, 9))

    def insert_cheapest(self, routes: list[list[int]], point: int) -> bool:
        best = None
        for k, route in enumerate(routes):
            seq = self.seq(route)
            delta = (
                self.travel[seq[:-1], point]
                + self.travel[point, seq[1:]]
                - self.travel[seq[:-1], seq[1:]]
                + self.service[point]
            )
            pos = int(np.argmin(delta))
            if self.cost(route) + delta[pos] <= self.budget + _EPS and (
                best is None or delta[pos] < best[0]
            ):
                best = (delta[pos], k, pos)
        if best is None:
            return False
        routes[best[1]].insert(best[2], point)
        return True

    def pack(self, routes: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The routes as the compiled moves hold them: one row per route, its start, stops and
        end, in a table wide enough for every point; and each route's number of stops."""
        table = np.zeros((len(routes), len(self.prize) + 2), dtype=np.int64)
        lengths = np.zeros(len(routes), dtype=np.int64)
        for k, route in enumerate(routes):
            table[k, : len(route) + 2] = [self.start, *route, self.end]
            lengths[k] = len(route)
        return table, lengths

    def improve(self, routes: list[list[int]], *, noise: float) -> None:
        """2-opt each route, insert what fits, swap stops for better unvisited ones.

        With noise, half the time the repair starts from the stops worth most, reordering the
        route to fit them; otherwise from the best prize per added minute (:func:`_improve`).
        """
        table, lengths = self.pack(routes)
        _improve(
            self.travel, self.service, self.prize, self.is_fixed, self.candidates,
            self.by_prize, table, lengths, self.budget, self.symmetric, noise, self.rng,
        )  # fmt: skip
        for k, route in enumerate(routes):
            route[:] = table[k, 1 : lengths[k] + 1].tolist()

    def insert_reordering(self, routes: list[list[int]]) -> None:
        """Try the best unvisited stops where they only fit once the route is reordered."""
        table, lengths = self.pack(routes)
        visited = _visited(table, lengths, len(self.prize))
        _insert_reordering(
            self.travel, self.service, self.prize, self.by_prize, table, lengths, visited,
            self.budget, self.symmetric,
        )  # fmt: skip
        for k, route in enumerate(routes):
            route[:] = table[k, 1 : lengths[k] + 1].tolist()

    def perturb(self, routes: list[list[int]]) -> None:
        """Remove a random run, or random stops, of up to half of one route (not mandatory)."""
        filled = [k for k, r in enumerate(routes) if r]
        if not filled:
            return
        draw = self.rng.random()
        if len(filled) > 1 and draw < 0.2:  # rebuild one route from scratch, maybe elsewhere
            route = routes[filled[int(self.rng.integers(len(filled)))]]
            route[:] = [p for p in route if p in self.fixed]
            return
        if len(filled) > 1 and draw < 0.3:  # keep one end of each route, rebuild the rest
            for k in filled:
                route = routes[k]
                cut = int(self.rng.integers(0, len(route) + 1))
                keep = route[:cut] if self.rng.random() < 0.5 else route[cut:]
                route[:] = [p for p in route if p in keep or p in self.fixed]
            return
        if len(filled) > 1 and draw < 0.5:  # shake every route a little
            for k in filled:
                route = routes[k]
                size = int(self.rng.integers(1, max(2, len(route) // 2 + 1)))
                drop = set(self.rng.choice(len(route), size=size, replace=False).tolist())
                route[:] = [p for i, p in enumerate(route) if i not in drop or p in self.fixed]
            return
        route = routes[filled[int(self.rng.integers(len(filled)))]]
        count = int(self.rng.integers(1, max(2, len(route) // 2 + 1)))
        if self.rng.random() < 0.5:
            first = int(self.rng.integers(0, len(route) - count + 1))
            drop = set(range(first, first + count))
        else:
            drop = set(self.rng.choice(len(route), size=count, replace=False).tolist())
        route[:] = [p for i, p in enumerate(route) if i not in drop or p in self.fixed]


# --- compiled moves: ``seq`` is a route with its start and end, as int64 -----------------------


@njit(cache=True)
def _cost(t, service, seq):  # pragma: no cover (compiled)
    """Travel along ``seq`` plus the service at each point between its ends."""
    total = 0.0
    for k in range(len(seq) - 1):
        total += t[seq[k], seq[k + 1]]
    for k in range(1, len(seq) - 1):
        total += service[seq[k]]
    return total


@njit(cache=True)
def _tighten(t, seq, symmetric):  # pragma: no cover (compiled)
    """2-opt and or-opt passes on ``seq`` (in place, ends fixed), first improvement, until
    neither finds one."""
    while _two_opt_pass(t, seq, symmetric) or _or_opt_pass(t, seq):
        pass


@njit(cache=True)
def _two_opt_pass(t, seq, symmetric):  # pragma: no cover (compiled)
    n = len(seq)
    for i in range(1, n - 2):
        for j in range(i + 1, n - 1):
            old = t[seq[i - 1], seq[i]] + t[seq[j], seq[j + 1]]
            new = t[seq[i - 1], seq[j]] + t[seq[i], seq[j + 1]]
            if not symmetric:  # reversing the run changes its own length too
                for k in range(i, j):
                    old += t[seq[k], seq[k + 1]]
                    new += t[seq[k + 1], seq[k]]
            if new < old - 1e-9:
                seq[i : j + 1] = seq[i : j + 1][::-1].copy()
                return True
    return False


@njit(cache=True)
def _or_opt_pass(t, seq):  # pragma: no cover (compiled)
    """Move a run of one to three stops to the best other place in the route."""
    n = len(seq)
    for length in range(1, 4):
        for i in range(1, n - length):
            head, tail = seq[i], seq[i + length - 1]
            before, after = seq[i - 1], seq[i + length]
            saving = t[before, head] + t[tail, after] - t[before, after]
            # the route without the run: rest[r] is seq[r] before i and seq[r + length] after
            best_k, best_added = -1, np.inf
            for r in range(n - length - 1):
                if r == i - 1:  # its own place
                    continue
                a = seq[r] if r < i else seq[r + length]
                b = seq[r + 1] if r + 1 < i else seq[r + 1 + length]
                added = t[a, head] + t[tail, b] - t[a, b]
                if added < best_added:
                    best_k, best_added = r, added
            if best_k >= 0 and best_added < saving - 1e-9:
                run = seq[i : i + length].copy()
                rest = np.concatenate((seq[:i], seq[i + length :]))
                seq[: best_k + 1] = rest[: best_k + 1]
                seq[best_k + 1 : best_k + 1 + length] = run
                seq[best_k + 1 + length :] = rest[best_k + 1 :]
                return True
    return False


@njit(cache=True)
def _best_insertion(t, service, seq, cand, weight, cost, budget):  # pragma: no cover (compiled)
    """The insertion of a candidate into ``seq`` with the best weight per added minute that
    fits: (ratio, position, candidate index, added minutes); position -1 when none fits."""
    best_ratio, best_pos, best_j, best_added = -np.inf, -1, -1, 0.0
    for pos in range(len(seq) - 1):
        a, b = seq[pos], seq[pos + 1]
        for j in range(len(cand)):
            c = cand[j]
            delta = t[a, c] + t[c, b] - t[a, b] + service[c]
            if cost + delta <= budget + 1e-9:
                ratio = weight[j] / (delta + 1e-6)
                if best_pos < 0 or ratio > best_ratio:
                    best_ratio, best_pos, best_j, best_added = ratio, pos, j, delta
    return best_ratio, best_pos, best_j, best_added


@njit(cache=True)
def _best_swap(t, service, prize, fixed, seq, cand, budget):  # pragma: no cover (compiled)
    """The unvisited candidate worth most more than a visited stop it can replace in place:
    (gain, position in the route, point); position -1 when none can."""
    cost = _cost(t, service, seq)
    best_gain, best_pos, best_point = -np.inf, -1, -1
    for pos in range(len(seq) - 2):
        a, mid, b = seq[pos], seq[pos + 1], seq[pos + 2]
        if fixed[mid]:
            continue
        saving = t[a, mid] + t[mid, b] + service[mid]
        for c in cand:
            gain = prize[c] - prize[mid]
            if gain <= 1e-9:
                continue
            delta = t[a, c] + t[c, b] + service[c] - saving
            if cost + delta <= budget + 1e-9 and (best_pos < 0 or gain > best_gain):
                best_gain, best_pos, best_point = gain, pos, c
    return best_gain, best_pos, best_point


@njit(cache=True)
def _best_replacement(t, service, prize, fixed, seq, cand, budget):  # pragma: no cover
    """Drop a run of one or two stops for one candidate worth more, at its best place:
    (gain, run start, run length, insert position, point); run length 0 when none fits."""
    cost = _cost(t, service, seq)
    n = len(seq) - 2  # stops in the route
    best = (-np.inf, 0, 0, 0, -1)
    for length in range(1, 3):
        for i in range(n - length + 1):
            skip = False
            old = 0.0
            for k in range(i, i + length):
                skip = skip or fixed[seq[k + 1]]
                old += prize[seq[k + 1]]
            if skip:
                continue
            before, after = seq[i], seq[i + length + 1]
            inner = 0.0
            for k in range(i + 1, i + length):
                inner += t[seq[k], seq[k + 1]]
            removed = t[before, seq[i + 1]] + inner + t[seq[i + length], after] - t[before, after]
            for k in range(i + 1, i + length + 1):
                removed += service[seq[k]]
            reduced = cost - removed
            rest = np.concatenate((seq[: i + 1], seq[i + length + 1 :]))
            for pos in range(len(rest) - 1):
                a, b = rest[pos], rest[pos + 1]
                for c in cand:
                    gain = prize[c] - old
                    if prize[c] <= old + 1e-9:
                        continue
                    delta = t[a, c] + t[c, b] - t[a, b] + service[c]
                    if reduced + delta <= budget + 1e-9 and (best[2] == 0 or gain > best[0]):
                        best = (gain, i, length, pos, c)
    return best


# --- the repair of one round, compiled: ``table`` holds each route as a row (start, stops, end),
# ``lengths`` its number of stops; both are changed in place -------------------------------------


@njit(cache=True)
def _visited(table, lengths, n):  # pragma: no cover (compiled)
    visited = np.zeros(n, dtype=np.bool_)
    for k in range(len(lengths)):
        for i in range(1, lengths[k] + 1):
            visited[table[k, i]] = True
    return visited


@njit(cache=True)
def _unvisited(candidates, visited):  # pragma: no cover (compiled)
    """The candidates (in increasing order) that no route visits."""
    out = np.empty(len(candidates), dtype=np.int64)
    m = 0
    for c in candidates:
        if not visited[c]:
            out[m] = c
            m += 1
    return out[:m]


@njit(cache=True)
def _insert_at(table, lengths, k, pos, point):  # pragma: no cover (compiled)
    """Insert ``point`` as stop ``pos`` (0-based) of route ``k``."""
    n = lengths[k] + 2
    table[k, pos + 2 : n + 1] = table[k, pos + 1 : n].copy()
    table[k, pos + 1] = point
    lengths[k] += 1


@njit(cache=True)
def _delete_at(table, lengths, k, pos, count):  # pragma: no cover (compiled)
    """Remove ``count`` stops of route ``k`` from stop ``pos`` (0-based) on."""
    n = lengths[k] + 2
    table[k, pos + 1 : n - count] = table[k, pos + 1 + count : n].copy()
    lengths[k] -= count


@njit(cache=True)
def _improve(
    t, service, prize, fixed, candidates, by_prize, table, lengths, budget, symmetric, noise, rng
):  # pragma: no cover (compiled)
    """One round's repair: 2-opt each route, maybe insert the best stops with reordering,
    insert greedily, swap and replace while either helps, 2-opt again, move stops between
    routes while that shortens them, and insert greedily once more without noise. The random
    draws are those of the Python moves it replaces, from the same generator."""
    m = len(lengths)
    for k in range(m):
        _tighten(t, table[k, : lengths[k] + 2], symmetric)
    visited = _visited(table, lengths, len(prize))
    if noise and rng.random() < 0.5:
        _insert_reordering(t, service, prize, by_prize, table, lengths, visited, budget, symmetric)
    _insert_greedy(t, service, prize, candidates, table, lengths, visited, budget, noise, rng)
    while True:
        if _swap_better(t, service, prize, fixed, candidates, table, lengths, visited, budget):
            continue
        if not _replace_anywhere(
            t, service, prize, fixed, candidates, table, lengths, visited, budget
        ):
            break
    for k in range(m):
        _tighten(t, table[k, : lengths[k] + 2], symmetric)
    if m > 1:
        while _relocate_between(t, service, table, lengths, budget):
            pass
    _insert_greedy(t, service, prize, candidates, table, lengths, visited, budget, 0.0, rng)


@njit(cache=True)
def _insert_reordering(
    t, service, prize, by_prize, table, lengths, visited, budget, symmetric, tries=8
):  # pragma: no cover (compiled)
    """Try the ``tries`` best unvisited stops (``by_prize``: worth most first) where they
    only fit once the route is reordered: cheapest place, then 2-opt, kept if within budget."""
    tried = 0
    for point in by_prize:
        if visited[point]:
            continue
        if tried == tries:
            break
        tried += 1
        for k in range(len(lengths)):
            n = lengths[k] + 2
            seq = table[k, :n]
            best_pos, best_delta = 0, np.inf
            for pos in range(n - 1):
                delta = t[seq[pos], point] + t[point, seq[pos + 1]] - t[seq[pos], seq[pos + 1]]
                if delta < best_delta:
                    best_pos, best_delta = pos, delta
            trial = np.empty(n + 1, dtype=np.int64)
            trial[: best_pos + 1] = seq[: best_pos + 1]
            trial[best_pos + 1] = point
            trial[best_pos + 2 :] = seq[best_pos + 1 :]
            _tighten(t, trial, symmetric)
            if _cost(t, service, trial) <= budget + 1e-9:
                table[k, : n + 1] = trial
                lengths[k] += 1
                visited[point] = True
                break


@njit(cache=True)
def _insert_greedy(
    t, service, prize, candidates, table, lengths, visited, budget, noise, rng
):  # pragma: no cover (compiled)
    """Insert stops by (prize ** power) per added minute while any fits. With noise, ``power``
    is drawn from [1, 3] and each ratio shaken by up to +-noise: sometimes a big prize far away
    beats several small ones nearby, which plain prize-per-minute greed never tries."""
    m = len(lengths)
    costs = np.empty(m)
    for k in range(m):
        costs[k] = _cost(t, service, table[k, : lengths[k] + 2])
    power = 1.0 + 2.0 * rng.random() if noise else 1.0
    while True:
        cand = _unvisited(candidates, visited)
        if len(cand) == 0:
            return
        weight = prize[cand] ** power
        if noise:
            weight = weight * (1 + noise * (2 * rng.random(len(cand)) - 1))
        best_ratio, best_k, best_pos, best_j, best_added = -np.inf, -1, -1, -1, 0.0
        for k in range(m):
            ratio, pos, j, added = _best_insertion(
                t, service, table[k, : lengths[k] + 2], cand, weight, costs[k], budget
            )
            if pos >= 0 and (best_k < 0 or ratio > best_ratio):
                best_ratio, best_k, best_pos, best_j, best_added = ratio, k, pos, j, added
        if best_k < 0:
            return
        _insert_at(table, lengths, best_k, best_pos, cand[best_j])
        visited[cand[best_j]] = True
        costs[best_k] += best_added


@njit(cache=True)
def _swap_better(
    t, service, prize, fixed, candidates, table, lengths, visited, budget
):  # pragma: no cover (compiled)
    """Replace one visited stop by an unvisited one worth more, in its place, if it fits."""
    cand = _unvisited(candidates, visited)
    if len(cand) == 0:
        return False
    best_score, best_k, best_pos, best_point = -np.inf, -1, -1, -1
    for k in range(len(lengths)):
        if lengths[k] == 0:
            continue
        score, pos, point = _best_swap(
            t, service, prize, fixed, table[k, : lengths[k] + 2], cand, budget
        )
        if pos >= 0 and (best_k < 0 or score > best_score):
            best_score, best_k, best_pos, best_point = score, k, pos, point
    if best_k < 0:
        return False
    visited[table[best_k, best_pos + 1]] = False
    table[best_k, best_pos + 1] = best_point
    visited[best_point] = True
    return True


@njit(cache=True)
def _replace_anywhere(
    t, service, prize, fixed, candidates, table, lengths, visited, budget
):  # pragma: no cover (compiled)
    """Drop a run of one or two visited stops for one unvisited stop worth more, inserted at its
    best place in the route."""
    cand = _unvisited(candidates, visited)
    if len(cand) == 0:
        return False
    best_gain, best_k, best_i, best_len, best_pos, best_point = -np.inf, -1, 0, 0, 0, -1
    for k in range(len(lengths)):
        gain, i, length, pos, point = _best_replacement(
            t, service, prize, fixed, table[k, : lengths[k] + 2], cand, budget
        )
        if length and (best_k < 0 or gain > best_gain):
            best_gain, best_k, best_i, best_len, best_pos, best_point = (
                gain, k, i, length, pos, point
            )  # fmt: skip
    if best_k < 0:
        return False
    for i in range(best_i, best_i + best_len):
        visited[table[best_k, i + 1]] = False
    _delete_at(table, lengths, best_k, best_i, best_len)
    _insert_at(table, lengths, best_k, best_pos, best_point)
    visited[best_point] = True
    return True


@njit(cache=True)
def _relocate_between(t, service, table, lengths, budget):  # pragma: no cover (compiled)
    """Move one stop to another route where that shortens the two routes together: shorter
    routes leave room for the insertion that follows to fit one more stop."""
    m = len(lengths)
    costs = np.empty(m)
    for k in range(m):
        costs[k] = _cost(t, service, table[k, : lengths[k] + 2])
    best_gain, best_a, best_stop, best_b, best_pos = -np.inf, -1, -1, -1, -1
    for a in range(m):
        if lengths[a] == 0:
            continue
        seq = table[a, : lengths[a] + 2]
        for b in range(m):
            if b == a:
                continue
            other = table[b, : lengths[b] + 2]
            gain_here, pos_here, stop_here = -np.inf, -1, -1
            for pos in range(len(other) - 1):
                x, y = other[pos], other[pos + 1]
                for s in range(lengths[a]):
                    before, mid, after = seq[s], seq[s + 1], seq[s + 2]
                    saving = t[before, mid] + t[mid, after] - t[before, after]
                    added = t[x, mid] + t[mid, y] - t[x, y]
                    if costs[b] + added + service[mid] <= budget + 1e-9:
                        gain = saving - added
                        if pos_here < 0 or gain > gain_here:
                            gain_here, pos_here, stop_here = gain, pos, s
            if pos_here >= 0 and gain_here > 1e-9 and (best_a < 0 or gain_here > best_gain):
                best_gain, best_a, best_stop, best_b, best_pos = (
                    gain_here, a, stop_here, b, pos_here
                )  # fmt: skip
    if best_a < 0:
        return False
    point = table[best_a, best_stop + 1]
    _delete_at(table, lengths, best_a, best_stop, 1)
    _insert_at(table, lengths, best_b, best_pos, point)
    return True
