"""Where the plan puts each team at a given time.

A route in ``plan.json`` has its street path and its stops with arrival and departure times. A
team waits at each stop from arrival to departure and walks the path between stops at a steady
pace, so its scheduled position is a function of time: :func:`route_track` samples it at every
path vertex and :func:`position_at` interpolates. The overview map's time slider and the
``where`` lookup both use these.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

__all__ = ["position_at", "route_track"]

_EARTH_M = 6_371_008.8


def route_track(route: dict[str, Any]) -> np.ndarray:
    """``(k, 3)`` array of (POSIX seconds, lon, lat): the team's scheduled positions.

    Each stop appears twice, at its arrival and its departure; between stops the times grow
    with the distance walked along the path.
    """
    path = np.asarray(route["path"], dtype=float)
    stops = route["stops"]
    at = _stop_vertices(path, stops)
    step = _step_metres(path)
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
