"""One team's week of nights, solved from arrays: the unit of work of a routing worker.

:func:`outreach_routes.routing.plan_routes` turns each team's stops, street distances and
revision into a :class:`TeamWeek` (numbers only), and this module walks its nights one after
another, as each night's prizes depend on the visits of the nights before. Teams that share stop
corners (two shifts in one district) are planned in turn, each around the visits of those before
it (:func:`plan_team_weeks`); other teams are independent, so the groups run in parallel worker
processes (``[routing] workers``). A worker imports this module, numpy and Numba only: no pandas,
geopandas or osmnx to load before it can start.

Point 0 is the team's base; point ``i`` is stop ``i - 1`` of the team's stops; response stops of a
nightly re-plan come next, from ``first_response`` on; the corners to walk past (``passing``, no
dwell) come last.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from subprocess import PIPE

import numpy as np

from ._errors import InputDataError
from ._solver import solve_orienteering

__all__ = ["Knobs", "Night", "TeamWeek", "Workers", "claiming", "plan_team_week", "plan_team_weeks"]

_EPS = 1e-9


@dataclass(frozen=True)
class Knobs:
    """The ``[routing]`` (and ``[response] keep_bonus``) settings the nights use."""

    iterations: int
    loops: int
    revisit_share: float
    revisit_gap_min: float
    repeat_discount: float
    waiting_bonus: float
    visit_value: float
    keep_bonus: float
    min_stops: int = 0  # a night walking past corners keeps at least this many stops, if it can


@dataclass(frozen=True)
class Night:
    """One shift of the team's week, as the solver sees it."""

    index: int  # the night's place in the team's week (0 first)
    start_min: int  # minutes after midnight when the shift starts
    shift_minutes: float
    seed: int
    # A night kept as the plan being revised has it: the points it visits (every stop of it this
    # week knows, for the visit counts) and, when all its stops are known, its walk as a tuple.
    kept: tuple[int, ...] | None = None
    kept_walk: tuple[int, ...] | None = None
    revised: bool = False  # re-planned with the response stops (from the revised night on)
    grown: bool = False  # the response stops are part of the week by this night
    open_response: tuple[bool, ...] = ()  # per response stop: due by this shift, window open
    on_route: tuple[int, ...] = ()  # points on this night's route in the plan being revised
    # Another team's visits to this team's stops around this shift (teams sharing corners):
    # (point, minutes after this shift starts when the other team arrives there).
    claimed: tuple[tuple[int, float], ...] = ()
    epoch_min: float = 0.0  # when the shift starts, in minutes since the Unix epoch


@dataclass(frozen=True)
class TeamWeek:
    """Everything a worker needs to plan one team's nights."""

    travel: np.ndarray  # (n, n) walking minutes between points
    service: np.ndarray  # minutes at each point (0 at the base)
    prize: np.ndarray  # each point's prize in the weekly plan (response stops 0)
    core: np.ndarray  # the riskiest points, walked every night (weekly plan)
    grown_prize: np.ndarray  # the same once the response stops are in (a replaced stop 0)
    grown_core: np.ndarray
    hourly: np.ndarray | None  # (n, 24) risk by hour relative to each point's mean, or None
    first_response: int
    nights: tuple[Night, ...]
    knobs: Knobs
    # Per point, whether it is a corner walked past (no dwell, not a stop): the same prize every
    # night, never discounted; None: no such corners.
    passing: np.ndarray | None = None
    # Per point, its corner's id in the city graph: how teams sharing corners see each other's
    # visits (plan_team_weeks). None: the week is planned on its own.
    corner_ids: np.ndarray | None = None


class Workers:
    """Routing worker processes, started ahead of need so that their start-up (about half a
    second: an interpreter, numpy, Numba and the compiled solver) overlaps the caller's loading.

    ``Workers(n)`` plans on ``n`` processes: this one and ``n - 1`` workers. A worker is a fresh
    interpreter running this module (``python -m outreach_routes._teamweek``): it reads its
    weeks as one pickle on stdin and writes their nights on stdout. It imports numpy and Numba,
    never the caller's script or the rest of the package, so it works the same from a script, a
    notebook or cron. Each worker is used once.
    """

    def __init__(self, count: int) -> None:
        package_root = str(Path(__file__).resolve().parents[1])
        path = os.environ.get("PYTHONPATH", "")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, path) if p)}
        command = [sys.executable, "-m", "outreach_routes._teamweek"]
        # A worker's messages go to a file, not a pipe: a pipe nobody reads could fill and
        # leave the worker waiting on it while this process waits for its result.
        self.logs = [tempfile.TemporaryFile() for _ in range(count - 1)]  # noqa: SIM115
        self.procs = [
            subprocess.Popen(command, stdin=PIPE, stdout=PIPE, stderr=log, env=env)
            for log in self.logs
        ]
        # This process plans a share too: load its compiled solver meanwhile, on a thread.
        self.warm = threading.Thread(target=_warm_up, daemon=True)
        self.warm.start()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers not yet used (a plan that failed before routing)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                stream.close()
        for log in self.logs:
            log.close()
        self.procs, self.logs = [], []

    def solve(self, weeks: list[list[TeamWeek]]) -> list[list[list[tuple[list[int], np.ndarray]]]]:
        """Each group of teams' nights (:func:`plan_team_weeks`), the groups shared out among
        this process and the workers.

        The results do not depend on the number of workers: each group is solved by the same
        function from the same numbers, only elsewhere.
        """
        procs = self.procs[: max(0, len(weeks) - 1)]
        groups: list[list[int]] = [[] for _ in range(len(procs) + 1)]  # this process's first
        load = [0.0] * len(groups)
        for k in sorted(range(len(weeks)), key=lambda k: -_size(weeks[k])):  # longest first
            least = load.index(min(load))
            groups[least].append(k)
            load[least] += _size(weeks[k])
        try:
            for proc, group in zip(procs, groups[1:], strict=True):
                proc.stdin.write(pickle.dumps([weeks[k] for k in group], pickle.HIGHEST_PROTOCOL))
                proc.stdin.close()
            self.warm.join()
            results = {k: plan_team_weeks(weeks[k]) for k in groups[0]}
            for proc, log, group in zip(procs, self.logs, groups[1:], strict=False):
                out = proc.stdout.read()
                if proc.wait() != 0:
                    log.seek(0)
                    raise RuntimeError(
                        "a routing worker failed (with [routing] workers = 1 the teams are "
                        "planned in this process):\n" + log.read().decode("utf-8", "replace")
                    )
                results.update(zip(group, pickle.loads(out), strict=True))
        finally:
            self.close()
        return [results[k] for k in range(len(weeks))]


def _size(weeks: list[TeamWeek]) -> float:
    """Roughly how long a group of weeks takes: their points times their nights to plan."""
    return sum(float(len(w.travel)) * sum(n.kept is None for n in w.nights) for w in weeks)


def _warm_up() -> None:
    """Load the compiled solver (half a second from Numba's cache) before it is needed."""
    solve_orienteering(np.ones((3, 3)), np.array([0.0, 1.0, 1.0]), np.zeros(3), budget=9.0)


def _worker() -> None:
    """A routing worker's main: weeks in on stdin, their nights out on stdout (pickles)."""
    _warm_up()  # while the caller is still reading its inputs
    weeks = pickle.load(sys.stdin.buffer)
    sys.stdout.buffer.write(
        pickle.dumps([plan_team_weeks(w) for w in weeks], pickle.HIGHEST_PROTOCOL)
    )
    sys.stdout.buffer.flush()


def plan_team_weeks(weeks: list[TeamWeek]) -> list[list[tuple[list[int], np.ndarray]]]:
    """The weeks of teams sharing corners, in turn (:func:`plan_team_week`): each planned with
    the visits the weeks before it make to its stops around each of its shifts, as
    :attr:`Night.claimed`, beside those it carries already."""
    walked: list[tuple[np.ndarray, np.ndarray]] = []  # per week: corner ids, epoch minutes
    results = []
    for week in weeks:
        if walked:
            week = claiming(week, walked)
        nights = plan_team_week(week)
        results.append(nights)
        if len(weeks) > 1:
            walked.append(_walked(week, nights))
    return results


def _walked(
    week: TeamWeek, nights: list[tuple[list[int], np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """The stops a week's ``nights`` walk: their corners' ids, and when the team arrives there,
    in minutes since the Unix epoch."""
    corners, minutes = [], []
    for night, (order, _prize) in zip(week.nights, nights, strict=True):
        times, _ = _arrivals(order, week.travel, week.service)
        for point, at in zip(order, times, strict=True):
            if point and (week.passing is None or not week.passing[point]):
                corners.append(week.corner_ids[point])
                minutes.append(night.epoch_min + at)
    return np.array(corners, dtype=np.int64), np.array(minutes, dtype=float)


def claiming(week: TeamWeek, walked: list[tuple[np.ndarray, np.ndarray]]) -> TeamWeek:
    """``week`` with other teams' visits to its stops (``walked``: per team, corner ids and
    arrivals in minutes since the Unix epoch) within ``revisit_gap_min`` of each of its nights
    to plan added to that night's ``claimed``."""
    if week.corner_ids is None:
        return week
    corners = np.concatenate([c for c, _ in walked])
    minutes = np.concatenate([m for _, m in walked])
    stop = np.ones(len(week.travel), bool)
    stop[0] = False
    if week.passing is not None:
        stop &= ~week.passing
    point_of = {int(c): i for i, c in enumerate(week.corner_ids) if stop[i]}
    mine = np.array([int(c) in point_of for c in corners], dtype=bool)
    if not mine.any():
        return week
    points = np.array([point_of[int(c)] for c in corners[mine]])
    minutes = minutes[mine]
    gap = week.knobs.revisit_gap_min
    nights = []
    for night in week.nights:
        into = minutes - night.epoch_min
        now = (into >= -gap) & (into <= night.shift_minutes + gap)
        if night.kept is None and now.any():
            extra = tuple(zip(points[now].tolist(), into[now].tolist(), strict=True))
            night = replace(night, claimed=night.claimed + extra)
        nights.append(night)
    return replace(week, nights=tuple(nights))


def plan_team_week(week: TeamWeek) -> list[tuple[list[int], np.ndarray]]:
    """Each night's walking order (points, with the base between loops) and the prizes the
    route reports, in the order of ``week.nights``; a kept night gives its walk unchanged."""
    visits = np.zeros(len(week.travel))
    seen: set[tuple[int, ...]] = set()
    nights = []
    for night in week.nights:
        if night.kept is not None:
            np.add.at(visits, list(night.kept), 1)
            if night.kept_walk is not None:
                seen.add(night.kept_walk)
            nights.append((list(night.kept_walk or ()), np.zeros(0)))
            continue
        base, core_mask = (
            (week.grown_prize, week.grown_core) if night.grown else (week.prize, week.core)
        )
        prize = _night_prize(base, visits, core_mask, night.index, week.knobs, week.passing)
        core = [int(i) for i in np.flatnonzero(core_mask)[np.argsort(-base[core_mask])]]
        due: list[int] = []
        steer = prize  # what the solver maximises; ``prize`` is what the route reports
        if night.revised:
            closed = []
            for k, open_ in enumerate(night.open_response):
                point = week.first_response + k
                (due if open_ and visits[point] == 0 else closed).append(point)
            prize[closed] = 0.0
            bonus = np.zeros(len(prize))
            bonus[list(night.on_route)] = week.knobs.keep_bonus
            steer = prize + bonus
        order = _night_order(week, steer, prize, due, core, night, week.knobs)
        if week.passing is not None and _stops_in(order, week.passing) < week.knobs.min_stops:
            # Walking past corners took the place of too many stops: from stop to stop instead.
            quiet = np.where(week.passing, 0.0, steer)
            plain = _night_order(week, quiet, prize, due, core, night, week.knobs)
            if _stops_in(plain, week.passing) > _stops_in(order, week.passing):
                order = plain
        if week.hourly is None and night.index % 2:  # every other night the other way
            order = order[::-1]
        order = _unlike(
            order,
            seen,
            week.travel,
            week.service,
            night.shift_minutes,
            week.knobs.revisit_gap_min,
        )
        if night.claimed:
            order = _clear_of(
                order, night.claimed, week.travel, week.service, week.knobs.revisit_gap_min, due
            )
        seen.add(tuple(order))
        walked = [p for p in order if p]
        np.add.at(visits, walked, 1)
        seen.add(tuple(walked))
        nights.append((order, prize))
    return nights


def _stops_in(order: list[int], passing: np.ndarray) -> int:
    """The stops a walk visits: its points less the base and the corners walked past."""
    return sum(1 for p in order if p and not passing[p])


def _night_order(
    week: TeamWeek,
    steer: np.ndarray,
    prize: np.ndarray,
    due: list[int],
    core: list[int],
    night: Night,
    knobs: Knobs,
) -> list[int]:
    """The night's points in walking order: ``knobs.loops`` loops from the base, one after
    another, with the base (point 0) between them.

    Each loop is an orienteering tour from the base back to it, within an equal share of the
    shift still left. A stop walked in an earlier loop is worth ``revisit_share`` of its prize
    again in a later one, once, and only when the team cannot be back there within
    ``revisit_gap_min`` of the first visit, so the two visits cover different hours. The
    response stops ``due`` tonight go into the first loop (a night whose first loop cannot hold
    them all is walked as one loop), then the ``core`` stops, riskiest first, as many as the
    first loop holds; a later loop values the rest at their prize without forcing them. With
    hour risks, each loop's stops are reordered nearer their riskiest hours.

    A stop another team walks around this shift (``night.claimed``: teams sharing corners) is
    valued as if this team had walked it then: ``revisit_share`` of its prize when this loop
    reaches it ``revisit_gap_min`` or more from the other visit, else nothing, and it is then
    no core stop to force.
    """
    total = night.shift_minutes
    arrived: dict[int, float] = {}  # point -> first arrival tonight, minutes into the shift
    order: list[int] = []
    used = 0.0
    for loop in range(knobs.loops):
        budget = (total - used) / (knobs.loops - loop)
        value = steer.copy()
        for point, first in arrived.items():
            again = order.count(point) == 1 and (
                used + week.travel[0, point] - first >= knobs.revisit_gap_min
            )
            value[point] = steer[point] * knobs.revisit_share if again else 0.0
        for point, other in night.claimed:  # another team's visit counts as this team's own
            apart = abs(used + week.travel[0, point] - other) >= knobs.revisit_gap_min
            value[point] = min(value[point], steer[point] * knobs.revisit_share if apart else 0.0)
        claimed = {p for p, _ in night.claimed if value[p] == 0}
        wanted = [
            p
            for p in [*due, *(core if loop == 0 else [])]
            if p not in arrived and (p in due or p not in claimed)
        ]
        while True:  # the must-visits, as many of them as this loop holds
            try:
                (part,) = solve_orienteering(
                    week.travel,
                    value,
                    week.service,
                    budget=budget,
                    iterations=knobs.iterations,
                    seed=night.seed + 7919 * loop,
                    mandatory=wanted,
                )
                break
            except InputDataError:
                if loop == 0 and knobs.loops > 1 and len(wanted) <= len(due):
                    return _night_order(  # a night that needs every minute for its responses
                        week, steer, prize, due, core, night, replace(knobs, loops=1)
                    )
                wanted = wanted[:-1]
        if week.hourly is not None:
            part = _at_worst_hours(
                part, week.travel, week.service, week.hourly, prize, night.start_min,
                used + budget, used,
            )  # fmt: skip
        if not part:
            continue
        times, back = _arrivals(part, week.travel, week.service)
        for point, minutes in zip(part, times, strict=True):
            arrived.setdefault(point, used + minutes)
        used += back
        order += [0, *part] if order else part
    return order


def _at_worst_hours(
    order: list[int],
    travel: np.ndarray,
    service: np.ndarray,
    hourly: np.ndarray,
    prize: np.ndarray,
    start_min: int,
    budget: float,
    leave_min: float = 0.0,
) -> list[int]:
    """Stops reordered so each is walked nearer its riskiest hour.

    The shift starts ``start_min`` minutes after midnight; the walk leaves the base
    ``leave_min`` minutes into the shift and must be back there ``budget`` minutes into it.
    Local search on the visiting order (move one stop elsewhere, or walk a stretch backwards),
    keeping a change while it raises the sum of each stop's prize times its risk at the hour of
    arrival and the walk still fits. The same stops, start, end and budget: only the times
    change, and the same inputs give the same order.
    """

    def score(seq: list[int]) -> tuple[float, float]:
        minutes, value, previous = leave_min, 0.0, 0
        for point in seq:
            minutes += travel[previous, point]
            hour = int((start_min + minutes) // 60) % 24
            value += prize[point] * hourly[point, hour]
            minutes += service[point]
            previous = point
        return value, minutes + travel[previous, 0]

    best = list(order)
    best_value, _ = score(best)
    improved = True
    while improved:
        improved = False
        n = len(best)
        moves = [
            [*best[:i], *best[i : j + 1][::-1], *best[j + 1 :]]
            for i in range(n)
            for j in range(i + 1, n)
        ]
        for i in range(n):
            rest = best[:i] + best[i + 1 :]
            moves += [[*rest[:k], best[i], *rest[k:]] for k in range(n) if k != i]
        for candidate in moves:
            value, minutes = score(candidate)
            if minutes <= budget + _EPS and value > best_value + 1e-9:
                best, best_value, improved = candidate, value, True
                break
    return best


def _arrivals(
    order: list[int], travel: np.ndarray, service: np.ndarray
) -> tuple[list[float], float]:
    """Minutes into the shift at which each point of ``order`` is reached from the base, and
    when the walk is back at the base."""
    minutes, previous, times = 0.0, 0, []
    for point in order:
        minutes += travel[previous, point]
        times.append(minutes)
        minutes += service[point]
        previous = point
    return times, minutes + travel[previous, 0]


def _clear_of(
    order: list[int],
    claimed: tuple[tuple[int, float], ...],
    travel: np.ndarray,
    service: np.ndarray,
    gap: float,
    keep: list[int],
) -> list[int]:
    """``order`` without the stops its walk reaches within ``gap`` minutes of another team's
    visit there (``claimed``), the earliest first, until none is left; ``keep`` (the night's
    due response stops) stay. The solver already valued those visits at nothing: this makes
    it hold for the walk's real times too. Dropping a stop never makes the walk longer."""
    others: dict[int, list[float]] = {}
    for point, minutes in claimed:
        others.setdefault(point, []).append(minutes)
    while True:
        times, _ = _arrivals(order, travel, service)
        clash = next(
            (
                k
                for k, (point, at) in enumerate(zip(order, times, strict=True))
                if point not in keep and any(abs(at - m) < gap for m in others.get(point, ()))
            ),
            None,
        )
        if clash is None:
            return order
        order = order[:clash] + order[clash + 1 :]
        while order and order[0] == 0:  # a loop left empty: no walk to the base and back
            order = order[1:]
        while order and order[-1] == 0:
            order = order[:-1]
        order = [p for k, p in enumerate(order) if p or order[k - 1]]


def _apart(order: list[int], times: list[float], gap: float) -> bool:
    """Whether every stop walked twice is walked the second time ``gap`` minutes after the first."""
    first: dict[int, float] = {}
    for point, minutes in zip(order, times, strict=True):
        if point and point in first and minutes - first[point] < gap - _EPS:
            return False
        first.setdefault(point, minutes)
    return True


def _unlike(
    order: list[int],
    seen: set[tuple[int, ...]],
    travel: np.ndarray,
    service: np.ndarray,
    budget: float,
    gap: float = 0.0,
) -> list[int]:
    """``order``, or when an earlier night walked exactly that, the shortest variant of it with
    one stretch walked backwards that fits the shift, keeps second visits ``gap`` minutes after
    the first, and no night walked yet.

    A team whose every stop fits in one shift would otherwise walk the same loop every other
    night, and a route anyone can predict is one to avoid.
    """
    if tuple(order) not in seen:
        return order
    best, best_minutes = order, np.inf
    for i in range(len(order) - 1):
        for j in range(i + 1, len(order)):
            variant = [*order[:i], *order[i : j + 1][::-1], *order[j + 1 :]]
            times, minutes = _arrivals(variant, travel, service)
            if (
                minutes <= budget + _EPS
                and minutes < best_minutes
                and tuple(variant) not in seen
                and _apart(variant, times, gap)
            ):
                best, best_minutes = variant, minutes
    return best


def core_stops(prize: np.ndarray, share: float) -> np.ndarray:
    """The riskiest stops, together holding ``share`` of the team's prize: walked every night."""
    order = np.argsort(-prize, kind="stable")
    cumulative = np.cumsum(prize[order])
    total = cumulative[-1] if len(cumulative) else 0.0
    core = np.zeros(len(prize), dtype=bool)
    if total > 0:
        core[order[: int(np.searchsorted(cumulative, share * total)) + 1]] = True
    core &= prize > 0
    return core


def _night_prize(
    base: np.ndarray,
    visits: np.ndarray,
    core: np.ndarray,
    night: int,
    knobs: Knobs,
    passing: np.ndarray | None = None,
) -> np.ndarray:
    """A night's prizes: core stops at full value every night; the others lose value with each
    visit this week and gain value each night they wait, so the week covers them all when the
    shifts allow. A corner walked past is worth the same every night."""
    waiting = (1 + knobs.waiting_bonus * night) ** (visits == 0)
    others = base * knobs.repeat_discount**visits * waiting
    # Presence at a corner is worth something in itself: more stops beat one long walk.
    stops = np.where(core, base, others) + np.where(base > 0, knobs.visit_value, 0.0)
    return stops if passing is None else np.where(passing, base, stops)


if __name__ == "__main__":
    _worker()
