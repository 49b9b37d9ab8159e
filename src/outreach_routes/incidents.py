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

from collections.abc import Callable
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
    area_name: str = "the city limits ([city] limits)",
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
        swapped back. When no row lands near it, the file is refused, with where they landed.
    area_name
        What ``area`` is, for the rejects' reason.
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
    columns, problems = _choose_columns(frame, config, path, notes)
    numbers = _Numbers(frame, config, path, columns, notes)
    coordinates = [columns[k] for k in ("lat", "lon", "x", "y") if columns[k]]
    if columns["coords"] and all(c in frame for c in coordinates):
        problems += _guess_coordinates(
            columns, config, path, numbers, notes, lambda: _export_crs(area, crs)
        )
    if problems:
        raise InputDataError(*problems)
    rows_read = len(frame)
    source_row = pd.Series(np.arange(1, rows_read + 1), index=frame.index)

    reasons = pd.Series(pd.NA, index=frame.index, dtype="string")

    def reject(mask: pd.Series | np.ndarray, reason: str | pd.Series) -> None:
        mask = pd.Series(np.asarray(mask, dtype=bool), index=frame.index) & reasons.isna()
        reasons[mask] = reason[mask] if isinstance(reason, pd.Series) else reason

    if config.filter_column:
        text = frame[config.filter_column].astype("string").fillna("")
        keep = pd.Series(False, index=frame.index)
        for needle in config.filter_contains:
            keep |= text.str.contains(needle, regex=False)
        reject(~keep, f"excluded by the [incidents] filter on `{config.filter_column}`")

    points, why_not = _points(frame, columns, config, numbers)
    reject(why_not.notna(), why_not)
    reject(points.isna() | points.is_empty, "no location (empty geometry)")
    points = points.to_crs(crs)
    if area is not None:
        points = _fix_swapped(points, area, config, notes)
        outside = _outside(points, area, config.max_outside_m)
        located = reasons.isna() & points.notna() & ~points.is_empty
        if located.any() and not (located & ~outside).any():
            raise InputDataError(_none_inside(points[located], area, area_name, config, columns))
        reject(outside, f"more than {config.max_outside_m:g} m outside {area_name}")

    date_text = frame[columns["date"]].astype("string").str.strip()
    occurred = _dates(frame[columns["date"]], config, timezone)
    reject(date_text.isna() | (date_text == ""), f"date in `{columns['date']}` is empty")
    reject(occurred.isna(), f"date in `{columns['date']}` is not readable")
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
) -> tuple[dict[str, str | None], list[str]]:
    """Columns for date and coordinates: as configured, else detected from common names.

    Returns the choice (``coords`` is ``"lat/lon"``, ``"x/y"``, ``"x/y?"`` (degrees or
    projected, to be judged from the values) or ``"geometry"``) and every problem found.
    """
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
    has = ", ".join(f"`{c}`" for c in frame.columns)
    problems = [
        f"{path}: column `{col}` (`{key}` in [incidents]) not found; the file has {has}. "
        f"Fix `{key}` in [incidents] of the config"
        for key, col in named.items()
        if col and col not in frame
    ]
    chosen: dict[str, str | None] = {
        "date": config.date_column,
        "lat": config.lat_column,
        "lon": config.lon_column,
        "x": config.x_column,
        "y": config.y_column,
        "coords": None,
    }
    if chosen["date"] is None:
        chosen["date"] = _detect(frame, DATE_NAMES)
        if chosen["date"] is None:
            problems.append(
                f"{path}: no date column found among {has}; name it with `date_column` in "
                "[incidents]"
            )
        else:
            notes.append(f"{path.name}: dates read from column `{chosen['date']}`")
    has_geometry = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.notna().any()
    if chosen["lat"] and chosen["lon"]:
        chosen["coords"] = "lat/lon"
    elif chosen["x"] and chosen["y"]:
        chosen["coords"] = "x/y"
    elif has_geometry:
        chosen["coords"] = "geometry"
    else:
        lat, lon = _detect(frame, LAT_NAMES), _detect(frame, LON_NAMES)
        x, y = _detect(frame, X_NAMES), _detect(frame, Y_NAMES)
        if lat and lon:
            chosen.update(lat=lat, lon=lon, coords="lat/lon")
        elif x and y:
            chosen.update(x=x, y=y, coords="x/y?")
        else:
            problems.append(
                f"{path}: no geometry and no coordinate columns found among {has}; set "
                "`lat_column` and `lon_column` (or `x_column`, `y_column` and `source_crs`) in "
                "[incidents]"
            )
    return chosen, problems


def _detect(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


_DECIMAL_COMMA = r"^[+-]?\d+,\d+$"


class _Numbers:
    """Coordinate columns read as numbers, with the reason each unreadable value has.

    Text with decimal commas (``39,97``) is read as such when ``decimal = ","`` is set, or
    when most values of the coordinate columns look like that and none has a decimal point.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        config: IncidentConfig,
        path: Path,
        columns: dict[str, str | None],
        notes: list[str],
    ) -> None:
        self.frame = frame
        self.decimal = config.decimal
        used = [columns[k] for k in ("lat", "lon", "x", "y") if columns[k] in frame]
        if self.decimal is None and used and self._looks_like_commas(used):
            self.decimal = ","
            shown = ", ".join(f"`{c}`" for c in used)
            notes.append(
                f"{path.name}: {shown} use decimal commas (like 39,97); read them so "
                '(set `decimal = "."` in [incidents] if that is wrong)'
            )
        self._cache: dict[str, tuple[pd.Series, pd.Series]] = {}

    def _looks_like_commas(self, columns: list[str]) -> bool:
        text = pd.concat([self._text(c) for c in columns]).dropna()
        text = text[text != ""]
        if text.empty:
            return False
        commas = text.str.match(_DECIMAL_COMMA)
        points = text.str.contains(".", regex=False)
        return bool(commas.mean() >= 0.5 and not points.any())

    def _text(self, column: str) -> pd.Series:
        return self.frame[column].astype("string").str.strip()

    def __call__(self, column: str) -> tuple[pd.Series, pd.Series]:
        """Floats of a column (NaN where unusable) and the reason per row (NA where fine)."""
        if column not in self._cache:
            self._cache[column] = self._read(column)
        return self._cache[column]

    def _read(self, column: str) -> tuple[pd.Series, pd.Series]:
        values = self.frame[column]
        reason = pd.Series(pd.NA, index=values.index, dtype="string")
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            number = values.astype(float)
            empty = number.isna()
        else:
            text = self._text(column)
            empty = text.isna() | (text == "")
            if self.decimal == ",":
                text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            number = pd.to_numeric(text, errors="coerce").astype(float)
            reason[~empty & number.isna()] = f"no location: `{column}` is not a number"
        reason[empty] = f"no location: `{column}` is empty"
        infinite = number.notna() & ~np.isfinite(number)
        reason[infinite] = f"no location: `{column}` is not a finite number"
        number = number.where(reason.isna())
        return number, reason


def _guess_coordinates(
    columns: dict[str, str | None],
    config: IncidentConfig,
    path: Path,
    numbers: _Numbers,
    notes: list[str],
    example_crs: Callable[[], str],
) -> list[str]:
    """Settle degrees or projected from the finite values, say what was seen, or the problem
    (``example_crs()`` says which CRS an export of this city is likely in: a look-up in
    pyproj's database, made only for a problem's message)."""
    kind = columns["coords"]
    if kind == "geometry":
        return []
    a, b = (columns["lat"], columns["lon"]) if kind == "lat/lon" else (columns["x"], columns["y"])
    first, second = numbers(a)[0], numbers(b)[0]
    both = first.notna() & second.notna()
    if kind == "x/y?":
        if config.source_crs is None and (
            not both.any() or (first[both].abs().max() <= 180 and second[both].abs().max() <= 90)
        ):
            columns.update(lat=b, lon=a, x=None, y=None, coords="lat/lon")
            notes.append(
                f"{path.name}: longitude from `{a}`, latitude from `{b}` "
                f"({_range_seen(first[both], second[both])}: degrees)"
            )
            return []
        columns["coords"] = "x/y"
        notes.append(
            f"{path.name}: projected coordinates from `{a}` and `{b}` "
            f"({_range_seen(first[both], second[both])})"
        )
    elif kind == "lat/lon" and (config.lat_column is None or config.lon_column is None):
        notes.append(
            f"{path.name}: latitude from `{a}`, longitude from `{b}` "
            f"({_range_seen(second[both], first[both])})"
        )
    if columns["coords"] == "x/y":
        if not config.source_crs:
            return [
                f"{path}: projected x/y columns `{a}`, `{b}` need `source_crs` in [incidents]: "
                f"the CRS the city exports in ({example_crs()})"
            ]
        return []
    lat, lon = first, second
    out = both & (~lat.between(-90, 90) | ~lon.between(-180, 180))
    if both.any() and out.sum() > 0.5 * both.sum():
        example = f"{lat[out].iloc[0]:.10g}, {lon[out].iloc[0]:.10g}"
        return [
            f"{path}: `{a}`/`{b}` hold values like {example} "
            f"({int(out.sum())} of {int(both.sum())} rows with finite numbers are outside "
            "latitude ±90 / longitude ±180), which are not degrees: these look like projected "
            f"coordinates; set `x_column`, `y_column` and `source_crs` ({example_crs()}) in "
            "[incidents]"
        ]
    return []


def _range_seen(x: pd.Series, y: pd.Series) -> str:
    """What the finite coordinate values span, for a note: 'x -93.33 to -93.19, y 44.89 ...'."""
    if x.empty:
        return "no finite values"
    return f"x {x.min():.6g} to {x.max():.6g}, y {y.min():.6g} to {y.max():.6g}"


def _points(
    frame: pd.DataFrame,
    columns: dict[str, str | None],
    config: IncidentConfig,
    numbers: _Numbers,
) -> tuple[gpd.GeoSeries, pd.Series]:
    """Points of every row (missing where unusable), and why a row has none (NA when it has)."""
    kind = columns["coords"]
    if kind == "geometry":
        if frame.crs is None:  # type: ignore[union-attr]
            raise InputDataError(
                f"{config.path}: geometry without a CRS; set the file's CRS and export again"
            )
        geoms = frame.geometry.copy()
        not_point = geoms.notna() & ~geoms.is_empty & (geoms.geom_type != "Point")
        geoms[not_point] = geoms[not_point].representative_point()
        return geoms, pd.Series(pd.NA, index=frame.index, dtype="string")
    if kind == "lat/lon":
        (lat, lat_why), (lon, lon_why) = numbers(columns["lat"]), numbers(columns["lon"])
        why = lat_why.fillna(lon_why)
        out = why.isna() & (~lat.between(-90, 90) | ~lon.between(-180, 180))
        why[out] = "coordinates out of range for latitude/longitude"
        pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=frame.index, crs="EPSG:4326")
    else:
        (x, x_why), (y, y_why) = numbers(columns["x"]), numbers(columns["y"])
        why = x_why.fillna(y_why)
        pts = gpd.GeoSeries(gpd.points_from_xy(x, y), index=frame.index, crs=config.source_crs)
    pts[why.notna()] = None
    return pts, why


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
    shapely.prepare(area)
    far[usable] = ~shapely.dwithin(area, points[usable].to_numpy(), margin)
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


def _export_crs(area: shapely.Geometry | None, crs: str) -> str:
    """The CRS a city's projected export is likely in, as a hint: its State Plane zone where
    pyproj's database has one for the city's centre (``area``, in ``crs``)."""
    if area is None or area.is_empty:
        return "such as the city's State Plane zone"
    from .projection import lonlat, state_plane_crs

    lon, lat = lonlat(area.centroid, crs)
    zones = state_plane_crs(round(lon, 2), round(lat, 2))
    if not zones:
        return "the local projection the export names"
    return "here most likely " + " or ".join(f"'{code}' ({name})" for code, name in zones[:2])


def _none_inside(
    points: gpd.GeoSeries,
    area: shapely.Geometry,
    area_name: str,
    config: IncidentConfig,
    columns: dict[str, str | None],
) -> str:
    """Why no incident is used: every located row lies outside the city, and where they are."""
    from .projection import lonlat

    wgs = points.to_crs("EPSG:4326")
    finite = np.isfinite(wgs.x) & np.isfinite(wgs.y)
    landed = (
        f"the points landed around {wgs.y[finite].median():.4f}, {wgs.x[finite].median():.4f} "
        "(lat, lon)"
        if finite.any()
        else "the points could not be placed on the globe"
    )
    lon, lat = lonlat(area.centroid, points.crs)
    if columns["coords"] == "x/y":
        fix = f"check `source_crs` = {config.source_crs!r} in [incidents]"
    else:
        fix = "check the latitude and longitude columns in [incidents] and the city's streets"
    return (
        f"{config.path}: no incident inside the city: all {len(points):,} located rows lie more "
        f"than {config.max_outside_m:g} m outside {area_name}, which is around "
        f"{lat:.4f}, {lon:.4f}; {landed}. {fix.capitalize()}"
    )
