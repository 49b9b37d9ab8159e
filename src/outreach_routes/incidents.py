"""Load shooting incidents: map columns, parse local dates, group victims, reject what is unusable.

Returns an ``incidents`` GeoDataFrame (``incident_id``, ``occurred_at`` in the city's time zone,
``victims``, ``fatal``, point geometry in the city's projected CRS) and a rejects table with
one row per source row that could not be used and the reason. Victim attributes (race, sex,
age) are never read into the result, and never written to the rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import InputDataError
from ._io import read_table
from .config import IncidentConfig

__all__ = ["IncidentTable", "load_incidents"]

REJECT_COLUMNS = ["source", "row", "incident_id", "date", "reason"]


@dataclass(frozen=True)
class IncidentTable:
    """Incidents ready for the hotspot stage, and an account of every source row."""

    incidents: gpd.GeoDataFrame
    rejects: pd.DataFrame
    rows_read: int

    @property
    def rows_rejected(self) -> int:
        """Source rows that went to the rejects table."""
        return len(self.rejects)

    @property
    def rows_used(self) -> int:
        """Source rows that became (part of) an incident."""
        return self.rows_read - self.rows_rejected


def load_incidents(config: IncidentConfig, *, crs: str, timezone: str) -> IncidentTable:
    """Read the incidents file named in the config.

    Parameters
    ----------
    config
        The ``[incidents]`` table: path and column mapping.
    crs
        The city's projected CRS; geometries are returned in it.
    timezone
        The city's IANA time zone; naive dates in the file are read as local time in it.

    Returns
    -------
    IncidentTable
        ``rows_read == rows_used + rows_rejected`` always holds.

    Examples
    --------
    >>> from outreach_routes import load_config, load_incidents
    >>> cfg = load_config()
    >>> table = load_incidents(cfg.incidents, crs=cfg.city.crs, timezone=cfg.city.timezone)
    >>> table.rows_read == table.rows_used + table.rows_rejected
    True
    """
    path = config.path
    frame = read_table(path)
    rows_read = len(frame)
    frame = frame.reset_index(drop=True)
    source_row = pd.Series(np.arange(1, rows_read + 1), index=frame.index)
    _require_columns(frame, config, path)

    points = _points(frame, config, path)
    occurred = _dates(frame[config.date_column], config, timezone)
    ids = (
        frame[config.id_column].astype("string")
        if config.id_column
        else source_row.astype("string")
    )

    reasons = pd.Series(pd.NA, index=frame.index, dtype="string")
    no_location = points.isna() | points.is_empty
    reasons[no_location] = "no location (empty geometry or coordinates)"
    bad_date = occurred.isna() & reasons.isna()
    reasons[bad_date] = f"date in `{config.date_column}` missing or not readable"
    missing_id = ids.isna() & reasons.isna()
    reasons[missing_id] = f"no incident id in `{config.id_column}`"
    duplicate = _exact_duplicates(frame, points) & reasons.isna()
    reasons[duplicate] = "exact duplicate of an earlier row"

    rejected = reasons.notna()
    rejects = pd.DataFrame(
        {
            "source": path.name,
            "row": source_row[rejected].to_numpy(),
            "incident_id": ids[rejected].to_numpy(),
            "date": frame.loc[rejected, config.date_column].astype("string").to_numpy(),
            "reason": reasons[rejected].to_numpy(),
        },
        columns=REJECT_COLUMNS,
    )

    victims = gpd.GeoDataFrame(
        {
            "incident_id": ids[~rejected].to_numpy(),
            "occurred_at": occurred[~rejected].to_numpy(),
            "fatal": _fatal(frame, config)[~rejected].to_numpy(),
        },
        geometry=points[~rejected].to_crs(crs).to_numpy(),
        crs=crs,
    )
    incidents = _group_victims(victims)
    return IncidentTable(incidents=incidents, rejects=rejects, rows_read=rows_read)


def _require_columns(frame: pd.DataFrame, config: IncidentConfig, path: Path) -> None:
    wanted = {
        "date_column": config.date_column,
        "id_column": config.id_column,
        "fatal_column": config.fatal_column,
        "lat_column": config.lat_column,
        "lon_column": config.lon_column,
        "x_column": config.x_column,
        "y_column": config.y_column,
    }
    missing = [f"`{key}` = {col!r}" for key, col in wanted.items() if col and col not in frame]
    if missing:
        raise InputDataError(
            f"{path}: column(s) not found: {', '.join(missing)}; the file has "
            f"{', '.join(map(str, frame.columns))}. Fix the names in [incidents] of the config"
        )


def _points(frame: pd.DataFrame, config: IncidentConfig, path: Path) -> gpd.GeoSeries:
    if config.lat_column and config.lon_column:
        lat = pd.to_numeric(frame[config.lat_column], errors="coerce")
        lon = pd.to_numeric(frame[config.lon_column], errors="coerce")
        bad = lat.isna() | lon.isna() | ~lat.between(-90, 90) | ~lon.between(-180, 180)
        pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=frame.index, crs="EPSG:4326")
        pts[bad] = None
        return pts
    if config.x_column and config.y_column:
        if not config.source_crs:
            raise InputDataError(
                f"{path}: x/y columns need `source_crs` in [incidents], e.g. 'EPSG:2272'"
            )
        x = pd.to_numeric(frame[config.x_column], errors="coerce")
        y = pd.to_numeric(frame[config.y_column], errors="coerce")
        pts = gpd.GeoSeries(gpd.points_from_xy(x, y), index=frame.index, crs=config.source_crs)
        pts[x.isna() | y.isna()] = None
        return pts
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
        geoms = frame.geometry.copy()
        not_point = geoms.notna() & ~geoms.is_empty & (geoms.geom_type != "Point")
        geoms[not_point] = geoms[not_point].representative_point()
        return geoms
    raise InputDataError(
        f"{path}: no geometry and no coordinate columns; set `lat_column` and `lon_column` "
        "(or `x_column`, `y_column` and `source_crs`) in [incidents]"
    )


def _dates(values: pd.Series, config: IncidentConfig, timezone: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values)
    else:
        parsed = pd.to_datetime(values, format=config.date_format, errors="coerce")
    if parsed.dt.tz is None:
        # A time that happens twice when clocks go back is read as standard time.
        parsed = parsed.dt.tz_localize(
            timezone, ambiguous=np.zeros(len(parsed), dtype=bool), nonexistent="shift_forward"
        )
    else:
        parsed = parsed.dt.tz_convert(timezone)
    return parsed


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
    attrs = (
        frame.drop(columns=[frame.geometry.name]) if isinstance(frame, gpd.GeoDataFrame) else frame
    )
    key = attrs.astype("string").fillna("<NA>")
    key["__wkb"] = points.to_wkt().astype("string").fillna("<NA>")
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
