"""Load shooting incidents from whatever a city publishes, and account for every row.

Reads CSV (any delimiter, UTF-8 with or without BOM, Latin-1), GeoJSON, GeoPackage,
(Geo)Parquet or Shapefile, zipped or gzipped. Coordinates come from lat/lon columns, x/y columns
with a named CRS, or the file's geometry; columns the config does not name are detected from
common names, and each choice is reported in ``notes``.

Returns an ``incidents`` GeoDataFrame (``incident_id``, ``occurred_at`` in the city's time zone,
``victims``, ``fatal``, point geometry in the city's projected CRS) and a rejects table with one
row per source row that was not used: source file, row number and reason, never the row's
content. Victim attributes (race, sex, age) are never read into the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputDataError
from ._io import read_table
from .config import IncidentConfig

__all__ = ["IncidentTable", "load_incidents"]

REJECT_COLUMNS = ["source", "row", "reason"]

# Common column names, in order of preference (compared case-insensitively).
DATE_NAMES = (
    "occurred_at",
    "date_time",
    "datetime",
    "occurred",
    "date",
    "incident_date",
    "dispatch_date_time",
    "occurred_date",
    "event_date",
    "time",
)
LAT_NAMES = ("latitude", "lat", "point_y", "y_lat")
LON_NAMES = ("longitude", "lon", "lng", "long", "point_x", "x_lon")
X_NAMES = ("x", "xcoord", "x_coord", "x_coordinate", "easting")
Y_NAMES = ("y", "ycoord", "y_coord", "y_coordinate", "northing")


@dataclass(frozen=True)
class IncidentTable:
    """Incidents ready for the hotspot stage, and an account of every source row."""

    incidents: gpd.GeoDataFrame
    rejects: pd.DataFrame
    rows_read: int
    notes: list[str] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        """Source rows that went to the rejects table."""
        return len(self.rejects)

    @property
    def rows_used(self) -> int:
        """Source rows that became (part of) an incident."""
        return self.rows_read - self.rows_rejected


def load_incidents(
    config: IncidentConfig,
    *,
    crs: str,
    timezone: str,
    area: shapely.Geometry | None = None,
    now: pd.Timestamp | None = None,
) -> IncidentTable:
    """Read the incidents file named in the config.

    Parameters
    ----------
    config
        The ``[incidents]`` table: path, column mapping, filter.
    crs
        The city's projected CRS; geometries are returned in it.
    timezone
        The city's IANA time zone; naive dates in the file are read as local time in it.
    area
        The study area (city limits) in ``crs``. Points farther than ``max_outside_m`` from it
        are rejected; points that fall inside once latitude and longitude are swapped are
        swapped back.
    now
        Dates after this are rejected as in the future (default: the current time).

    Returns
    -------
    IncidentTable
        ``rows_read == rows_used + rows_rejected`` always holds.

    Raises
    ------
    InputDataError
        When the file cannot be read, lacks a column, holds no rows, or no row is usable.

    Examples
    --------
    >>> from outreach_routes import load_config, load_incidents
    >>> cfg = load_config()
    >>> table = load_incidents(cfg.incidents, crs=cfg.city.crs, timezone=cfg.city.timezone)
    >>> table.rows_read == table.rows_used + table.rows_rejected
    True
    """
    path = config.path
    frame = read_table(path, delimiter=config.delimiter).reset_index(drop=True)
    if frame.empty:
        raise InputDataError(f"{path}: has a header but no data rows; export the rows too")
    notes: list[str] = []
    columns = _choose_columns(frame, config, path, notes)
    rows_read = len(frame)
    source_row = pd.Series(np.arange(1, rows_read + 1), index=frame.index)

    reasons = pd.Series(pd.NA, index=frame.index, dtype="string")

    def reject(mask: pd.Series | np.ndarray, reason: str) -> None:
        mask = pd.Series(np.asarray(mask, dtype=bool), index=frame.index) & reasons.isna()
        reasons[mask] = reason

    if config.filter_column:
        text = frame[config.filter_column].astype("string").fillna("")
        keep = pd.Series(False, index=frame.index)
        for needle in config.filter_contains:
            keep |= text.str.contains(needle, regex=False)
        reject(~keep, f"excluded by the [incidents] filter on `{config.filter_column}`")

    points, bad_range = _points(frame, columns, config, path)
    reject(points.isna() | points.is_empty, "no location (empty geometry or coordinates)")
    reject(bad_range, "coordinates out of range for latitude/longitude")
    points = points.to_crs(crs)
    if area is not None:
        points = _fix_swapped(points, area, config, notes)
        reject(
            _outside(points, area, config.max_outside_m),
            f"more than {config.max_outside_m:g} m outside the study area",
        )

    occurred = _dates(frame[columns["date"]], config, timezone)
    reject(occurred.isna(), f"date in `{columns['date']}` missing or not readable")
    now = now if now is not None else pd.Timestamp.now(tz=timezone)
    reject(occurred > now, f"date in `{columns['date']}` is in the future")

    ids = (
        frame[config.id_column].astype("string").str.strip()
        if config.id_column
        else source_row.astype("string")
    )
    reject(ids.isna() | (ids == ""), f"no incident id in `{config.id_column}`")
    reject(_exact_duplicates(frame, points), "exact duplicate of an earlier row")
    if config.rows == "incidents":
        repeated = ids.duplicated(keep="first") & reasons.isna()
        reject(repeated, f"incident id in `{config.id_column}` repeats an earlier row")

    rejected = reasons.notna().to_numpy()
    rejects = pd.DataFrame(
        {
            "source": path.name,
            "row": source_row[rejected].to_numpy(),
            "reason": reasons[rejected].to_numpy(),
        },
        columns=REJECT_COLUMNS,
    )
    if rejected.all():
        top = rejects["reason"].value_counts().head(3)
        summary = "; ".join(f"{n} x {reason}" for reason, n in top.items())
        raise InputDataError(
            f"{path}: no usable incidents: all {rows_read} rows were rejected ({summary}); "
            "check the column mapping and filter in [incidents]"
        )
    victims = gpd.GeoDataFrame(
        {
            "incident_id": ids[~rejected].to_numpy(),
            "occurred_at": occurred[~rejected].to_numpy(),
            "fatal": _fatal(frame, config)[~rejected].to_numpy(),
        },
        geometry=points[~rejected].to_numpy(),
        crs=crs,
    )
    incidents = _group_victims(victims)
    return IncidentTable(incidents=incidents, rejects=rejects, rows_read=rows_read, notes=notes)


def _choose_columns(
    frame: pd.DataFrame, config: IncidentConfig, path: Path, notes: list[str]
) -> dict[str, str | None]:
    """Columns for date and coordinates: as configured, else detected from common names."""
    named = {
        "date_column": config.date_column,
        "id_column": config.id_column,
        "fatal_column": config.fatal_column,
        "lat_column": config.lat_column,
        "lon_column": config.lon_column,
        "x_column": config.x_column,
        "y_column": config.y_column,
        "filter_column": config.filter_column,
    }
    missing = [f"`{key}` = {col!r}" for key, col in named.items() if col and col not in frame]
    if missing:
        raise InputDataError(
            f"{path}: column(s) not found: {', '.join(missing)}; the file has "
            f"{', '.join(map(str, frame.columns))}. Fix the names in [incidents] of the config"
        )
    chosen: dict[str, str | None] = {
        "date": config.date_column,
        "lat": config.lat_column,
        "lon": config.lon_column,
        "x": config.x_column,
        "y": config.y_column,
    }
    if chosen["date"] is None:
        chosen["date"] = _detect(frame, DATE_NAMES)
        if chosen["date"] is None:
            raise InputDataError(
                f"{path}: no date column found among {', '.join(map(str, frame.columns))}; "
                "name it with `date_column` in [incidents]"
            )
        notes.append(f"{path.name}: dates read from column `{chosen['date']}`")
    has_geometry = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.notna().any()
    configured = (chosen["lat"] and chosen["lon"]) or (chosen["x"] and chosen["y"])
    if not configured and not has_geometry:
        lat, lon = _detect(frame, LAT_NAMES), _detect(frame, LON_NAMES)
        x, y = _detect(frame, X_NAMES), _detect(frame, Y_NAMES)
        if lat and lon:
            chosen.update(lat=lat, lon=lon)
            notes.append(f"{path.name}: latitude from `{lat}`, longitude from `{lon}`")
        elif x and y:
            values = pd.to_numeric(frame[x], errors="coerce").abs()
            if config.source_crs is None and values.max() <= 180:
                chosen.update(lat=y, lon=x)
                notes.append(f"{path.name}: longitude from `{x}`, latitude from `{y}` (degrees)")
            else:
                chosen.update(x=x, y=y)
                notes.append(f"{path.name}: projected coordinates from `{x}` and `{y}`")
        else:
            raise InputDataError(
                f"{path}: no geometry and no coordinate columns found; set `lat_column` and "
                "`lon_column` (or `x_column`, `y_column` and `source_crs`) in [incidents]"
            )
    return chosen


def _detect(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _points(
    frame: pd.DataFrame, columns: dict[str, str | None], config: IncidentConfig, path: Path
) -> tuple[gpd.GeoSeries, pd.Series]:
    """Points of every row (missing where unusable), and rows whose lat/lon are out of range."""
    no_range = pd.Series(False, index=frame.index)
    if columns["lat"] and columns["lon"]:
        lat = pd.to_numeric(frame[columns["lat"]], errors="coerce")
        lon = pd.to_numeric(frame[columns["lon"]], errors="coerce")
        present = lat.notna() & lon.notna()
        out = present & (~lat.between(-90, 90) | ~lon.between(-180, 180))
        if present.any() and out.sum() > 0.5 * present.sum():
            raise InputDataError(
                f"{path}: `{columns['lat']}`/`{columns['lon']}` hold values like "
                f"{lat[present].iloc[0]:g}, {lon[present].iloc[0]:g}, which are not degrees: "
                "these look like projected coordinates; set `x_column`, `y_column` and "
                "`source_crs` (e.g. 'EPSG:2272') in [incidents]"
            )
        pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=frame.index, crs="EPSG:4326")
        pts[~present | out] = None
        return pts, out
    if columns["x"] and columns["y"]:
        if not config.source_crs:
            raise InputDataError(
                f"{path}: projected x/y columns need `source_crs` in [incidents], e.g. "
                "'EPSG:2272' (the CRS the city exports in)"
            )
        x = pd.to_numeric(frame[columns["x"]], errors="coerce")
        y = pd.to_numeric(frame[columns["y"]], errors="coerce")
        pts = gpd.GeoSeries(gpd.points_from_xy(x, y), index=frame.index, crs=config.source_crs)
        pts[x.isna() | y.isna()] = None
        return pts, no_range
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        raise InputDataError(f"{path}: geometry without a CRS; set the file's CRS and export again")
    geoms = frame.geometry.copy()
    not_point = geoms.notna() & ~geoms.is_empty & (geoms.geom_type != "Point")
    geoms[not_point] = geoms[not_point].representative_point()
    return geoms, no_range


def _fix_swapped(
    points: gpd.GeoSeries, area: shapely.Geometry, config: IncidentConfig, notes: list[str]
) -> gpd.GeoSeries:
    """Swap back points whose latitude and longitude were exchanged, when that lands them home."""
    outside = _outside(points, area, config.max_outside_m)
    if not outside.any():
        return points
    wgs = points[outside].to_crs("EPSG:4326")
    wgs = wgs[wgs.x.abs() <= 90]  # a longitude that could be a latitude
    if wgs.empty:
        return points
    swapped = gpd.GeoSeries(
        gpd.points_from_xy(wgs.y, wgs.x), index=wgs.index, crs="EPSG:4326"
    ).to_crs(points.crs)
    home = swapped.distance(area) <= config.max_outside_m
    if home.any():
        points = points.copy()
        points[home[home].index] = swapped[home]
        notes.append(
            f"{config.path.name}: {int(home.sum())} row(s) had latitude and longitude swapped; "
            "they were swapped back"
        )
    return points


def _outside(points: gpd.GeoSeries, area: shapely.Geometry, margin: float) -> pd.Series:
    """Usable points farther than ``margin`` from ``area``."""
    usable = points.notna() & ~points.is_empty
    far = pd.Series(False, index=points.index)
    far[usable] = points[usable].distance(area) > margin
    return far


def _dates(values: pd.Series, config: IncidentConfig, timezone: str) -> pd.Series:
    """Parse dates; naive ones are local time in ``timezone``. Unreadable ones become NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values)
    else:
        text = values.astype("string").str.strip()
        options = {"format": config.date_format or "mixed", "errors": "coerce"}
        try:
            parsed = pd.to_datetime(text, dayfirst=config.dayfirst, **options)
        except (TypeError, ValueError):  # offsets mixed with naive times: read all as UTC
            parsed = pd.to_datetime(text, dayfirst=config.dayfirst, utc=True, **options)
    if parsed.dt.tz is None:
        # A time that happens twice when clocks go back is read as standard time.
        return parsed.dt.tz_localize(
            timezone, ambiguous=np.zeros(len(parsed), dtype=bool), nonexistent="shift_forward"
        )
    return parsed.dt.tz_convert(timezone)


def _fatal(frame: pd.DataFrame, config: IncidentConfig) -> pd.Series:
    if not config.fatal_column:
        return pd.Series(False, index=frame.index)
    values = frame[config.fatal_column]
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).astype(bool)
    text = values.astype("string").str.strip().str.lower()
    numeric = pd.to_numeric(text, errors="coerce")
    return (text.isin(["true", "yes", "y", "t"]) | (numeric > 0)).fillna(False).astype(bool)


def _exact_duplicates(frame: pd.DataFrame, points: gpd.GeoSeries) -> pd.Series:
    if isinstance(frame, gpd.GeoDataFrame):
        attrs = frame.drop(columns=[frame.geometry.name])
    else:
        attrs = frame
    key = attrs.astype("string").fillna("<NA>")
    key["__point"] = points.to_wkt().astype("string").fillna("<NA>")
    return key.duplicated(keep="first")


def _group_victims(victims: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    victims = victims.sort_values(["incident_id", "occurred_at"], kind="stable")
    grouped = victims.groupby("incident_id", sort=True)
    incidents = gpd.GeoDataFrame(
        {
            "incident_id": grouped["incident_id"].first().to_numpy(),
            "occurred_at": grouped["occurred_at"].min().to_numpy(),
            "victims": grouped.size().to_numpy(),
            "fatal": grouped["fatal"].any().to_numpy(),
        },
        geometry=grouped.geometry.first().to_numpy(),
        crs=victims.crs,
    )
    incidents["occurred_at"] = pd.to_datetime(incidents["occurred_at"]).dt.tz_convert(
        victims["occurred_at"].dt.tz
    )
    return incidents.sort_values(["occurred_at", "incident_id"], ignore_index=True)
