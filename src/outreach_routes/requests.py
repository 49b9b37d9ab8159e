"""Community requests: places a group asked the teams to cover, with priority and valid dates.

A request is a point, an area, or a street corner written as people write it ("W Broadway &
Emerson Ave N"), matched offline against the street names of the walking graph. Requests come
from a GIS file, or from a CSV with ``lat``/``lon`` or ``intersection`` columns.

Returns a ``requests`` GeoDataFrame (``request_id``, ``priority`` 1-5, ``requester``, ``note``,
``valid_from``, ``valid_to``, ``intersection``, ``team``, ``active`` for the plan week, point or
polygon geometry in the city's projected CRS; corners get their point from
:func:`locate_corners`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree
from sklearn.cluster import DBSCAN

from ._errors import InputDataError
from ._io import read_table

__all__ = [
    "CornerIndex",
    "corner_index",
    "find_corner",
    "load_requests",
    "locate_corners",
    "normalise_street",
]

REQUIRED = ("request_id", "priority", "requester", "note", "valid_from", "valid_to")
COLUMNS = [*REQUIRED, "intersection", "team", "active", "geometry"]


def load_requests(
    path: Path | None, *, crs: str, week_start: dt.date, week_end: dt.date
) -> gpd.GeoDataFrame:
    """Read community requests and mark those valid during the plan week.

    Parameters
    ----------
    path
        A GIS file of points and polygons, or a CSV with ``lat`` and ``lon`` or an
        ``intersection`` column; ``None`` gives no requests.
    crs
        The city's projected CRS.
    week_start, week_end
        First and last day of the plan week; a request is active when its valid dates overlap.

    Raises
    ------
    InputDataError
        Naming the file, the request and the field: a missing column, a priority outside 1-5,
        an unreadable date, an invalid polygon, or a request with no place at all.
    """
    if path is None:
        empty = gpd.GeoDataFrame(columns=COLUMNS, geometry="geometry", crs=crs)
        return empty.astype({"active": bool})
    frame = read_table(path)
    missing = [c for c in REQUIRED if c not in frame]
    if missing:
        raise InputDataError(*(_missing_column(path, frame, name) for name in missing))
    frame = frame.reset_index(drop=True)
    geometry = _request_geometry(frame, path)
    corner = (
        frame["intersection"].astype("string").str.strip().replace("", pd.NA)
        if "intersection" in frame
        else pd.Series(pd.NA, index=frame.index, dtype="string")
    )
    problems = []
    ids = frame["request_id"].astype(str)
    priority = pd.to_numeric(frame["priority"], errors="coerce")
    for i in frame.index[~priority.between(1, 5)]:
        problems.append(
            f"request {ids[i]}: `priority` {frame.at[i, 'priority']} must be 1 (low) to 5 (high)"
        )
    dates = {}
    for key in ("valid_from", "valid_to"):
        dates[key] = pd.to_datetime(frame[key], errors="coerce", format="ISO8601").dt.date
        for i in frame.index[dates[key].isna()]:
            problems.append(
                f"request {ids[i]}: `{key}` '{frame.at[i, key]}' is not a date like 2023-01-31"
            )
    for i in frame.index:
        geom = geometry.iloc[i]
        if geom is None or geom.is_empty:
            if pd.isna(corner[i]):
                problems.append(
                    f"request {ids[i]}: no place; give a geometry, `lat` and `lon`, or an "
                    "`intersection` like 'Lake St & Chicago Ave'"
                )
        elif geom.geom_type not in ("Point", "Polygon", "MultiPolygon"):
            problems.append(
                f"request {ids[i]}: geometry {geom.geom_type} must be a point or a polygon"
            )
        elif not geom.is_valid:
            problems.append(
                f"request {ids[i]}: the polygon is invalid ({shapely.is_valid_reason(geom)}); "
                "fix it, e.g. with `shapely.make_valid`"
            )
    for rid in ids[ids.duplicated()].unique():
        problems.append(f"request id {rid!r} is used twice; ids must differ")
    if problems:
        raise InputDataError(*(f"{path}: {problem}" for problem in problems))
    team = (
        frame["team"].astype("string").str.strip().replace("", pd.NA)
        if "team" in frame
        else pd.Series(pd.NA, index=frame.index, dtype="string")
    )
    requests = gpd.GeoDataFrame(
        {
            "request_id": ids,
            "priority": priority.astype(int),
            "requester": frame["requester"].fillna("").astype(str),
            "note": frame["note"].fillna("").astype(str),
            "valid_from": dates["valid_from"],
            "valid_to": dates["valid_to"],
            "intersection": corner,
            "team": team,
        },
        geometry=geometry,
    ).to_crs(crs)
    requests["active"] = (requests["valid_from"] <= week_end) & (requests["valid_to"] >= week_start)
    return requests[COLUMNS]


def locate_corners(
    requests: gpd.GeoDataFrame,
    index: CornerIndex,
    territories: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Give every active corner request the point where its two streets meet.

    A request's ``team`` (or, without one, every territory) picks the corner when the two
    streets meet more than once. Returns the requests and the ones left without a point
    (``request_id``, ``reason``: what the matcher found, with its candidates): those are not
    served this week, and the plan says why.
    """
    requests = requests.copy()
    todo = requests["active"] & requests.geometry.isna() & requests["intersection"].notna()
    unplaced = []
    everywhere = territories.union_all() if len(territories) else None
    for i in requests.index[todo]:
        team = requests.at[i, "team"]
        area, area_name = everywhere, "any territory (no `team` given: every territory searched)"
        if pd.notna(team):
            match = territories[territories["team"] == team]
            if len(match):
                area, area_name = match.union_all(), f"team {team}'s territory"
        try:
            x, y = find_corner(
                requests.at[i, "intersection"], index, within=area, area_name=area_name
            )
        except InputDataError as exc:
            unplaced.append({"request_id": requests.at[i, "request_id"], "reason": str(exc)})
            continue
        requests.loc[[i], "geometry"] = gpd.GeoSeries(
            [shapely.Point(x, y)], crs=requests.crs, index=[i]
        )
    return requests, pd.DataFrame(unplaced, columns=["request_id", "reason"])


def _missing_column(path: Path, frame: pd.DataFrame, name: str) -> str:
    """A missing request field, with the file's column it was probably meant to be."""
    known = set(COLUMNS) | {"lat", "lon", "intersection"}
    unknown = [str(c) for c in frame.columns if str(c) not in known]
    close = difflib.get_close_matches(name, unknown, n=1, cutoff=0.6)
    hint = (
        f"; the file has `{close[0]}`, which is not a known field: rename it `{name}`"
        if close
        else f"; the file has {', '.join(f'`{c}`' for c in frame.columns)}"
    )
    return (
        f"{path}: requests need the field `{name}`{hint}. Each request needs "
        f"{', '.join(REQUIRED)}, and a place (geometry, lat/lon or intersection)"
    )


def _request_geometry(frame: pd.DataFrame, path: Path) -> gpd.GeoSeries:
    if isinstance(frame, gpd.GeoDataFrame):
        return frame.geometry
    if "lat" in frame and "lon" in frame:
        lat = pd.to_numeric(frame["lat"], errors="coerce")
        lon = pd.to_numeric(frame["lon"], errors="coerce")
        points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
        points[lat.isna() | lon.isna()] = None
        return points
    return gpd.GeoSeries([None] * len(frame), crs="EPSG:4326")


# --- street corners ---------------------------------------------------------------------------

_SUFFIXES = {
    "AVENUE": "AVE",
    "AV": "AVE",
    "STREET": "ST",
    "BOULEVARD": "BLVD",
    "ROAD": "RD",
    "DRIVE": "DR",
    "PLACE": "PL",
    "LANE": "LN",
    "PARKWAY": "PKWY",
    "TERRACE": "TER",
    "COURT": "CT",
    "CIRCLE": "CIR",
    "HIGHWAY": "HWY",
    "WAY": "WAY",
    "TRAIL": "TRL",
}
_SUFFIX_SET = set(_SUFFIXES.values()) | {"PKY", "MALL"}
_DIRECTIONS = {
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
}
_DIRECTION_SET = set(_DIRECTIONS.values())
_ORDINAL_WORDS = {
    "FIRST": 1,
    "SECOND": 2,
    "THIRD": 3,
    "FOURTH": 4,
    "FIFTH": 5,
    "SIXTH": 6,
    "SEVENTH": 7,
    "EIGHTH": 8,
    "NINTH": 9,
    "TENTH": 10,
    "ELEVENTH": 11,
    "TWELFTH": 12,
    "THIRTEENTH": 13,
    "FOURTEENTH": 14,
    "FIFTEENTH": 15,
    "SIXTEENTH": 16,
    "SEVENTEENTH": 17,
    "EIGHTEENTH": 18,
    "NINETEENTH": 19,
    "TWENTIETH": 20,
}
_SPLIT = re.compile(r"\s*(?:&|\+|/|@|\band\b|\bat\b)\s*", flags=re.IGNORECASE)
_BLOCK = re.compile(r"^\s*\d+\s+block\s+of\s+", flags=re.IGNORECASE)


def normalise_street(name: str) -> str:
    """Upper case, abbreviated suffix and directions, ordinal numbers: ``"42nd Street N."`` ->
    ``"42ND ST N"``."""
    text = _BLOCK.sub("", str(name)).upper().replace(".", " ").replace(",", " ")
    tokens = []
    for token in text.split():
        token = _SUFFIXES.get(token, _DIRECTIONS.get(token, token))
        if token in _ORDINAL_WORDS:
            token = str(_ORDINAL_WORDS[token])
        if token.isdigit():
            token += _ordinal_suffix(int(token))
        tokens.append(token)
    return " ".join(tokens)


def _ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "TH"
    return {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")


def _variants(name: str) -> list[str]:
    """Forms to look a name up by, most specific first.

    Suffixes and trailing directions are dropped one by one; a trailing direction is also
    tried in front ("Broadway Ave W" -> "W BROADWAY"), and a leading direction is dropped last,
    since it can be part of the name (WEST BROADWAY is not BROADWAY).
    """
    tokens = normalise_street(name).split()
    out = [tokens]
    trimmed = tokens[:]
    while len(trimmed) > 1 and (trimmed[-1] in _SUFFIX_SET or trimmed[-1] in _DIRECTION_SET):
        if trimmed[-1] in _DIRECTION_SET and trimmed[0] not in _DIRECTION_SET:
            core = [t for t in trimmed[:-1] if t not in _SUFFIX_SET]
            out.append([trimmed[-1], *core])
        trimmed = trimmed[:-1]
        out.append(trimmed)
    if len(trimmed) > 1 and trimmed[0] in _DIRECTION_SET:
        out.append(trimmed[1:])
    joined = " ".join(trimmed)
    # Initials written apart ("E M Stately") are one word in many files ("EM STATELY").
    initials = re.sub(r"\b([A-Z]) (?=[A-Z]\b)", r"\1", joined)
    if initials != joined:
        out.append(initials.split())
    return list(dict.fromkeys(" ".join(t) for t in out))


@dataclass(frozen=True)
class CornerIndex:
    """Street corners of a walking graph, looked up by the names of the streets that meet."""

    names: frozenset[str]
    nodes_by_name: dict[str, frozenset[int]]
    xy: dict[int, tuple[float, float]]
    crs: str | None = None  # of ``xy``; messages give places as "lat, lon"

    def latlon(self, points: list[tuple[float, float]]) -> str:
        """Places for a message: "44.94837, -93.26231; ..." (at most five)."""
        points = points[:5]
        if self.crs is None:  # a graph that never had a CRS is in degrees already
            return "; ".join(f"{y:.5f}, {x:.5f}" for x, y in points)
        to_wgs = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return "; ".join(
            f"{lat:.5f}, {lon:.5f}" for lon, lat in (to_wgs.transform(*p) for p in points)
        )


def corner_index(graph: nx.Graph, crs: str | None = None) -> CornerIndex:
    """Index the graph's nodes by the normalised names of the streets meeting at each.

    ``crs`` is the graph's (default: ``graph.graph["crs"]``).
    """
    by_name: dict[str, set[int]] = {}
    for u, v, data in graph.edges(data=True):
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            continue
        key = normalise_street(name)
        by_name.setdefault(key, set()).update((u, v))
    xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
    return CornerIndex(
        names=frozenset(by_name),
        nodes_by_name={k: frozenset(v) for k, v in by_name.items()},
        xy=xy,
        crs=str(crs or graph.graph.get("crs")) if (crs or graph.graph.get("crs")) else None,
    )


def find_corner(
    text: str,
    index: CornerIndex,
    *,
    within: shapely.Geometry | None = None,
    same_corner_m: float = 120.0,
    gap_m: float = 60.0,
    area_name: str = "the team's territory",
) -> tuple[float, float]:
    """Coordinates of the corner a person wrote, like ``"W Broadway & Emerson Ave N"``.

    Parameters
    ----------
    text
        Two street names joined by ``&``, ``and``, ``/`` or ``@``.
    index
        From :func:`corner_index`.
    within
        Where the corner should be (the requesting team's territory): used when the two streets
        meet more than once.
    same_corner_m
        Nodes of the two streets closer than this are one corner (divided roads).
    gap_m
        Streets that never share a node but come this close meet there (a street that stops
        just short of the other, as files often draw them).
    area_name
        What ``within`` is, for messages, after "inside": "the team's territory".

    Raises
    ------
    InputDataError
        For an unknown street (listing the closest names) or a pair of streets that meet in
        several places (listing them).
    """
    parts = [p for p in _SPLIT.split(str(text)) if p.strip()]
    if len(parts) != 2:
        raise InputDataError(
            f"corner {text!r}: write two street names joined by '&' or 'and', e.g. "
            "'Lake St & Chicago Ave'"
        )
    keys = [_street_keys(text, part, index) for part in parts]
    # Every reading of the two names that meets somewhere, most literal first; prefer the
    # first reading that meets inside `within`.
    readings = []
    for first in keys[0]:
        for second in keys[1]:
            common = index.nodes_by_name[first] & index.nodes_by_name[second]
            if common:
                readings.append(_cluster([index.xy[n] for n in sorted(common)], same_corner_m))
    clusters = readings[0] if readings else []
    where, elsewhere = "in the network", ""
    if within is not None:
        inside = (
            [c for c in reading if within.intersects(shapely.Point(c))] for reading in readings
        )
        where = f"inside {area_name}"
        if clusters:
            elsewhere = f"; they meet at {index.latlon(clusters)} (lat, lon)"
        clusters = next((c for c in inside if c), [])
    if not clusters:
        near = _nearest_approach(index, keys, within)
        if near is not None and near[1] <= gap_m:
            return near[0]
        raise InputDataError(
            f"corner {text!r}: these streets do not meet {where}{elsewhere}"
            + _closest_note(index, near)
        )
    if len(clusters) > 1:
        raise InputDataError(
            f"corner {text!r}: these streets meet at {len(clusters)} places "
            f"({index.latlon(clusters)}, as lat, lon); give the request a point instead, or a "
            "`team` whose territory holds only one of them"
        )
    return clusters[0]


def corner_outcomes(
    addresses: list[str],
    points: np.ndarray,
    index: CornerIndex,
    areas: gpd.GeoSeries,
    *,
    right_m: float = 400.0,
    on_street_m: float = 150.0,
) -> pd.DataFrame:
    """Match corners whose true points are known, and say how each came out.

    Each address is matched with the area holding its point (plus 200 m) as the team's
    territory. ``outcome`` is "right" (within ``right_m`` of the point), "wrong", or
    "reported" (an error naming the candidates, in ``message``). ``truth_on_streets`` says
    whether the known point lies within ``on_street_m`` of both named streets at all; where
    it does not, the point itself was placed wrongly (a geocoder that matched one street
    only) or the network lacks the street there.
    """
    rows = []
    for address, point in zip(addresses, points, strict=True):
        holding = areas[areas.contains(point)]
        within = holding.union_all().buffer(200) if len(holding) else None
        message = ""
        try:
            corner = find_corner(address, index, within=within)
            outcome = "right" if shapely.Point(corner).distance(point) < right_m else "wrong"
        except InputDataError as exc:
            outcome, message = "reported", str(exc)
        rows.append(
            {
                "address": address,
                "outcome": outcome,
                "message": message,
                "truth_on_streets": _on_both_streets(address, point, index, on_street_m),
            }
        )
    return pd.DataFrame(rows)


def _on_both_streets(address: str, point: shapely.Point, index: CornerIndex, gap_m: float):
    parts = [p for p in _SPLIT.split(str(address)) if p.strip()]
    for part in parts:
        try:
            names = _street_keys(address, part, index)
        except InputDataError:
            return False
        xy = np.vstack([_node_xy(index, name, None) for name in names])
        if np.hypot(*(xy - [point.x, point.y]).T).min() > gap_m:
            return False
    return len(parts) == 2


def _street_keys(text: str, part: str, index: CornerIndex) -> list[str]:
    """Names in the index that ``part`` may mean, most literal first."""
    found = [v for v in _variants(part) if v in index.names]
    if not found:
        close = difflib.get_close_matches(_variants(part)[-1], index.names, n=4, cutoff=0.6)
        raise InputDataError(
            f"corner {text!r}: no street named {part.strip()!r} in the network; closest "
            f"names: {', '.join(sorted(close)) or 'none'}"
        )
    # A bare name may be a directional street people shorten ("Broadway" for WEST
    # BROADWAY), or a name whose file form keeps a suffix ("Nicollet" for NICOLLET MALL):
    # try those after the exact forms.
    base = found[-1]
    found += [f"{d} {base}" for d in sorted(_DIRECTION_SET) if f"{d} {base}" in index.names]
    found += [f"{base} {s}" for s in sorted(_SUFFIX_SET) if f"{base} {s}" in index.names]
    return list(dict.fromkeys(found))


def _closest_note(index: CornerIndex, near: tuple[tuple[float, float], float] | None) -> str:
    if near is None:
        return ""
    point, gap = near
    return f"; they come closest at {index.latlon([point])} (lat, lon), {gap:.0f} m apart"


def _nearest_approach(
    index: CornerIndex, keys: list[list[str]], within: shapely.Geometry | None
) -> tuple[tuple[float, float], float] | None:
    """The node of the first street nearest to the second (over every reading of the two
    names, inside ``within`` when given), and the gap between them in metres."""
    best = None
    for first in keys[0]:
        for second in keys[1]:
            a, b = (_node_xy(index, name, within) for name in (first, second))
            if not len(a) or not len(b):
                continue
            distance, _ = cKDTree(b).query(a)
            i = int(np.argmin(distance))
            if best is None or distance[i] < best[1]:
                best = ((float(a[i, 0]), float(a[i, 1])), float(distance[i]))
    return best


def _node_xy(index: CornerIndex, name: str, within: shapely.Geometry | None) -> np.ndarray:
    xy = np.array([index.xy[n] for n in sorted(index.nodes_by_name[name])]).reshape(-1, 2)
    if within is not None and len(xy):
        xy = xy[shapely.intersects(within, shapely.points(xy))]
    return xy


def _cluster(points: list[tuple[float, float]], radius: float) -> list[tuple[float, float]]:
    """Group nearby points; return each group's point closest to the group's centre."""
    xy = np.asarray(points)
    labels = DBSCAN(eps=radius, min_samples=1).fit_predict(xy)
    out = []
    for label in sorted(set(labels)):
        members = xy[labels == label]
        centre = members.mean(axis=0)
        best = members[np.argmin(np.hypot(*(members - centre).T))]
        out.append((float(best[0]), float(best[1])))
    return out
