"""Where the plan puts each team at a given time.

A route in ``plan.json`` has its street path and its stops with arrival and departure times. A
team waits at each stop from arrival to departure and walks the path between stops at a steady
pace, so its scheduled position is a function of time: :func:`route_track` samples it at every
path vertex and :func:`position_at` interpolates. The overview map's time slider uses these.

:func:`load_schedule` and :func:`nearest_teams` answer a coordinator's question, "which team is
nearest to this corner right now, and how long would they take on foot?", from a plan's output
folder alone (``plan.json`` and the walking graph beside it): no config, no network.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from pyproj import Transformer

from ._errors import InputDataError
from .corners import CornerIndex, find_corner, street_corners

__all__ = [
    "Schedule",
    "corner_visits",
    "load_schedule",
    "local_time",
    "nearest_teams",
    "walking_metres",
    "walking_path",
    "where_question",
    "position_at",
    "route_track",
]

_EARTH_M = 6_371_008.8


def corner_visits(route: dict[str, Any]) -> int:
    """The stops of a night's route the team spends its dwell at: every stop but the base at
    its start, its end and between its loops."""
    return sum(stop["kind"] != "base" for stop in route["stops"])


def route_track(route: dict[str, Any], *, projected: bool = False) -> np.ndarray:
    """``(k, 3)`` array of (POSIX seconds, lon, lat): the team's scheduled positions.

    Each stop appears twice, at its arrival and its departure; between stops the times grow
    with the distance walked along the path. With ``projected``, ``path`` and the stops'
    ``lon`` and ``lat`` are x and y in metres, and so is the track.
    """
    path = np.asarray(route["path"], dtype=float)
    stops = route["stops"]
    at = _stop_vertices(path, stops)
    step = np.hypot(*np.diff(path, axis=0).T) if projected else _step_metres(path)
    rows = []
    for (a, stop_a), (b, stop_b) in zip(
        zip(at[:-1], stops[:-1], strict=True), zip(at[1:], stops[1:], strict=True), strict=True
    ):
        leave = _seconds(stop_a["depart"])
        arrive = _seconds(stop_b["arrive"])
        rows.append((_seconds(stop_a["arrive"]), *path[a]))
        along = np.concatenate([[0.0], np.cumsum(step[a:b])])
        share = along / along[-1] if along[-1] > 0 else np.linspace(0, 1, len(along))
        for i, s in zip(range(a, b + 1), share, strict=True):
            rows.append((leave + s * (arrive - leave), *path[i]))
    last = stops[-1]
    rows.append((_seconds(last["depart"]), *path[at[-1]]))
    return np.array(rows)


def position_at(track: np.ndarray, when: float) -> tuple[float, float] | None:
    """(lon, lat) at POSIX time ``when``, or None outside the route's times."""
    times = track[:, 0]
    if when < times[0] or when > times[-1]:
        return None
    i = int(np.searchsorted(times, when, side="right")) - 1
    i = min(max(i, 0), len(times) - 2)
    span = times[i + 1] - times[i]
    share = (when - times[i]) / span if span > 0 else 0.0
    lon, lat = track[i, 1:] + share * (track[i + 1, 1:] - track[i, 1:])
    return float(lon), float(lat)


def _stop_vertices(path: np.ndarray, stops: list[dict[str, Any]]) -> list[int]:
    """The path vertex of each stop, in visiting order (the path passes through every stop)."""
    out, start = [], 0
    for k, stop in enumerate(stops):
        if k == len(stops) - 1:
            out.append(len(path) - 1)
            break
        d = np.hypot(path[start:, 0] - stop["lon"], path[start:, 1] - stop["lat"])
        # The first vertex at the stop from here on: a path may pass a corner twice.
        close = np.flatnonzero(d <= d.min() + 1e-7)
        start = start + int(close[0])
        out.append(start)
    return out


def _step_metres(path: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(path[:, 0]), np.radians(path[:, 1])
    x = np.diff(lon) * np.cos((lat[1:] + lat[:-1]) / 2)
    return np.hypot(x, np.diff(lat)) * _EARTH_M


def _seconds(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp).timestamp()


@dataclass(frozen=True)
class Schedule:
    """A plan's routes and walking graph, loaded once for many lookups."""

    document: dict[str, Any]
    timezone: ZoneInfo
    tracks: list[np.ndarray]  # per route of document["teams"]: route_track
    xy: np.ndarray  # (n, 2) graph nodes in the city CRS
    walk: Adjacency  # the streets both ways, for walking_metres
    to_city: Transformer  # WGS84 lon/lat -> city CRS
    crs: str  # the city's, of ``xy``
    streets: tuple[np.ndarray, np.ndarray, np.ndarray]  # per edge: node u, node v, street name
    tree: Any = None  # a scipy cKDTree of ``xy``, made only for many queries

    @functools.cached_property
    def graph(self):
        """The streets both ways as a scipy sparse matrix of metres (made on first use), for
        :func:`walking_path`."""
        from scipy.sparse import csr_matrix

        n = len(self.walk.start) - 1
        return csr_matrix((self.walk.metres, self.walk.to, self.walk.start), shape=(n, n))

    @functools.cached_property
    def corners(self) -> CornerIndex | None:
        """The corners by street name (made on first use); None when no street has a name."""
        u, v, names = self.streets
        if not any(isinstance(n, str) and n.strip() for n in names):
            return None
        xy = dict(enumerate(map(tuple, self.xy.tolist())))
        return street_corners(zip(u.tolist(), v.tolist(), names, strict=True), xy, crs=self.crs)


@dataclass(frozen=True)
class Adjacency:
    """The walking graph both ways, as compressed rows: node ``i``'s neighbours are
    ``to[start[i]:start[i + 1]]``, at ``metres[...]`` (the shortest of parallel streets).
    ``arrays`` holds the same as numpy arrays, made only for many queries (the compiled
    search of :mod:`outreach_routes._shortest`)."""

    start: list[int]
    to: list[int]
    metres: list[float]
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def load_schedule(plan: str | Path, *, many_queries: bool = False) -> Schedule:
    """Load ``plan.json`` (or its folder) with the walking graph written beside it.

    With ``many_queries`` (the service), walking times use a Dijkstra compiled with Numba
    that runs outside the GIL, and nearest corners a k-d tree; without it (one `where`), a
    heap in Python and brute force, so that the command neither imports scipy and Numba nor
    compiles (a second or more of its start, ``benchmarks/cli_start.py``). Both give the same
    answers.
    """
    path = Path(plan)
    folder = path if path.is_dir() else path.parent
    try:
        document = json.loads((folder / "plan.json").read_text("utf-8"))
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        graph_files = manifest["outputs"]["walking_graph"]
        nodes = _read_columns(folder / graph_files["nodes"], ["osmid", "x", "y"])
        edges = _read_columns(folder / graph_files["edges"], ["u", "v", "length", "name"])
    except (OSError, KeyError, ValueError) as exc:
        raise InputDataError(
            f"{folder}: not a complete plan folder ({exc}); give the folder `outreach-routes "
            "plan` wrote, or its plan.json"
        ) from exc
    ids = nodes["osmid"]
    by_id = np.argsort(ids, kind="stable")
    u, v = (by_id[np.searchsorted(ids, edges[end], sorter=by_id)] for end in ("u", "v"))
    walk = _adjacency(u, v, edges["length"], len(ids), many_queries)
    xy = np.column_stack([nodes["x"], nodes["y"]])
    names = edges.get("name", [None] * len(u))
    return Schedule(
        document=document,
        timezone=ZoneInfo(document["timezone"]),
        tracks=[route_track(r) for r in document["teams"]],
        xy=xy,
        walk=walk,
        to_city=Transformer.from_crs("EPSG:4326", graph_files["crs"], always_xy=True),
        crs=graph_files["crs"],
        streets=(u, v, np.asarray(names, dtype=object)),
        tree=_tree(xy) if many_queries else None,
    )


def _tree(xy: np.ndarray):
    from scipy.spatial import cKDTree

    return cKDTree(xy)


def _nearest_nodes(schedule: Schedule, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per point (rows of x, y in the city CRS), the distance to the nearest graph node and
    its index. Without a k-d tree, by brute force: a third of a millisecond a point for a
    city's nodes, and no ``scipy.spatial`` to import (a sixth of ``where``'s start)."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    if schedule.tree is not None:
        gaps, nodes = schedule.tree.query(points)
        return np.asarray(gaps, dtype=float), np.asarray(nodes, dtype=int)
    xy = schedule.xy
    nodes = np.empty(len(points), dtype=int)
    gaps = np.empty(len(points))
    for k, (x, y) in enumerate(points):
        d = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
        nodes[k] = int(np.argmin(d))
        gaps[k] = d[nodes[k]]
    return gaps, nodes


def _read_columns(path: Path, wanted: list[str]) -> dict[str, Any]:
    """The ``wanted`` columns a Parquet file has: numbers as numpy arrays, text as lists.

    Read with pyarrow alone (a ``ParquetFile``, whose arrays are turned into numpy from their
    buffers): ``where`` answers without importing pandas, a third of its start-up time
    (``benchmarks/cli_start.py``)."""
    import pyarrow.parquet as pq  # here, so that `--help` does not pay for it

    parquet = pq.ParquetFile(path)
    present = [c for c in wanted if c in parquet.schema_arrow.names]
    table = parquet.read(columns=present, use_pandas_metadata=False)
    out: dict[str, Any] = {}
    for name in present:
        column = table.column(name)
        kind = str(column.type)
        if kind in ("string", "large_string"):
            out[name] = column.to_pylist()
            continue
        if kind not in _NUMPY_TYPES or column.null_count:
            raise ValueError(
                f"{path.name}: column {name!r} is {kind} with {column.null_count} "
                "empty values; write the plan again"
            )
        dtype = _NUMPY_TYPES[kind]
        out[name] = np.concatenate(
            [
                np.frombuffer(c.buffers()[1], dtype=dtype)[c.offset : c.offset + len(c)]
                for c in column.chunks
            ]
            or [np.zeros(0, dtype)]
        )
    return out


_NUMPY_TYPES = {"int64": np.int64, "int32": np.int32, "double": np.float64, "float": np.float32}


# Farther than this (metres) from the walking graph, a place is off the streets the plan knows.
OFF_NETWORK_M = 300.0


def nearest_teams(
    schedule: Schedule,
    at: str | dt.datetime,
    near: str | tuple[float, float],
    *,
    reported: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every team at time ``at``: those on shift nearest first, then those off shift.

    Parameters
    ----------
    at
        A time; without a UTC offset it is read in the city's time zone.
    near
        ``(lat, lon)``, ``"lat,lon"``, or a street corner such as ``"W Broadway & Emerson Ave
        N"`` where the network has street names.

    Returns
    -------
    list of dict
        ``team``, ``on_shift``, ``position`` ([lon, lat] where the plan puts the team, None
        off shift), ``status`` ("at stop 4", "walking to stop 5", ...), ``next_stop``
        (number, label, arrive), ``walk_min`` (on foot to ``near`` over the streets, at the
        team's pace), ``contact``, ``next_shift_start`` (ISO time, None when none is left in
        the plan's week), ``off_network_m`` (how far ``near`` is from the nearest street corner
        of the walking graph: beyond ``OFF_NETWORK_M`` the walking times are guesses), and
        ``source``: ``"plan"``, or ``"check-in"`` where ``reported`` gave the team's place.
    reported
        Per team on shift, what it last reported (the service's check-ins): ``lon``, ``lat``,
        ``age_min`` and ``status`` ("checked in at stop 3"). It replaces the plan's place and
        status, and ``check_in_age_min`` says how old it is.
    """
    when, target = where_question(schedule, at, near)
    routes = schedule.document["teams"]
    t = when.timestamp()
    rows, placed = [], []  # placed: (row, route, track, lon, lat, report) of teams on shift
    for team in dict.fromkeys(r["team"] for r in routes):
        mine = [(r, k) for k, r in enumerate(routes) if r["team"] == team]
        on = next(
            (
                (r, k)
                for r, k in mine
                if _seconds(r["shift_start"]) <= t <= _seconds(r["shift_end"])
            ),
            None,
        )
        later = [r["shift_start"] for r, _k in mine if _seconds(r["shift_start"]) > t]
        row: dict[str, Any] = {
            "team": team,
            "on_shift": on is not None,
            "position": None,
            "status": "off shift",
            "next_stop": None,
            "walk_min": None,
            "contact": mine[0][0]["contact"],
            "next_shift_start": min(later, key=_seconds) if later else None,
            "off_network_m": None,
            "source": "plan",
        }
        rows.append(row)
        if on is not None:
            route, k = on
            track = schedule.tracks[k]
            lon, lat = position_at(track, min(max(t, track[0, 0]), track[-1, 0]))
            report = (reported or {}).get(team)
            if report is not None:
                lon, lat = report["lon"], report["lat"]
            placed.append((row, route, track, lon, lat, report))
    # every corner at once: the asked place first, then each team on shift
    lon_lat = np.array([(lon, lat) for _row, _r, _t, lon, lat, _rep in placed]).reshape(-1, 2)
    xs, ys = schedule.to_city.transform(lon_lat[:, 0], lon_lat[:, 1])
    gaps, nodes = _nearest_nodes(schedule, np.vstack([target, np.column_stack([xs, ys])]))
    gap = float(gaps[0])
    # the search stops once it has reached every team on shift (none: no search)
    metres = walking_metres(schedule.walk, int(nodes[0]), stop_at=nodes[1:]) if placed else None
    for row in rows:
        row["off_network_m"] = round(gap)
    for (row, route, track, lon, lat, report), offset, at_node in zip(
        placed, gaps[1:], nodes[1:], strict=True
    ):
        assert metres is not None
        walk_m = float(metres[at_node]) + float(offset) + gap
        status, stop = _status(route, track, t)
        if report is not None:
            status = report["status"]
            row.update(source="check-in", check_in_age_min=round(report["age_min"], 1))
        row.update(
            position=[round(lon, 6), round(lat, 6)],
            status=status,
            next_stop=stop,
            walk_min=round(walk_m / (route["walk_speed_kmh"] * 1000 / 60), 1)
            if np.isfinite(walk_m)
            else None,
        )
    on_shift = sorted(
        (r for r in rows if r["on_shift"]),
        key=lambda r: (r["walk_min"] is None, r["walk_min"] or 0.0, r["team"]),
    )
    off_shift = sorted(
        (r for r in rows if not r["on_shift"]),
        key=lambda r: (r["next_shift_start"] is None, _seconds(r["next_shift_start"] or "")),
    )
    return on_shift + off_shift


def _status(route: dict[str, Any], track: np.ndarray, t: float):
    stops = route["stops"][1:-1]
    if t < track[0, 0]:
        return "at base, leaving soon", _stop_info(1, stops[0]) if stops else None
    for number, stop in enumerate(stops, start=1):
        if t < _seconds(stop["arrive"]):
            return f"walking to stop {number}", _stop_info(number, stop)
        if t <= _seconds(stop["depart"]):
            return f"at stop {number}", _stop_info(number, stop)
    if t < track[-1, 0]:
        return "walking back to base", None
    return "back at base", None


def _stop_info(number: int, stop: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": number,
        "corner": stop.get("corner"),
        "label": stop["label"],
        "arrive": stop["arrive"],
    }


def where_question(
    schedule: Schedule, at: str | dt.datetime, near: str | tuple[float, float]
) -> tuple[dt.datetime, np.ndarray]:
    """The time and place of a :func:`nearest_teams` question, checked: the city's time, and
    the place in the city CRS. Raises :class:`InputDataError`, with the fix, for a place it
    cannot find or a time outside the plan's week."""
    when = local_time(schedule, at)
    target = place_xy(schedule, near)
    routes = schedule.document["teams"]
    monday = dt.datetime.combine(
        dt.date.fromisoformat(schedule.document["week_of"]), dt.time(), schedule.timezone
    )
    last = max(dt.datetime.fromisoformat(r["shift_end"]) for r in routes)
    if not monday <= when <= max(last, monday + dt.timedelta(days=7)):
        raise InputDataError(
            f"{when:%a %d %b %Y %H:%M} is outside this plan's week ({monday:%a %d %b} to "
            f"{last:%a %d %b %H:%M}); ask the plan of that week"
        )
    return when, target


def local_time(schedule: Schedule, at: str | dt.datetime) -> dt.datetime:
    """``at`` in the city's time zone; a time without a UTC offset is read in it."""
    if isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at)
        except ValueError as exc:
            raise InputDataError(
                f"--at {at!r} is not a time; write it as YYYY-MM-DDTHH:MM, e.g. 2023-01-07T21:30 "
                "(the city's local time)"
            ) from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=schedule.timezone)
    return at.astimezone(schedule.timezone)


_LATLON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def place_lat_lon(schedule: Schedule, near: str | tuple[float, float]) -> tuple[float, float]:
    """``(lat, lon)`` of a place given as ``near`` is to :func:`nearest_teams`."""
    x, y = place_xy(schedule, near)
    lon, lat = schedule.to_city.transform(x, y, direction="INVERSE")
    return float(lat), float(lon)


def place_xy(schedule: Schedule, near: str | tuple[float, float]) -> np.ndarray:
    """A place given as ``"lat,lon"``, ``(lat, lon)`` or a corner by name, in the city CRS."""
    if isinstance(near, str):
        match = _LATLON.match(near)
        if match is None:
            if schedule.corners is None:
                raise InputDataError(
                    f"--near {near!r}: this plan's street network has no street names, so "
                    'give the place as "lat,lon", e.g. "39.99,-75.15"'
                )
            return np.array(find_corner(near, schedule.corners))
        near = (float(match.group(1)), float(match.group(2)))
    lat, lon = near
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputDataError(f"--near {near}: give latitude first, then longitude")
    return np.array(schedule.to_city.transform(lon, lat))


def _adjacency(u: np.ndarray, v: np.ndarray, length: np.ndarray, n: int, compiled: bool):
    """Both-ways adjacency of the streets, the shortest of parallel ones."""
    a, b = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((length, b, a))  # by pair, shortest first
    a, b, length = a[order], b[order], length[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, length = a[first], b[first], length[first]
    rows, cols = np.concatenate([a, b]), np.concatenate([b, a])
    metres = np.concatenate([length, length])
    order = np.argsort(rows, kind="stable")
    start = np.searchsorted(rows[order], np.arange(n + 1))
    start, to, metres = start, cols[order], metres[order]
    arrays = None
    if compiled:
        from ._shortest import dijkstra

        arrays = (start.astype(np.int64), to.astype(np.int64), metres.astype(np.float64))
        dijkstra(*arrays, 0, np.arange(1))  # compiled (or read from Numba's cache) now
    return Adjacency(start.tolist(), to.tolist(), metres.tolist(), arrays)


def walking_path(
    schedule: Schedule, start: tuple[float, float], end: tuple[float, float]
) -> tuple[list[tuple[float, float]], float] | None:
    """The shortest walk over the streets from ``start`` to ``end`` (each ``(lat, lon)``):
    its points as ``(lat, lon)`` from ``start`` to ``end`` (the two places joined to their
    nearest street corners by a straight step) and its metres; None where no street leads
    there (scipy's Dijkstra)."""
    from scipy.sparse.csgraph import dijkstra

    xs, ys = schedule.to_city.transform([start[1], end[1]], [start[0], end[0]])
    gaps, (source, target) = _nearest_nodes(schedule, np.column_stack([xs, ys]))
    metres, before = dijkstra(schedule.graph, indices=int(source), return_predecessors=True)
    if not np.isfinite(metres[target]):
        return None
    nodes = [int(target)]
    while nodes[-1] != source:
        nodes.append(int(before[nodes[-1]]))
    nodes.reverse()
    lon, lat = schedule.to_city.transform(
        schedule.xy[nodes, 0], schedule.xy[nodes, 1], direction="INVERSE"
    )
    points = [start, *zip(np.asarray(lat).tolist(), np.asarray(lon).tolist(), strict=True), end]
    return points, float(metres[target] + gaps.sum())


def walking_metres(walk: Adjacency, source: int, stop_at: Sequence[int] = ()) -> np.ndarray:
    """Metres on foot from node ``source`` to every node (``inf`` where no street leads).
    With ``stop_at``, the search stops once it has reached all of those nodes: they are exact,
    and nodes it did not reach are ``inf``."""
    if walk.arrays is not None:
        from ._shortest import dijkstra

        return dijkstra(*walk.arrays, source, np.asarray(stop_at, dtype=np.int64))
    start, to, metres = walk.start, walk.to, walk.metres
    n = len(start) - 1
    dist = [math.inf] * n
    settled = [False] * n
    left = {int(node) for node in stop_at}
    stops = bool(left)
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        here, node = heapq.heappop(heap)
        if settled[node]:
            continue
        settled[node] = True
        left.discard(node)
        if stops and not left:
            break
        for k in range(start[node], start[node + 1]):
            there = here + metres[k]
            if there < dist[to[k]]:
                dist[to[k]] = there
                heapq.heappush(heap, (there, to[k]))
    return np.where(settled, dist, math.inf)
