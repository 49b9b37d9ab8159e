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
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from ._errors import InputDataError
from ._io import read_table
from .corners import CornerIndex, find_corner

__all__ = ["load_requests", "locate_corners"]

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
    problems += _not_degrees(frame, ids)
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


def _not_degrees(frame: pd.DataFrame, ids: pd.Series) -> list[str]:
    """A problem per CSV row whose `lat` or `lon` is no angle, saying when the two look
    swapped (a longitude of ±90..180 written as the latitude)."""
    if isinstance(frame, gpd.GeoDataFrame) or "lat" not in frame or "lon" not in frame:
        return []
    lat = pd.to_numeric(frame["lat"], errors="coerce")
    lon = pd.to_numeric(frame["lon"], errors="coerce")
    problems = []
    for i in frame.index[(lat.abs() > 90) | (lon.abs() > 180)]:
        if abs(lon[i]) <= 90 and abs(lat[i]) <= 180:
            problems.append(
                f"request {ids[i]}: `lat` {lat[i]} is no latitude: lat and lon look swapped; "
                f"write lat = {lon[i]}, lon = {lat[i]}"
            )
        else:
            problems.append(
                f"request {ids[i]}: `lat` {lat[i]}, `lon` {lon[i]} are not degrees; give "
                "WGS84 latitude and longitude"
            )
    return problems


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
