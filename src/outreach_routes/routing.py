"""Walking routes: each team's street graph, the orienteering solver, and timed street paths.

For each team and night, the solver picks and orders stops to collect the most prize from base
back to base within the shift, counting walking time and the dwell at each stop. Distances come
from one multi-source Dijkstra per team (scipy.sparse.csgraph on the team's CSR matrix), along
paths that favour risky streets: a street counts up to ``risky_streets`` shorter where the risk
within ``presence_m`` of it is the team's highest, so a walk between two stops passes risky
corners at the cost of some metres (the route's time counts the metres really walked), and
goes past the team's riskiest corners when the shift allows (``pass_by``: points with no dwell
the solver may add between stops, on the street path but not stops of the route). Stops
visited on earlier nights of the week are worth ``repeat_discount`` times less each time, so the
week's routes vary while the riskiest corners still recur. A night is walked as ``loops`` loops
from the base (two by default), and a corner walked in the first loop may be walked again in the
second, two hours or more later, so the team is near it at more of the night's risky hours.
Teams sharing stop corners are planned in config order, and a corner another team walks counts
as this team's own visit: worth nothing within ``revisit_gap_min`` of the other team's visit
(never walked then), and ``revisit_share`` of its prize further apart.

The nights of one team are solved in :mod:`outreach_routes._teamweek` (numbers only), the weeks
of a group of teams sharing corners on one of ``[routing] workers`` processes; the search itself is
:mod:`outreach_routes._solver`. This module turns stops and streets into those numbers and the
solved walking orders back into :class:`Route` objects: the stops in visiting order with arrival
and departure times, and the street path through them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from ._errors import InputDataError
from ._solver import solve_orienteering
from ._teamweek import Knobs, Night, TeamWeek, Workers, claiming, core_stops
from .config import ResponseConfig, RoutingConfig
from .hotspots import risk_near
from .teams import Shift, Team

__all__ = [
    "Revision",
    "Route",
    "TeamNetwork",
    "corner_name",
    "place_name",
    "plan_routes",
    "route_from_document",
    "sharing_groups",
    "shooting_name",
    "shooting_when",
    "solve_orienteering",
    "stop_corners",
    "street_risk",
    "team_network",
]

_EPS = 1e-9


@dataclass(frozen=True)
class TeamNetwork:
    """The part of the walking graph a team may use, with local node indices ``0..n-1``."""

    team: str
    node_ids: np.ndarray  # graph node id of each local node
    xy: np.ndarray  # (n, 2) projected coordinates
    matrix: csr_array  # (n, n) shortest edge length in metres between adjacent nodes
    geometry: dict[tuple[int, int], np.ndarray]  # coordinates of the edge used from i to j
    names: dict[tuple[int, int], str]  # street name of that edge ("" when it has none)
    corners: np.ndarray  # local nodes where three or more street segments meet
    base: int  # local node nearest the team's base
    # Per local node, the named streets that meet there, most segments first ("" never).
    streets: tuple[tuple[str, ...], ...] = ()
    # Per local node, what its unnamed ways are ("alley", "path", ...; network.way_kind), "" where
    # every way there has a name.
    kinds: tuple[str, ...] = ()

    @cached_property
    def has_names(self) -> bool:
        """Whether any street of the network has a name (a centerline file may have none)."""
        return any(self.streets)


@dataclass(frozen=True)
class Route:
    """One team's walk for one night."""

    team: str
    slug: str
    shift: Shift
    stops: pd.DataFrame  # stop_id, kind, label, corner, prize, node, x, y, arrive, depart, sources
    path: np.ndarray  # (k, 2) projected coordinates, base to base
    walk_m: float
    # Per stop after the base: the streets walked to reach it, as (name, metres) runs.
    legs: list[list[tuple[str, float]]] = field(default_factory=list)
    # Set on a route read back from plan.json, whose times are rounded to the second.
    minutes: float | None = None

    @property
    def duration_min(self) -> float:
        """Minutes from leaving the base to getting back, walking and dwelling."""
        if self.minutes is not None:
            return self.minutes
        first, last = self.stops["depart"].iloc[0], self.stops["arrive"].iloc[-1]
        return (last - first).total_seconds() / 60

    @property
    def prize(self) -> float:
        """Prize collected on this night, as discounted for repeat visits."""
        return float(self.stops["prize"].sum())


def team_network(
    edges: gpd.GeoDataFrame,
    nodes: gpd.GeoDataFrame,
    team: Team,
    *,
    tolerance_m: float,
    max_base_gap_m: float = 300.0,
) -> TeamNetwork:
    """Cut the walking graph to a team's territory, minus its no-go zones.

    Parameters
    ----------
    edges, nodes
        The walking graph as GeoDataFrames (``osmnx.graph_to_gdfs``).
    team
        The team, with territory and no-go zones.
    tolerance_m
        Streets up to this far outside the territory still count as inside: boundaries often
        run along street centrelines.
    max_base_gap_m
        The base must be at most this far from the team's connected network.

    Returns
    -------
    TeamNetwork
        Only the connected piece holding most of the territory's streets.
    """
    area = team.territory.buffer(tolerance_m)
    shapely.prepare(area)
    geoms = edges.geometry.to_numpy()
    # Only a street whose bounding box lies in the area's can be covered by it: test those
    # (a city-wide program of 42 teams spent 2.9 s testing every street for every team).
    x0, y0, x1, y1 = area.bounds
    box = shapely.bounds(geoms)
    keep = (box[:, 0] >= x0) & (box[:, 1] >= y0) & (box[:, 2] <= x1) & (box[:, 3] <= y1)
    # `covers` with the prepared area first, not `covered_by` with it second: only the first
    # argument's preparation is used (2.1 s -> 0.1 s over the city-wide example's 42 territories).
    keep[keep] = shapely.covers(area, geoms[keep])
    if team.no_go is not None:
        keep[keep] = ~shapely.intersects(geoms[keep], team.no_go)
    sub = edges[keep]
    u = sub.index.get_level_values(0).to_numpy()
    v = sub.index.get_level_values(1).to_numpy()
    node_ids, local = np.unique(np.concatenate([u, v]), return_inverse=True)
    lu, lv = local[: len(u)], local[len(u) :]
    n = len(node_ids)
    if n == 0:
        raise InputDataError(
            f"team {team.name!r}: no streets inside its territory; check the territory and the "
            "street file cover the same area"
        )
    lengths = sub["length"].to_numpy()
    # Keep the shortest of parallel edges: its length and its geometry.
    order = np.lexsort((lengths, lv, lu))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (lu[order][1:] != lu[order][:-1]) | (lv[order][1:] != lv[order][:-1])
    best = order[first]
    _, piece = connected_components(
        csr_array((lengths[best], (lu[best], lv[best])), shape=(n, n)),
        directed=True,
        connection="strong",
    )
    main = np.bincount(piece).argmax()
    inside = piece == main
    remap = np.full(n, -1)
    remap[inside] = np.arange(inside.sum())
    best = best[inside[lu[best]] & inside[lv[best]]]
    bu, bv = remap[lu[best]], remap[lv[best]]
    m = int(inside.sum())
    matrix = csr_array((lengths[best], (bu, bv)), shape=(m, m))
    points, line = shapely.get_coordinates(sub.geometry.to_numpy()[best], return_index=True)
    coords = np.split(points, np.flatnonzero(np.diff(line)) + 1)
    pairs = list(zip(bu.tolist(), bv.tolist(), strict=True))
    geometry = dict(zip(pairs, coords, strict=True))
    raw_names = sub["name"].to_numpy()[best] if "name" in sub else [None] * len(pairs)
    names = dict(zip(pairs, (street_name(n) for n in raw_names), strict=True))
    raw_kinds = sub["kind"].to_numpy()[best] if "kind" in sub else ["street"] * len(pairs)
    kept_ids = node_ids[inside]
    xy = nodes.loc[kept_ids, ["x", "y"]].to_numpy(dtype=float)
    degree = np.bincount(np.concatenate([bu, bv]), minlength=m) // 2
    gaps = np.hypot(xy[:, 0] - team.base.x, xy[:, 1] - team.base.y)
    base = int(np.argmin(gaps))
    if gaps[base] > max_base_gap_m:
        raise InputDataError(
            f"team {team.name!r}: the base is {gaps[base]:.0f} m from the nearest street of the "
            "team's connected walking network (it may sit on a street piece cut off from the "
            "rest, or in a no-go zone); move `base` to a street corner the team can walk from"
        )
    return TeamNetwork(
        team=team.name,
        node_ids=kept_ids,
        xy=xy,
        matrix=matrix,
        geometry=geometry,
        names=names,
        corners=np.flatnonzero(degree >= 3),
        base=base,
        streets=_streets_at(names, m),
        kinds=_unnamed_kinds(names, raw_kinds, m),
    )


def street_risk(
    networks: dict[str, TeamNetwork], cells: gpd.GeoDataFrame, reach_m: float
) -> dict[str, np.ndarray]:
    """Per team, per node of its network, the risk of the cells within ``reach_m`` of the node
    (on the scale of :func:`~outreach_routes.hotspots.risk_near`, the same for every team):
    what a team walking past is near."""
    names = list(networks)
    near = risk_near(cells, np.vstack([networks[n].xy for n in names]), reach_m)
    pieces = np.split(near, np.cumsum([len(networks[n].xy) for n in names])[:-1])
    return dict(zip(names, pieces, strict=True))


def passing_corners(
    net: TeamNetwork, risk: np.ndarray, taken: Sequence[int], count: int, apart_m: float
) -> np.ndarray:
    """Up to ``count`` of the team's street corners, riskiest first, each at least ``apart_m``
    from the others and from the ``taken`` nodes (its base and stops): corners worth walking
    past, each near risk the others are not."""
    corners = net.corners if len(net.corners) else np.arange(len(net.xy))
    corners = corners[risk[corners] > 0]
    corners = corners[np.lexsort((corners, -risk[corners]))]
    held = [net.xy[int(n)] for n in taken]
    chosen: list[int] = []
    for node in corners:
        if len(chosen) >= count:
            break
        if held and (np.hypot(*(np.asarray(held) - net.xy[node]).T) < apart_m).any():
            continue
        chosen.append(int(node))
        held.append(net.xy[node])
    return np.array(chosen, dtype=int)


def walking_paths(
    matrix: csr_array, sources: np.ndarray, risk: np.ndarray | None, pull: float
) -> tuple[np.ndarray, np.ndarray]:
    """Metres walked and predecessors (as ``scipy.sparse.csgraph.dijkstra`` gives them) from
    each of ``sources`` to every node, along the paths where a street between nodes of risk
    ``r`` (as a share of the riskiest node's, the mean of its two ends) counts ``1 - pull * r``
    of its length: the shortest paths when ``pull`` is 0, walks through risky streets as it
    nears 1. The metres are those of the paths chosen, not of the discounted lengths."""
    if risk is None or pull <= 0 or not len(risk) or risk.max() <= 0:
        return dijkstra(matrix, indices=sources, return_predecessors=True)
    risk = risk / risk.max()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    discount = 1 - pull * (risk[rows] + risk[matrix.indices]) / 2
    weighted = csr_array((matrix.data * discount, matrix.indices, matrix.indptr), matrix.shape)
    _, pred = dijkstra(weighted, indices=sources, return_predecessors=True)
    return _metres_along(matrix, pred, np.asarray(sources)), pred


def _metres_along(matrix: csr_array, pred: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Metres from each row's source to every node along the tree of predecessors ``pred``
    (``inf`` where the tree does not reach), by pointer jumping: each round adds the metres to
    a node's current ancestor and moves that ancestor twice as far up, so a tree of depth
    ``d`` takes ``log2(d)`` rounds of array operations."""
    has = pred >= 0
    r, c = np.nonzero(has)
    metres = np.zeros(pred.shape)
    metres[r, c] = matrix[pred[r, c], c]
    up = np.where(has, pred, -1)
    while (up >= 0).any():
        r, c = np.nonzero(up >= 0)
        above = up[r, c]
        metres[r, c] += metres[r, above]  # the right side is read before any write
        up[r, c] = up[r, above]
    has[np.arange(len(sources)), sources] = True  # a source reaches itself
    metres[~has] = np.inf
    return metres


def _streets_at(names: dict[tuple[int, int], str], n: int) -> tuple[tuple[str, ...], ...]:
    """The named streets at each node ``0..n-1``, the street with most segments there first."""
    # Both directions are edges: each end sees the street.
    at = streets_meeting((i, name) for (i, _j), name in names.items())
    return tuple(at.get(i, ()) for i in range(n))


def _unnamed_kinds(
    names: dict[tuple[int, int], str], kinds: Iterable[object], n: int
) -> tuple[str, ...]:
    """What the unnamed ways at each node ``0..n-1`` are, the most frequent there first ("alley"
    before "path" on a tie); "" where no unnamed way meets the node."""
    counts: dict[int, Counter[str]] = {}
    for ((i, _j), name), kind in zip(names.items(), kinds, strict=True):
        if not name:
            counts.setdefault(i, Counter())[
                kind if isinstance(kind, str) and kind else "street"
            ] += 1
    return tuple(
        min(counts[i], key=lambda k, c=counts[i]: (-c[k], k)) if i in counts else ""
        for i in range(n)
    )


def streets_meeting(ends: Iterable[tuple[Hashable, str]]) -> dict[Hashable, tuple[str, ...]]:
    """The named streets at each node, from ``(node, street name)`` for each edge leaving it:
    the street with most segments there first, then by name. Nameless edges ("") count none."""
    counts: dict[Hashable, dict[str, int]] = {}
    for node, name in ends:
        if name:
            at = counts.setdefault(node, {})
            at[name] = at.get(name, 0) + 1
    return {node: tuple(sorted(c, key=lambda k, c=c: (-c[k], k))) for node, c in counts.items()}


def corner_name(net: TeamNetwork, node: int, *, search_m: float = 300.0) -> str | None:
    """Name a node of a team's network as a walker would look for it.

    ``"8th St & Adeline St"`` where two named streets meet; ``"on 8th St, 40 m from Adeline
    St"`` where only one passes (the nearest node within ``search_m`` with another street);
    ``"on 8th St"`` with none near; where only unnamed ways meet, what they are and the nearest
    named street: ``"unnamed alley, 60 m from Parsons Ave"`` (``"unnamed path"`` ... without
    the street when none is within ``search_m``); ``None`` only in a network without any street
    names (such as Philadelphia's centerlines). Never NaN.
    """
    streets = net.streets[node] if net.streets else ()
    if len(streets) >= 2:
        return f"{pretty_street(streets[0])} & {pretty_street(streets[1])}"
    if not streets and not net.has_names:
        return None
    gaps = np.hypot(*(net.xy - net.xy[node]).T)
    if not streets:
        kind = (net.kinds[node] if net.kinds else "") or "street"
        near = next(
            (i for i in np.argsort(gaps, kind="stable") if gaps[i] <= search_m and net.streets[i]),
            None,
        )
        if near is None:
            return f"unnamed {kind}"
        metres = max(round(gaps[near], -1), 10)
        return f"unnamed {kind}, {metres:.0f} m from {pretty_street(net.streets[near][0])}"
    name = streets[0]
    others = [i for i in np.argsort(gaps, kind="stable") if gaps[i] <= search_m]
    for i in others:
        other = next((s for s in net.streets[i] if s != name), None)
        if other is not None and gaps[i] < 15:  # a divided street's two carriageways
            return f"{pretty_street(name)} & {pretty_street(other)}"
        if other is not None:
            return (
                f"on {pretty_street(name)}, {round(gaps[i], -1):.0f} m from {pretty_street(other)}"
            )
    return f"on {pretty_street(name)}"


def place_name(record: Mapping[str, Any]) -> str:
    """Where a stop or shooting of ``plan.json`` is, for people: its corner ("8th St & Adeline
    St"), or its lat, lon where the network has no street names."""
    return record.get("corner") or f"{record['lat']:.5f}, {record['lon']:.5f}"


def shooting_when(stamp: dt.datetime, *, dates_only: bool = False) -> str:
    """A shooting's time for people: "Tue 03 Jan 22:30", or "Tue 03 Jan" where the incidents
    carry dates only (their midnight stamps are no time of day)."""
    return f"{stamp:%a %d %b}" if dates_only else f"{stamp:%a %d %b %H:%M}"


def shooting_name(record: Mapping[str, Any], *, dates_only: bool = False) -> str:
    """A shooting of ``plan.json`` (``corner``, ``lat``, ``lon``, ``occurred_at``) as a person
    finds it: its place and time, "8th St & Adeline St on Tue 03 Jan 22:30"; never its id."""
    when = dt.datetime.fromisoformat(record["occurred_at"])
    return f"{place_name(record)} on {shooting_when(when, dates_only=dates_only)}"


def pretty_street(name: str) -> str:
    """A street name as people write it, when the file has it in capitals: "W Broadway",
    "23rd"."""
    if not name.isupper():
        return name
    return " ".join(w.lower() if w[:1].isdigit() else w.capitalize() for w in name.split())


def plan_routes(
    teams: Sequence[Team],
    networks: dict[str, TeamNetwork],
    stops: gpd.GeoDataFrame,
    *,
    week_start: pd.Timestamp,
    config: RoutingConfig,
    revision: Revision | None = None,
    workers: Workers | None = None,
    risk: dict[str, np.ndarray] | None = None,
) -> list[Route]:
    """Plan every team's route for every night of the week.

    With a ``revision`` (the nightly re-plan), nights before ``revision.night``, and every night
    of a team with no response stop, are kept as ``revision.kept`` has them. From that night on,
    a team with response stops must visit each on its first shift after the stop is due (while
    its window lasts), a response stop replaces the weekly stop at its corner, and stops already
    on the night's route are worth ``keep_bonus`` more to the solver, so the night changes as
    little as the new stops allow.

    ``risk`` holds each team's :func:`street_risk`: the walks between stops favour risky
    streets by ``config.risky_streets`` (without it, they are the shortest).

    Teams are solved on ``workers`` (started beforehand by the caller, so their start-up
    overlaps its own work), else on ``config.workers`` processes started here
    (:func:`routing_workers`); the routes are the same whatever their number.

    Returns
    -------
    list of Route
        Ordered by team (as in the config), then night.
    """
    kept = {team.name: _kept_week(team, revision, week_start) for team in teams}
    top = max((float(r.max()) for r in (risk or {}).values() if len(r)), default=0.0)
    problems = {
        team.name: _Problem(
            team,
            networks[team.name],
            stops,
            config,
            revision,
            week_start,
            team_index,
            None if risk is None else risk.get(team.name),
            top,
        )
        for team_index, team in enumerate(teams)
        if kept[team.name] is None
    }
    routes = {name: week for name, week in kept.items() if week is not None}
    # Teams sharing stop corners are planned in turn, in config order, on one process: each
    # walks around the visits of those before it, and of any whose week is kept as it was.
    kept_visits = _visits(routes.values(), networks)
    solving = [problems[t.name] for t in teams if t.name in problems]
    groups = [[solving[k] for k in g] for g in sharing_groups([p.stop_corners for p in solving])]
    with workers or routing_workers(config, len(groups)) as pool:
        solved = pool.solve([[claiming(p.week, [kept_visits]) for p in group] for group in groups])
    for group, weeks in zip(groups, solved, strict=True):
        for problem, nights in zip(group, weeks, strict=True):
            routes[problem.team.name] = problem.routes(nights, revision, config)
    return [route for team in teams for route in routes[team.name]]


def _visits(
    routes: Iterable[list[Route]], networks: dict[str, TeamNetwork]
) -> tuple[np.ndarray, np.ndarray]:
    """The stops ``routes`` walk (base check-ins aside): their corners' ids in the city graph,
    and the arrival there in minutes since the Unix epoch (as :func:`claiming` takes them)."""
    corners, minutes = [np.zeros(0, np.int64)], [np.zeros(0)]
    for week in routes:
        for r in week:
            stops = r.stops[r.stops["kind"] != "base"]
            corners.append(networks[r.team].node_ids[stops["node"].to_numpy(dtype=int)])
            minutes.append(np.array([t.timestamp() / 60 for t in stops["arrive"]]))
    return np.concatenate(corners).astype(np.int64), np.concatenate(minutes)


def sharing_groups(corners: Sequence[set[int]]) -> list[list[int]]:
    """The teams to plan together, by their place in ``corners`` (each team's stop corners, as
    ids in the city graph), in that order: those linked by shared corners, a team with corners
    of its own a group of one."""
    group_of = list(range(len(corners)))

    def root(k: int) -> int:
        while group_of[k] != k:
            k = group_of[k]
        return k

    for k in range(len(corners)):
        for j in range(k):
            if corners[k] & corners[j]:
                group_of[root(k)] = root(j)
    groups: dict[int, list[int]] = {}
    for k in range(len(corners)):
        groups.setdefault(root(k), []).append(k)
    return list(groups.values())


def stop_corners(
    teams: Sequence[Team], networks: dict[str, TeamNetwork], stops: pd.DataFrame
) -> list[set[int]]:
    """Per team, its stops' corners as ids in the city graph (what :func:`sharing_groups`
    takes)."""
    return [
        set(
            networks[t.name]
            .node_ids[stops.loc[stops["team"] == t.name, "node"].to_numpy(dtype=int)]
            .tolist()
        )
        for t in teams
    ]


def _kept_week(
    team: Team, revision: Revision | None, week_start: pd.Timestamp
) -> list[Route] | None:
    """A team's routes as the plan being revised has them, when the revision changes none of
    its nights (no response stop of its own from the revised night on, and every night in the
    plan): nothing to solve, not even its street distances."""
    if revision is None:
        return None
    shifts = team.shifts(week_start)
    if _answers(team, shifts, revision):
        return None
    keys = [(team.name, s.night.isoformat()) for s in shifts]
    if not all(k in revision.kept for k in keys):
        return None
    return [revision.kept[k] for k in keys]


def _answers(team: Team, shifts: list[Shift], revision: Revision | None) -> bool:
    """Whether a revision gives ``team`` response stops to walk: one of its own, and a shift
    on or after the revised night to walk it in."""
    return (
        revision is not None
        and bool(len(revision.stops))
        and bool((revision.stops["team"] == team.name).any())
        and any(s.night >= revision.night for s in shifts)
    )


def routing_workers(config: RoutingConfig, teams: int) -> Workers:
    """The processes ``plan_routes`` solves teams on: ``[routing] workers`` (this one and the
    rest started now), or one per core, never more than ``teams``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Workers(min(config.workers or cores or 1, teams))


@dataclass(frozen=True)
class Revision:
    """What the nightly re-plan changes: from which night, with which response stops."""

    night: dt.date
    stops: gpd.GeoDataFrame  # response stops (stops.response_stops)
    config: ResponseConfig
    # (team, night ISO date) -> stop ids on that night's route in the plan being revised
    previous: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # (team, night ISO date) -> the route of the plan being revised, kept where nothing changed
    kept: dict[tuple[str, str], Route] = field(default_factory=dict)
    cutoff: pd.Timestamp | None = None  # the incidents used end here: the night's first shift
    # shootings given no response stop: incident_id, occurred_at, corner, x, y, reason
    not_answered: pd.DataFrame = field(default_factory=pd.DataFrame)


def night_knobs(config: RoutingConfig, keep_bonus: float = 0.0) -> Knobs:
    """The ``[routing]`` settings a night is solved with (and a revision's ``keep_bonus``), as
    the routing workers take them: numbers only, no config module to import."""
    return Knobs(
        iterations=config.iterations,
        loops=config.loops,
        revisit_share=config.revisit_share,
        revisit_gap_min=config.revisit_gap_min,
        repeat_discount=config.repeat_discount,
        waiting_bonus=config.waiting_bonus,
        visit_value=config.visit_value,
        keep_bonus=keep_bonus,
        min_stops=config.min_night_stops,
    )


class _Problem:
    """One team's week: its street distances (point 0 the base, point i stop i - 1, response
    stops of a revision last) and, in ``week``, the numbers a routing worker solves it from."""

    def __init__(
        self,
        team: Team,
        net: TeamNetwork,
        all_stops: pd.DataFrame,
        config: RoutingConfig,
        revision: Revision | None,
        week_start: pd.Timestamp,
        team_index: int,
        risk: np.ndarray | None = None,
        risk_top: float = 0.0,
    ) -> None:
        self.team, self.net = team, net
        self.shifts = team.shifts(week_start)
        weekly = all_stops[all_stops["team"] == team.name].reset_index(drop=True)
        response = (
            revision.stops[revision.stops["team"] == team.name].reset_index(drop=True)
            if _answers(team, self.shifts, revision)
            else weekly.iloc[:0]
        )
        self.stops = pd.concat([weekly, response], ignore_index=True) if len(response) else weekly
        stop_nodes = self.stops["node"].to_numpy(dtype=int)
        # Risky corners to walk past (no dwell, no stop on the sheet): after the stops.
        passing = (
            passing_corners(
                net, risk, [net.base, *stop_nodes], config.pass_corners, 2 * config.presence_m
            )
            if risk is not None and config.pass_by > 0 and risk_top > 0
            else np.zeros(0, int)
        )
        self.sources = sources = np.concatenate([[net.base], stop_nodes, passing])
        # The one place the points' layout is decided: 0 the base, then the stops, then the
        # corners walked past from ``first_corner`` on (on the path and in the times, not stops).
        self.first_corner = 1 + len(self.stops)
        self.metres, self.pred = walking_paths(net.matrix, sources, risk, config.risky_streets)
        metres_per_min = team.config.walk_speed_kmh * 1000 / 60
        self.travel = self.metres[:, sources] / metres_per_min
        if not np.isfinite(self.travel).all():  # pragma: no cover - stops are on this graph
            raise InputDataError(f"team {team.name!r}: a stop cannot be reached from the base")
        n_weekly, n_response, n_passing = len(weekly), len(response), len(passing)
        service = np.concatenate(
            [[0.0], np.full(len(self.stops), team.config.dwell_min), np.zeros(n_passing)]
        )
        pass_prize = (
            config.pass_by * config.hotspot_prize_max * risk[passing] / risk_top
            if n_passing
            else np.zeros(0)
        )
        prize = np.concatenate(
            [[0.0], weekly["prize"].to_numpy(dtype=float), np.zeros(n_response), pass_prize]
        )
        core = np.concatenate(
            [
                core_stops(prize[: 1 + len(self.stops)], config.core_risk_share),
                np.zeros(n_passing, bool),
            ]
        )
        # With response stops: each is worth its prize, and replaces the weekly stop at its
        # corner (kept in the matrix, never worth a visit, never a core stop).
        replaced = np.concatenate(
            [
                [False],
                weekly["node"].isin(response["node"]).to_numpy(),
                np.zeros(n_response + n_passing, bool),
            ]
        )
        grown_prize = np.concatenate([[0.0], self.stops["prize"].to_numpy(dtype=float), pass_prize])
        grown_prize[replaced] = 0.0
        grown_core = core & ~replaced
        # Per point, risk by hour of the day relative to its mean (1 for the base): the order of
        # a night's stops follows it when the stops carry ``hour_risk`` and the config asks.
        hourly = (
            np.vstack([np.ones(24), *self.stops["hour_risk"], np.ones((n_passing, 24))])
            if config.time_aware and "hour_risk" in self.stops and len(self.stops)
            else None
        )
        self.passing = passing
        nights = self._nights(config, revision, response, team_index, n_weekly)
        keep_bonus = revision.config.keep_bonus if revision is not None else 0.0
        self.week = TeamWeek(
            travel=self.travel,
            service=service,
            prize=prize,
            core=core,
            grown_prize=grown_prize,
            grown_core=grown_core,
            hourly=hourly,
            passing=np.arange(len(sources)) >= self.first_corner,
            corner_ids=net.node_ids[sources],
            first_response=n_weekly + 1,
            nights=tuple(nights),
            knobs=night_knobs(config, keep_bonus),
        )

    @property
    def stop_corners(self) -> set[int]:
        """The corners of the team's stops (its response stops too), as ids in the city graph."""
        return set(self.week.corner_ids[1 : self.first_corner].tolist())

    def routes(
        self,
        nights: list[tuple[list[int], np.ndarray]],
        revision: Revision | None,
        config: RoutingConfig,
    ) -> list[Route]:
        """The solved ``nights`` as timed routes; a night kept as the revised plan has it, to
        the byte."""
        routes = []
        for shift, night, (order, prize) in zip(self.shifts, self.week.nights, nights, strict=True):
            if night.kept is not None:
                routes.append(revision.kept[(self.team.name, shift.night.isoformat())])
                continue
            routes.append(
                _timed_route(
                    self.team,
                    self.net,
                    self.stops,
                    shift,
                    order,
                    self.travel,
                    prize,
                    self.metres,
                    self.pred,
                    self.sources,
                    first_corner=self.first_corner,
                    revisit_share=config.revisit_share,
                )
            )
        return routes

    def _walked_past(self, route: Route | None) -> tuple[int, ...]:
        """The points of the corners to walk past that ``route`` (the night as the plan being
        revised has it) walks through: on its route too, as much as its stops."""
        if route is None or not len(self.passing) or not len(route.path):
            return ()
        gap, _ = cKDTree(route.path).query(self.net.xy[self.passing])
        return tuple(self.first_corner + int(i) for i in np.flatnonzero(gap < 1.0))

    def _nights(self, config, revision, response, team_index, n_weekly) -> list[Night]:
        """Each shift as a :class:`Night`: kept as the revised plan has it, or to plan (with
        the response stops from the first revised night on)."""
        index = {sid: i + 1 for i, sid in enumerate(self.stops["stop_id"])}
        weekly_ids = set(self.stops["stop_id"].iloc[:n_weekly])
        nights, grown = [], False
        for night_index, shift in enumerate(self.shifts):
            key = (self.team.name, shift.night.isoformat())
            common = {
                "index": night_index,
                "start_min": shift.start.hour * 60 + shift.start.minute,
                "epoch_min": shift.start.timestamp() / 60,
                "shift_minutes": self.team.config.shift_minutes,
                "seed": config.seed + 1000 * team_index + night_index,
            }
            untouched = revision is not None and (shift.night < revision.night or not len(response))
            if untouched and key in revision.kept:
                ids = list(revision.kept[key].stops["stop_id"].iloc[1:-1])
                known = weekly_ids if not grown else index  # the stops the week has so far
                walk = tuple(index[s] for s in ids) if all(s in known for s in ids) else None
                nights.append(
                    Night(**common, kept=tuple(index[s] for s in ids if s in index), kept_walk=walk)
                )
                continue
            revised = revision is not None and shift.night >= revision.night and len(response)
            grown = grown or bool(revised)
            if not revised:
                nights.append(Night(**common, grown=grown))
                continue
            was = revision.previous.get(key, set())
            nights.append(
                Night(
                    **common,
                    revised=True,
                    grown=True,
                    open_response=tuple(
                        bool(stop.due <= shift.start <= stop.closes)
                        for stop in response.itertuples()
                    ),
                    on_route=tuple(i for sid, i in index.items() if sid in was)
                    + self._walked_past(revision.kept.get(key)),
                )
            )
        return nights


def _timed_route(
    team: Team,
    net: TeamNetwork,
    team_stops: pd.DataFrame,
    shift: Shift,
    order: list[int],
    travel: np.ndarray,
    prize: np.ndarray,
    metres: np.ndarray,
    pred: np.ndarray,
    sources: np.ndarray,
    *,
    first_corner: int,
    revisit_share: float = 1.0,
) -> Route:
    """Give a stop order its clock times and its street path.

    A stop walked a second time that night is a stop of its own: its id gains ``-2``, its
    label says "again", and its prize is ``revisit_share`` of the first visit's.
    """
    dwell = pd.Timedelta(minutes=team.config.dwell_min)
    # Index 0 is the base; stop i is team_stops row i - 1; from ``first_corner`` on, a corner
    # walked past: on the street path and in the times, not a stop.
    points = [0, *order, 0]
    rows, passed = [], []
    clock = shift.start
    for step, point in enumerate(points):
        if step:
            clock = clock + pd.Timedelta(minutes=float(travel[points[step - 1], point]))
        if point >= first_corner:
            passed.append(step)
            continue
        is_base = point == 0
        arrive = clock
        depart = clock if is_base else clock + dwell
        if is_base:
            between = 0 < step < len(points) - 1  # back between two loops of the night
            back = points[:step].count(0) + 1
            row = {
                "stop_id": f"{team.slug}-base-{back}" if between else f"{team.slug}-base",
                "kind": "base",
                "label": "back at base: midpoint check-in" if between else "base",
                "corner": corner_name(net, net.base),
                "prize": 0.0,
                "node": net.base,
                "sources": [],
            }
        else:
            stop = team_stops.iloc[point - 1]
            again = point in points[1:step]
            row = {
                "stop_id": f"{stop['stop_id']}-2" if again else stop["stop_id"],
                "kind": stop["kind"],
                "label": f"{stop['label']}, again" if again else stop["label"],
                "corner": stop["corner"],
                "prize": round(float(prize[point]) * (revisit_share if again else 1.0), 3),
                "node": int(stop["node"]),
                "sources": list(stop["sources"]),
            }
        row.update(x=net.xy[row["node"], 0], y=net.xy[row["node"], 1], arrive=arrive, depart=depart)
        rows.append(row)
        clock = depart
    path, walk_m, legs = _street_path(net, [int(sources[p]) for p in points], points, pred, metres)
    for step in reversed(passed):  # the streets to a corner walked past lead on to the next stop
        before, after = legs.pop(step - 1), legs[step - 1]
        legs[step - 1] = _joined(before, after)
    return Route(
        team=team.name,
        slug=team.slug,
        shift=shift,
        stops=pd.DataFrame(rows),
        path=path,
        walk_m=walk_m,
        legs=legs,
    )


def _street_path(net, nodes, points, pred, metres):
    """Concatenate edge geometries along the shortest paths between consecutive stops.

    Returns the path, its length in metres, and per leg the streets walked as runs of
    (name, metres).
    """
    pieces = [net.xy[nodes[0]][None, :]]
    legs = []
    walk_m = 0.0
    for (a, _b), (na, nb) in zip(
        zip(points, points[1:], strict=False), zip(nodes, nodes[1:], strict=False), strict=True
    ):
        walk_m += float(metres[a, nb])
        chain = path_nodes(pred, a, na, nb)
        runs: list[tuple[str, float]] = []
        for i, j in zip(chain, chain[1:], strict=False):
            line = net.geometry[(i, j)]
            pieces.append(line[1:])
            length = float(np.hypot(*np.diff(line, axis=0).T).sum())
            name = net.names.get((i, j), "")
            if runs and runs[-1][0] == name:
                runs[-1] = (name, runs[-1][1] + length)
            else:
                runs.append((name, length))
        legs.append(runs)
    return np.vstack(pieces), walk_m, legs


def _joined(
    first: list[tuple[str, float]], then: list[tuple[str, float]]
) -> list[tuple[str, float]]:
    """Two legs' runs of (street, metres) as one: a street going on across them is one run."""
    if first and then and first[-1][0] == then[0][0]:
        return [*first[:-1], (then[0][0], first[-1][1] + then[0][1]), *then[1:]]
    return [*first, *then]


def path_nodes(pred: np.ndarray, row: int, source: int, target: int) -> list[int]:
    """The nodes of the shortest path from ``source`` to ``target``, from the predecessors
    ``pred[row]`` that ``scipy.sparse.csgraph.dijkstra`` gave for ``source``."""
    chain = [int(target)]
    while chain[-1] != source:
        chain.append(int(pred[row, chain[-1]]))
    return chain[::-1]


def street_name(value: object) -> str:
    """An edge's street name: osmnx gives a list where merged OSM ways had several."""
    if isinstance(value, list | tuple | np.ndarray):
        value = next((v for v in value if isinstance(v, str) and v.strip()), "")
    if not isinstance(value, str):
        return ""
    # OpenStreetMap's several names of one way in one value ("Leonard Avenue; Fifth Avenue"):
    # the first names it (corners.street_names matches requests against each).
    return next((part.strip() for part in value.split(";") if part.strip()), "")


def route_from_document(
    entry: dict[str, Any], team: Team, net: TeamNetwork, to_city: Transformer, timezone: str
) -> Route:
    """A route as ``plan.json`` holds it (one team, one night), back as a :class:`Route`.

    The nightly re-plan keeps the nights before it this way, so they are written again to the
    byte: stops sit on the team network's nodes, and coordinates rounded to 6 decimals come back
    to the same rounded values.
    """
    stops = entry["stops"]
    lon = np.array([s["lon"] for s in stops], dtype=float)
    lat = np.array([s["lat"] for s in stops], dtype=float)
    x, y = to_city.transform(lon, lat)
    _, nodes = cKDTree(net.xy).query(np.column_stack([x, y]))
    frame = pd.DataFrame(
        {
            "stop_id": [s["stop_id"] for s in stops],
            "kind": [s["kind"] for s in stops],
            "label": [s["label"] for s in stops],
            "corner": [s["corner"] for s in stops],
            "prize": [float(s["prize"]) for s in stops],
            "node": nodes.astype(int),
            "sources": [list(s["sources"]) for s in stops],
            "x": net.xy[nodes, 0],
            "y": net.xy[nodes, 1],
            "arrive": [pd.Timestamp(s["arrive"]).tz_convert(timezone) for s in stops],
            "depart": [pd.Timestamp(s["depart"]).tz_convert(timezone) for s in stops],
        }
    )
    path = np.array(entry["path"], dtype=float).reshape(-1, 2)
    px, py = to_city.transform(path[:, 0], path[:, 1])
    start = pd.Timestamp(entry["shift_start"]).tz_convert(timezone)
    end = pd.Timestamp(entry["shift_end"]).tz_convert(timezone)
    shift = Shift(night=dt.date.fromisoformat(entry["night"]), start=start, end=end)
    legs = [[(name, float(m)) for name, m in s["via"]] for s in stops[1:]]
    return Route(
        team=team.name,
        slug=team.slug,
        shift=shift,
        stops=frame,
        path=np.column_stack([px, py]),
        walk_m=float(entry["walk_km"]) * 1000,
        legs=legs,
        minutes=float(entry["duration_min"]),
    )
