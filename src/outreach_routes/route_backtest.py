"""Did the routes go where the shootings happened? A route backtest, week by week, on Dask.

For each week: plan it as the weekly job would, from the data before the week only; then score
the week's shootings against three ways to walk the same shifts from the same bases:

* ``planned``: the plan's routes;
* ``top_cells``: a route that goes greedily to the corners of the cells with the most shootings
  in all history, richest first, while the shift allows (with the same dwell at each);
* ``random_walk``: a random walk over the territory's streets, as long as the planned route;
* ``nightly`` (with ``nightly=True``): each night's routes as the nightly re-plan makes them from
  the data known before that night's first shift (``plan --night``).

Per team (the shootings in its territory) and city-wide (every shooting), a week's row counts
``shootings``, ``near_route`` (within ``radius_m`` of a route walked that week),
``near_in_time`` (within ``radius_m`` of where a team was scheduled within ``window_min``
minutes of the shooting), ``in_hotspots`` (inside the plan's hotspots; the same for every
method), and ``presence_min``: the minutes teams spent within ``radius_m`` of each shooting's
place over the week, summed over shootings (divide by ``shootings`` for the mean);
``response_due``, the shootings followed by a shift of the week within ``[response] window_h``,
and ``responded``, those of them whose place a team passed within ``radius_m`` in that time.

Weeks run as tasks on ``dask.distributed`` (a ``LocalCluster`` by default, or an existing
scheduler), each cached as JSON so an interrupted run resumes; a serial run gives the same
rows. Every random choice is seeded from the config's seed, the week and the team.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import logging
import sys
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from ._io import code_digest, dumps_json, read_city_limits, write_text_atomic
from .config import PlanConfig, load_config
from .hotspots import make_grid
from .incidents import IncidentTable, load_incidents
from .network import load_walking_network
from .pipeline import Plan, night_cutoff, plan_document, plan_week, week_start_for
from .routing import Route, TeamNetwork, path_nodes
from .schedule import route_track

__all__ = [
    "METHODS",
    "backtest_week",
    "paired_difference",
    "route_backtest",
    "summarise_routes",
    "week_detail",
]

METHODS = ("planned", "top_cells", "random_walk")
SAMPLE_S = 30.0  # seconds between the sampled positions of a walk
COLUMNS = [
    "week",
    "method",
    "team",
    "shootings",
    "near_route",
    "near_in_time",
    "in_hotspots",
    "presence_min",
    "walk_km",
    "response_due",
    "responded",
]


def route_backtest(
    config: str | Path,
    start: dt.date | str,
    end: dt.date | str,
    *,
    serial: bool = False,
    scheduler: str | None = None,
    workers: int = 2,
    cache_dir: str | Path | None = None,
    radius_m: float = 150.0,
    window_min: float = 60.0,
    progress: Callable[[str], None] | None = None,
    nightly: bool = False,
) -> pd.DataFrame:
    """Backtest the routes of every week whose Monday lies between ``start`` and ``end``.

    Parameters
    ----------
    config
        The plan config file.
    serial
        Run the weeks one after another in this process instead of on Dask.
    scheduler
        Address of an existing Dask scheduler; default: a ``LocalCluster`` of ``workers``
        single-threaded processes.
    cache_dir
        Where each finished week is kept (``<week>.json``); weeks found there are not run
        again. The cache is keyed on the config's and the input files' contents, and on this
        package's source and its libraries' versions.
    nightly
        Also re-plan each night from the data known before its first shift, as ``plan
        --night`` does, and score those routes as the method ``nightly`` (about six plans a
        week instead of one).

    Returns
    -------
    DataFrame
        One row per week, method and team (``"all"`` for city-wide), columns ``COLUMNS``.
    """
    config_path = str(Path(config).resolve())
    weeks = _mondays(start, end)
    say = progress or (lambda _m: None)
    key = _cache_key(config_path, radius_m, window_min, nightly)
    cache = Path(cache_dir) / key if cache_dir else None
    done: dict[str, list[dict[str, Any]]] = {}
    if cache is not None:
        for week in weeks:
            path = cache / f"{week}.json"
            if path.exists():
                done[week] = json.loads(path.read_text("utf-8"))
    todo = [w for w in weeks if w not in done]
    say(f"{len(weeks)} weeks, {len(done)} from the cache, {len(todo)} to run")

    def keep(week: str, rows: list[dict[str, Any]]) -> None:
        done[week] = rows
        if cache is not None:
            write_text_atomic(cache / f"{week}.json", dumps_json(rows, indent=None))

    if todo and serial:
        for i, week in enumerate(todo, start=1):
            keep(
                week,
                backtest_week(
                    config_path, week, radius_m=radius_m, window_min=window_min, nightly=nightly
                ),
            )
            say(f"week {week} done ({i}/{len(todo)})")
    elif todo:
        # Dask's progress bar for a person at a terminal; in a log file, a line per 10%.
        bar = progress is not None and sys.stdout.isatty()
        task = functools.partial(
            backtest_week, radius_m=radius_m, window_min=window_min, nightly=nightly
        )
        _on_dask(config_path, todo, keep, scheduler, workers, task, bar, say)
    rows = [row for week in weeks for row in done[week]]
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(
        ["week", "method", "team"], ignore_index=True
    )


def _on_dask(config_path, weeks, keep, scheduler, workers, task, bar, say) -> None:
    from dask.distributed import Client, LocalCluster, as_completed, progress

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = Client(scheduler or cluster)
    try:
        futures = client.map(task, [config_path] * len(weeks), weeks, pure=False)
        if bar:
            progress(futures)
        by_future = dict(zip(futures, weeks, strict=True))
        tenth = 0
        for finished, future in enumerate(as_completed(futures), start=1):
            keep(by_future[future], future.result())
            if not bar and finished * 10 // len(weeks) > tenth:
                tenth = finished * 10 // len(weeks)
                say(f"{finished}/{len(weeks)} weeks done")
    finally:
        _close_quietly(client, cluster)


def _close_quietly(client, cluster) -> None:
    """Close the client, then the cluster. A clean shutdown makes the workers' comms log
    "Stream is closed" tracebacks; they are noise, not errors, and would fill a cron mail."""
    loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "asyncio")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.CRITICAL)
    try:
        client.close()
        if cluster is not None:
            cluster.close()
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def backtest_week(
    config_path: str,
    monday: str,
    *,
    radius_m: float = 150.0,
    window_min: float = 60.0,
    nightly: bool = False,
) -> list[dict[str, Any]]:
    """Plan one week from the data before it and score it and the baselines (a Dask task)."""
    plan, shootings, walks = _week(config_path, monday, nightly=nightly)
    response_s = plan.config.response.window_h * 3600
    xy = shapely.get_coordinates(shootings.geometry.to_numpy())
    seconds = np.array([t.timestamp() for t in shootings["occurred_at"]])
    in_hotspots = _in_hotspots(plan, xy)
    territory = {t.name: t.territory for t in plan.teams}
    everywhere = shapely.union_all(list(territory.values()))
    in_territory = (
        shapely.contains_xy(everywhere, xy[:, 0], xy[:, 1]) if len(xy) else np.zeros(0, bool)
    )
    rows = []
    for method, by_team in walks.items():
        scopes = [(name, territory[name], by_team[name]) for name in territory]
        scopes.append(("all", None, [w for team in by_team.values() for w in team]))
        for name, area, team_walks in scopes:
            mask = (
                shapely.contains_xy(area, xy[:, 0], xy[:, 1])
                if area is not None and len(xy)
                else np.ones(len(xy), bool)
            )
            flags = _flags(xy[mask], seconds[mask], team_walks, radius_m, window_min, response_s)
            # A response is owed only to shootings inside a territory, city-wide too.
            flags["response_due"] &= in_territory[mask]
            flags["responded"] &= in_territory[mask]
            rows.append(
                {
                    "week": monday,
                    "method": method,
                    "team": name,
                    "shootings": int(mask.sum()),
                    "near_route": int(flags["near_route"].sum()),
                    "near_in_time": int(flags["near_in_time"].sum()),
                    "in_hotspots": int(in_hotspots[mask].sum()),
                    "presence_min": round(float(flags["presence_min"].sum()), 2),
                    "walk_km": round(_walk_km(team_walks), 3),
                    "response_due": int(flags["response_due"].sum()),
                    "responded": int(flags["responded"].sum()),
                }
            )
    return rows


def week_detail(
    config_path: str | Path, monday: str, *, radius_m: float = 150.0, window_min: float = 60.0
) -> tuple[Plan, pd.DataFrame]:
    """One week in detail, for a map: the plan, and the week's shootings (place and time only)
    with whether the planned routes came near them (``near_route``, ``near_in_time``) and
    whether they fell in the plan's hotspots."""
    plan, shootings, walks = _week(str(Path(config_path).resolve()), monday)
    xy = shapely.get_coordinates(shootings.geometry.to_numpy())
    seconds = np.array([t.timestamp() for t in shootings["occurred_at"]])
    planned = [w for team in walks["planned"].values() for w in team]
    flags = _flags(xy, seconds, planned, radius_m, window_min)
    detail = shootings[["occurred_at", "geometry"]].copy()
    detail["near_route"] = flags["near_route"]
    detail["near_in_time"] = flags["near_in_time"]
    detail["in_hotspots"] = _in_hotspots(plan, xy)
    return plan, detail


def _week(config_path: str, monday: str, *, nightly: bool = False):
    config, table, network = _inputs(config_path)
    week_start = week_start_for(dt.date.fromisoformat(monday), config.city.timezone)
    when = table.incidents["occurred_at"]
    past = replace(table, incidents=table.incidents[when < week_start])
    plan = plan_week(
        config, week_of=week_start.date(), incidents=past, network=network, skill=False
    )
    shootings = table.incidents[(when >= week_start) & (when < week_start + pd.Timedelta(days=7))]
    walks = {
        "planned": _planned_walks(plan),
        "top_cells": _top_cell_walks(plan, past.incidents),
        "random_walk": _random_walks(plan, monday),
    }
    if nightly:
        walks["nightly"] = _nightly_walks(config, table, network, plan)
    return plan, shootings, walks


def _nightly_walks(config, table, network, weekly: Plan) -> dict[str, list[np.ndarray]]:
    """Each night's routes as that night's re-plan makes them, from the data known before its
    first shift (the nightly job, run every night of the week)."""
    walks: dict[str, list[np.ndarray]] = {t.name: [] for t in weekly.teams}
    document = plan_document(weekly)
    when = table.incidents["occurred_at"]
    nights = sorted({r.shift.night for r in weekly.routes})
    for night in nights:
        cutoff = night_cutoff(weekly.teams, weekly.week_start, night)
        known = replace(table, incidents=table.incidents[when < cutoff])
        plan = plan_week(config, incidents=known, network=network, night=night, previous=document)
        document = plan_document(plan)
        for route in plan.routes:
            if route.shift.night == night:
                walks[route.team].append(_route_walk(route))
    return walks


def _in_hotspots(plan: Plan, xy: np.ndarray) -> np.ndarray:
    if not len(xy):
        return np.zeros(0, bool)
    hotspots = shapely.union_all(plan.hotspots.geometry.to_numpy())
    return shapely.contains_xy(hotspots, xy[:, 0], xy[:, 1])


def summarise_routes(frame: pd.DataFrame) -> pd.DataFrame:
    """Shares over all weeks per method and team: ``near_route``, ``near_in_time``,
    ``in_hotspots`` (of the shootings), ``presence_min`` per shooting, ``walk_km`` per week."""
    grouped = frame.groupby(["method", "team"], sort=False)
    table = grouped[
        ["shootings", "near_route", "near_in_time", "in_hotspots", "presence_min"]
        + ["response_due", "responded"]
    ].sum()
    out = pd.DataFrame(
        {
            "weeks": grouped["week"].nunique(),
            "shootings": table["shootings"],
            "near_route": table["near_route"] / table["shootings"],
            "near_in_time": table["near_in_time"] / table["shootings"],
            "in_hotspots": table["in_hotspots"] / table["shootings"],
            "presence_min_per_shooting": table["presence_min"] / table["shootings"],
            "walk_km_per_week": grouped["walk_km"].mean(),
            "response_rate": table["responded"]
            / table["response_due"].where(table["response_due"] > 0),
        }
    )
    return out.reset_index()


def weekly_share(frame: pd.DataFrame, method: str, column: str = "near_in_time") -> pd.Series:
    """City-wide share of a week's shootings flagged ``column`` for one method, by week (NaN
    for a week without shootings): the pairs behind a paired weekly difference."""
    city = frame[(frame["team"] == "all") & (frame["method"] == method)].set_index("week")
    return city[column] / city["shootings"].where(city["shootings"] > 0)


def paired_difference(after: pd.Series, before: pd.Series) -> str:
    """The mean weekly difference ``after - before`` over the weeks both have a share for, with
    its standard error: "+0.0031 a week (standard error 0.0040, 104 weeks)". The same weeks'
    shootings score both, so pairing takes out most of their noise."""
    diff = (after - before).dropna()
    error = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    return f"{diff.mean():+.4f} a week (standard error {error:.4f}, {len(diff)} weeks)"


# --- walks: (seconds, x, y) arrays, one per team and night ------------------------------------


def _planned_walks(plan: Plan) -> dict[str, list[np.ndarray]]:
    walks: dict[str, list[np.ndarray]] = {t.name: [] for t in plan.teams}
    for route in plan.routes:
        walks[route.team].append(_route_walk(route))
    return walks


def _route_walk(route: Route) -> np.ndarray:
    stops = [
        {
            "lon": float(s.x),
            "lat": float(s.y),
            "arrive": s.arrive.isoformat(),
            "depart": s.depart.isoformat(),
        }
        for s in route.stops.itertuples()
    ]
    return route_track({"path": route.path, "stops": stops}, projected=True)


def _top_cell_walks(plan: Plan, history: pd.DataFrame) -> dict[str, list[np.ndarray]]:
    """Greedy walks to the corners of the cells with the most shootings in all history."""
    grid = make_grid(
        shapely.union_all([t.territory for t in plan.teams]), plan.config.hotspots.cell_m
    )
    counts = grid.counts(shapely.get_coordinates(history.geometry.to_numpy()))
    walks: dict[str, list[np.ndarray]] = {}
    for team in plan.teams:
        net = plan.networks[team.name]
        corners = net.corners if len(net.corners) else np.arange(len(net.xy))
        col = np.floor((net.xy[corners, 0] - grid.x0) / grid.size).astype(int)
        row = np.floor((net.xy[corners, 1] - grid.y0) / grid.size).astype(int)
        ok = (row >= 0) & (row < grid.shape[0]) & (col >= 0) & (col < grid.shape[1])
        value = np.zeros(len(corners))
        value[ok] = counts[row[ok], col[ok]]
        cell = row * grid.shape[1] + col
        # One corner per cell (the first met), the 60 richest cells.
        _, first = np.unique(cell, return_index=True)
        first = first[value[first] > 0]
        chosen = corners[first[np.argsort(-value[first], kind="stable")][:60]]
        walks[team.name] = [
            _greedy_walk(net, chosen, shift, team.config.walk_speed_kmh, team.config.dwell_min)
            for shift in team.shifts(plan.week_start)
        ]
    return walks


def _greedy_walk(net: TeamNetwork, targets, shift, speed_kmh: float, dwell_min: float):
    sources = np.concatenate([[net.base], targets]).astype(int)
    metres, pred = dijkstra(net.matrix, indices=sources, return_predecessors=True)
    per_min = speed_kmh * 1000 / 60
    budget = (shift.end - shift.start).total_seconds() / 60
    here, used, order = 0, 0.0, []
    left = list(range(1, len(sources)))
    while left:
        fits = [
            k
            for k in left
            if used + (metres[here, sources[k]] + metres[k, net.base]) / per_min + dwell_min
            <= budget
        ]
        if not fits:
            break
        k = fits[0]  # the richest cell that still fits: targets are sorted by count
        used += metres[here, sources[k]] / per_min + dwell_min
        order.append(k)
        left.remove(k)
        here = k
    legs = [0, *order, 0]
    nodes, times, clock = [int(net.base)], [shift.start.timestamp()], shift.start.timestamp()
    for a, b in zip(legs, legs[1:], strict=False):
        chain = path_nodes(pred, a, sources[a], sources[b])
        for u, v in itertools.pairwise(chain):
            clock += float(np.hypot(*(net.xy[v] - net.xy[u]))) / per_min * 60
            nodes.append(v)
            times.append(clock)
        if b != 0:
            clock += dwell_min * 60
            nodes.append(nodes[-1])
            times.append(clock)
    xy = net.xy[nodes]
    return np.column_stack([times, xy])


def _random_walks(plan: Plan, monday: str) -> dict[str, list[np.ndarray]]:
    """Random walks from each base over the territory's streets, as long as the planned route."""
    walks: dict[str, list[np.ndarray]] = {t.name: [] for t in plan.teams}
    for order, route in enumerate(plan.routes):
        team = next(t for t in plan.teams if t.name == route.team)
        net = plan.networks[team.name]
        seed = zlib.crc32(f"{plan.config.routing.seed} {monday} {order}".encode())
        rng = np.random.default_rng(seed)
        per_s = team.config.walk_speed_kmh / 3.6
        node, walked, clock = int(net.base), 0.0, route.shift.start.timestamp()
        rows = [(clock, *net.xy[node])]
        matrix = net.matrix.tocsr()
        while walked < route.walk_m:
            lo, hi = matrix.indptr[node], matrix.indptr[node + 1]
            if hi == lo:
                break
            k = int(rng.integers(lo, hi))
            node, step = int(matrix.indices[k]), float(matrix.data[k])
            walked += step
            clock += step / per_s
            rows.append((clock, *net.xy[node]))
        walks[team.name].append(np.array(rows))
    return walks


# --- scoring ----------------------------------------------------------------------------------


def _flags(
    xy, seconds, walks, radius_m: float, window_min: float, response_s: float = 72 * 3600
) -> dict[str, np.ndarray]:
    """Per shooting: near a walk, near it within the time window, minutes of presence; whether
    a shift started in the ``response_s`` after it (``response_due``), and whether a team passed
    within ``radius_m`` in that time (``responded``)."""
    n = len(xy)
    flags = {
        "near_route": np.zeros(n, bool),
        "near_in_time": np.zeros(n, bool),
        "presence_min": np.zeros(n),
        "response_due": np.zeros(n, bool),
        "responded": np.zeros(n, bool),
    }
    samples = [_sample(w) for w in walks if len(w) > 1]
    if not n or not samples:
        return flags
    lines = shapely.multilinestrings([shapely.linestrings(w[:, 1:]) for w in walks if len(w) > 1])
    flags["near_route"] = shapely.dwithin(lines, shapely.points(xy), radius_m)
    every = np.vstack(samples)
    near = cKDTree(every[:, 1:]).query_ball_point(xy, radius_m)
    window = window_min * 60
    flags["near_in_time"] = np.array(
        [
            bool(np.any(np.abs(every[i, 0] - t) <= window))
            for i, t in zip(near, seconds, strict=True)
        ]
    )
    flags["presence_min"] = np.array([len(i) * SAMPLE_S / 60 for i in near])
    starts = np.array([w[0, 0] for w in walks if len(w) > 1])
    flags["response_due"] = np.array(
        [bool(np.any((starts > t) & (starts <= t + response_s))) for t in seconds]
    )
    flags["responded"] = flags["response_due"] & np.array(
        [
            bool(np.any((every[i, 0] > t) & (every[i, 0] <= t + response_s)))
            for i, t in zip(near, seconds, strict=True)
        ]
    )
    return flags


def _walk_km(walks: list[np.ndarray]) -> float:
    return sum(float(np.hypot(*np.diff(w[:, 1:], axis=0).T).sum()) for w in walks) / 1000


def _sample(walk: np.ndarray) -> np.ndarray:
    """Positions every ``SAMPLE_S`` seconds along a walk."""
    times = np.arange(walk[0, 0], walk[-1, 0], SAMPLE_S)
    return np.column_stack(
        [times, np.interp(times, walk[:, 0], walk[:, 1]), np.interp(times, walk[:, 0], walk[:, 2])]
    )


# --- inputs, loaded once per process -----------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _inputs(config_path: str) -> tuple[PlanConfig, IncidentTable, tuple]:
    config = load_config(config_path)
    # Weeks already run in parallel (Dask): each plans its teams in its own process, one after
    # another, rather than each starting a pool of its own.
    config = replace(config, routing=replace(config.routing, workers=1))
    crs, tz = config.city.crs, config.city.timezone
    limits = read_city_limits(config.city)
    table = load_incidents(config.incidents, crs=crs, timezone=tz, area=limits)
    return config, table, load_walking_network(config.network, crs=crs)


def _mondays(start: dt.date | str, end: dt.date | str) -> list[str]:
    first, last = (pd.Timestamp(d).date() for d in (start, end))
    first += dt.timedelta(days=(7 - first.weekday()) % 7)
    return [d.date().isoformat() for d in pd.date_range(first, last, freq="7D")]


def _cache_key(config_path: str, radius_m: float, window_min: float, nightly: bool) -> str:
    """The cache's key: the config, every file it reads, and the code and libraries that plan
    and score the weeks (a cache made before a change to either would be stale)."""
    config = load_config(config_path)
    digest = hashlib.sha256(Path(config_path).read_bytes())
    digest.update(code_digest(("geopandas", "shapely", "scikit-learn", "scipy", "numpy")).encode())
    inputs = (config.incidents.path, config.network.path, config.territories.path)
    for path in (*inputs, config.city.limits, config.requests.path):
        if path is not None and Path(path).is_file():
            digest.update(Path(path).read_bytes())
    digest.update(f"{radius_m} {window_min} {'nightly' if nightly else 'weekly'}".encode())
    return digest.hexdigest()[:16]
