"""Community requests: places a group asked the teams to cover, with priority and valid dates.

Returns a ``requests`` GeoDataFrame (``request_id``, ``priority`` 1-5, ``requester``, ``note``,
``valid_from``, ``valid_to``, ``active`` for the plan week, point or polygon geometry in the
city's projected CRS).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ._errors import InputDataError
from ._io import read_vector

__all__ = ["load_requests"]

REQUIRED = ("request_id", "priority", "requester", "note", "valid_from", "valid_to")


def load_requests(
    path: Path | None, *, crs: str, week_start: dt.date, week_end: dt.date
) -> gpd.GeoDataFrame:
    """Read community requests and mark those valid during the plan week.

    Parameters
    ----------
    path
        A GeoJSON (or any GIS file) of points and polygons; ``None`` gives no requests.
    crs
        The city's projected CRS.
    week_start, week_end
        First and last day of the plan week; a request is active when its valid dates overlap.

    Raises
    ------
    InputDataError
        Naming the file, the request and the field, for a missing column, a priority outside
        1-5, an unreadable date or a geometry that is neither a point nor a polygon.
    """
    columns = [*REQUIRED, "active", "geometry"]
    if path is None:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=crs)
    frame = read_vector(path, what="requests")
    missing = [c for c in REQUIRED if c not in frame]
    if missing:
        raise InputDataError(
            f"{path}: requests need the field(s) {', '.join(missing)}; each feature needs "
            f"{', '.join(REQUIRED)}"
        )
    problems = []
    frame = frame.reset_index(drop=True)
    priority = pd.to_numeric(frame["priority"], errors="coerce")
    for i in frame.index[~priority.between(1, 5)]:
        problems.append(
            f"request {frame.at[i, 'request_id']}: `priority` {frame.at[i, 'priority']} "
            "must be 1 (low) to 5 (high)"
        )
    dates = {}
    for key in ("valid_from", "valid_to"):
        dates[key] = pd.to_datetime(frame[key], errors="coerce", format="ISO8601").dt.date
        for i in frame.index[dates[key].isna()]:
            problems.append(
                f"request {frame.at[i, 'request_id']}: `{key}` '{frame.at[i, key]}' is not a "
                "date like 2023-01-31"
            )
    kinds = frame.geom_type.isin(["Point", "Polygon", "MultiPolygon"])
    for i in frame.index[~kinds]:
        problems.append(
            f"request {frame.at[i, 'request_id']}: geometry {frame.geom_type[i]} must be a "
            "point or a polygon"
        )
    ids = frame["request_id"].astype(str)
    for rid in ids[ids.duplicated()].unique():
        problems.append(f"request id {rid!r} is used twice; ids must differ")
    if problems:
        raise InputDataError(f"{path}: " + "; ".join(problems))
    requests = gpd.GeoDataFrame(
        {
            "request_id": ids,
            "priority": priority.astype(int),
            "requester": frame["requester"].fillna("").astype(str),
            "note": frame["note"].fillna("").astype(str),
            "valid_from": dates["valid_from"],
            "valid_to": dates["valid_to"],
        },
        geometry=frame.geometry,
        crs=frame.crs,
    ).to_crs(crs)
    requests["active"] = (requests["valid_from"] <= week_end) & (requests["valid_to"] >= week_start)
    return requests[columns]
