"""Where shootings are likely: a recency-weighted risk surface cut into hotspot polygons.

Each past incident counts with a weight that halves every ``half_life_days``; incidents in the
``boost_days`` before the plan week count ``1 + boost_weight`` times (the short-lived rise in risk
after a shooting). The weights are binned on a grid of square cells and smoothed with a Gaussian
kernel (a kernel density on the grid, which scipy's filter computes in milliseconds); the
riskiest cells covering ``area_share`` of the city are grouped into contiguous hotspots by
DBSCAN (scikit-learn) on the cell centres. The defaults won the backtest of
:mod:`outreach_routes.backtest` (``benchmarks/forecast.py``).

Returns ``cells`` (``cell_id``, ``risk``, ``hotspot_id`` or missing, square polygons) and
``hotspots`` (``hotspot_id``, ``risk``, ``incidents``, ``recent``, ``last_incident``, polygon).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

from ._errors import InputDataError
from .config import HotspotConfig

__all__ = [
    "Grid",
    "find_hotspots",
    "has_times_of_day",
    "hourly_risk",
    "incident_weights",
    "make_grid",
    "risk_cells",
    "risk_near",
    "risk_raster",
]


def incident_weights(
    occurred_at: pd.Series, *, week_start: pd.Timestamp, config: HotspotConfig
) -> np.ndarray:
    """Weight of each incident for a plan week starting at ``week_start``.

    Incidents at or after ``week_start`` or older than ``history_days`` weigh 0.
    """
    age_days = (week_start - occurred_at).dt.total_seconds().to_numpy() / 86400.0
    weights = 0.5 ** (age_days / config.half_life_days)
    weights = np.where(age_days <= config.boost_days, weights * (1 + config.boost_weight), weights)
    in_window = (age_days > 0) & (age_days <= config.history_days)
    return np.where(in_window, weights, 0.0)


@dataclass(frozen=True)
class Grid:
    """Square cells over the city: a raster, and which of its cells are in the city."""

    x0: float
    y0: float
    size: float
    shape: tuple[int, int]  # rows (y), columns (x)
    inside: np.ndarray  # (rows, cols) bool: the cell's centre is inside the city

    @property
    def n_cells(self) -> int:
        """Cells inside the city."""
        return int(self.inside.sum())

    def counts(self, xy: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Weighted count of points per raster cell (points off the raster are dropped)."""
        col = np.floor((xy[:, 0] - self.x0) / self.size).astype(int)
        row = np.floor((xy[:, 1] - self.y0) / self.size).astype(int)
        ok = (row >= 0) & (row < self.shape[0]) & (col >= 0) & (col < self.shape[1])
        w = np.ones(len(xy)) if weights is None else weights
        raster = np.zeros(self.shape)
        np.add.at(raster, (row[ok], col[ok]), w[ok])
        return raster

    def squares(self) -> np.ndarray:
        """The inside cells as square polygons, in raster order."""
        rows, cols = np.nonzero(self.inside)
        x = self.x0 + cols * self.size
        y = self.y0 + rows * self.size
        return shapely.box(x, y, x + self.size, y + self.size)


def make_grid(area: shapely.Geometry, cell_m: float) -> Grid:
    """The grid of ``cell_m`` cells over ``area`` (a polygon in a metric CRS)."""
    xmin, ymin, xmax, ymax = area.bounds
    x0 = np.floor(xmin / cell_m) * cell_m
    y0 = np.floor(ymin / cell_m) * cell_m
    cols = int(np.ceil((xmax - x0) / cell_m))
    rows = int(np.ceil((ymax - y0) / cell_m))
    gx, gy = np.meshgrid(
        x0 + (np.arange(cols) + 0.5) * cell_m, y0 + (np.arange(rows) + 0.5) * cell_m
    )
    shapely.prepare(area)
    return Grid(
        x0=x0, y0=y0, size=cell_m, shape=(rows, cols), inside=shapely.contains_xy(area, gx, gy)
    )


def risk_raster(
    incidents: gpd.GeoDataFrame, *, week_start: pd.Timestamp, config: HotspotConfig, grid: Grid
) -> np.ndarray:
    """Recency-weighted incidents per cell, smoothed by a Gaussian kernel of ``bandwidth_m``.

    Each cell's value is the weighted number of incidents expected in it; the kernel spreads
    weight to neighbouring cells (and none beyond the raster's edge). With several bandwidths
    the kernel is the mean of their Gaussians: a sharp peak with long tails, which forecast
    better than any one width on the weeks of 2016-2022 (benchmarks/forecast.py --by-year).
    """
    weights = incident_weights(incidents["occurred_at"], week_start=week_start, config=config)
    used = weights > 0
    xy = shapely.get_coordinates(incidents.geometry.to_numpy()[used])
    raster = grid.counts(xy, weights[used])
    widths = np.atleast_1d(np.asarray(config.bandwidth_m, dtype=float))
    smoothed = [gaussian_filter(raster, w / grid.size, mode="constant") for w in widths]
    surface = np.mean(smoothed, axis=0)
    if config.count_blend > 0 and surface.sum() > 0:
        # Blended with the plain count of every earlier shooting per cell, each made to sum
        # to one first; the sum stays the surface's (weighted incidents expected).
        past = (incidents["occurred_at"] < week_start).to_numpy()
        counts = grid.counts(shapely.get_coordinates(incidents.geometry.to_numpy()[past]))
        if counts.sum() > 0:
            total, share = surface.sum(), config.count_blend
            surface = total * ((1 - share) * surface / total + share * counts / counts.sum())
    return surface


def risk_cells(
    incidents: gpd.GeoDataFrame,
    *,
    week_start: pd.Timestamp,
    config: HotspotConfig,
    limits: shapely.Geometry | None = None,
) -> gpd.GeoDataFrame:
    """Risk of every grid cell for the week, from incidents before ``week_start``.

    Parameters
    ----------
    incidents
        From :func:`outreach_routes.load_incidents`, in a projected CRS in metres.
    week_start
        Start of the plan week (time-zone aware).
    config
        The ``[hotspots]`` table.
    limits
        City limits in the incidents' CRS; cells whose centre lies outside are left out.

    Returns
    -------
    GeoDataFrame
        ``cell_id``, ``risk`` (weighted incidents expected in the cell), square polygons.
    """
    weights = incident_weights(incidents["occurred_at"], week_start=week_start, config=config)
    if not (weights > 0).any():
        raise InputDataError(
            f"no incidents in the {config.history_days} days before {week_start:%Y-%m-%d}; "
            "pick a plan week inside the data (--week-of) or raise [hotspots] history_days"
        )
    if limits is None:
        xy = shapely.get_coordinates(incidents.geometry.to_numpy()[weights > 0])
        limits = shapely.box(*xy.min(0), *xy.max(0)).buffer(500)
    grid = make_grid(limits, config.cell_m)
    risk = risk_raster(incidents, week_start=week_start, config=config, grid=grid)
    return gpd.GeoDataFrame(
        {"cell_id": np.arange(grid.n_cells), "risk": risk[grid.inside]},
        geometry=grid.squares(),
        crs=incidents.crs,
    )


def find_hotspots(
    cells: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    *,
    week_start: pd.Timestamp,
    config: HotspotConfig,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Group the riskiest cells into hotspots.

    Returns
    -------
    cells, hotspots
        ``cells`` gains a ``hotspot_id`` column (missing outside hotspots); ``hotspots`` are
        sorted by risk, riskiest first, with ids ``H01``, ``H02``, ...
    """
    n_top = max(1, int(np.ceil(config.area_share * len(cells))))
    order = np.lexsort((cells["cell_id"].to_numpy(), -cells["risk"].to_numpy()))
    top = cells.iloc[order[:n_top]]
    centres = shapely.get_coordinates(top.geometry.centroid.to_numpy())
    # Cells touching at a side or a corner belong to one hotspot.
    # Imported here: a nightly re-plan that reads its week's hotspots back never loads
    # scikit-learn (0.6 s of the command's start).
    from sklearn.cluster import DBSCAN

    labels = DBSCAN(eps=config.cell_m * 1.5, min_samples=1).fit_predict(centres)
    risk_by_label = pd.Series(top["risk"].to_numpy()).groupby(labels).sum()
    ranked = risk_by_label.sort_values(ascending=False, kind="stable").index
    names = {label: f"H{i:02d}" for i, label in enumerate(ranked, start=1)}
    cells = cells.copy()
    cells["hotspot_id"] = pd.Series(pd.NA, index=cells.index, dtype="string")
    cells.loc[top.index, "hotspot_id"] = [names[label] for label in labels]

    past = incidents[incidents["occurred_at"] < week_start]
    tree = shapely.STRtree(past.geometry.to_numpy())
    recent_from = week_start - dt.timedelta(days=config.boost_days)
    rows = [
        hotspot_row(names[label], top[labels == label], past, tree, recent_from) for label in ranked
    ]
    hotspots = gpd.GeoDataFrame(rows, geometry="geometry", crs=cells.crs)
    return cells, hotspots


def hotspot_row(
    hotspot_id: str,
    members: gpd.GeoDataFrame,
    past: gpd.GeoDataFrame,
    tree: shapely.STRtree,
    recent_from: pd.Timestamp,
) -> dict:
    """A hotspot's row from its cells: their risk and outline, and the incidents of ``past``
    (whose points ``tree`` holds) inside it, how many since ``recent_from`` and the last."""
    polygon = shapely.union_all(members.geometry.to_numpy())
    # what past.within(polygon) gives, from the points near the polygon only
    inside = past.iloc[np.sort(tree.query(polygon, predicate="contains"))]
    return {
        "hotspot_id": hotspot_id,
        "risk": float(members["risk"].sum()),
        "cells": len(members),
        "incidents": len(inside),
        "recent": int((inside["occurred_at"] >= recent_from).sum()),
        "last_incident": inside["occurred_at"].max() if len(inside) else pd.NaT,
        "geometry": polygon,
    }


def risk_near(cells: gpd.GeoDataFrame, points: np.ndarray, radius_m: float) -> np.ndarray:
    """At each point, the risk of the cells whose centre lies within ``radius_m``: what a team
    standing or walking there is near."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    if not len(cells) or not len(points):
        return np.zeros(len(points))
    centres = cKDTree(shapely.get_coordinates(cells.geometry.centroid.to_numpy()))
    # Every (point, cell) pair within reach at once: a third of the time of a list per point.
    pairs = cKDTree(points).sparse_distance_matrix(centres, radius_m, output_type="ndarray")
    risk = cells["risk"].to_numpy(dtype=float)
    return np.bincount(pairs["i"], weights=risk[pairs["j"]], minlength=len(points))


# --- risk over the hours of the day ---------------------------------------------------------

HOURLY_RADIUS_M = 300.0  # the shootings that shape a place's own hour profile
HOURLY_PRIOR = 30.0  # pseudo-shootings of the city profile: a place needs many to differ much


def has_times_of_day(occurred_at: pd.Series) -> bool:
    """Whether the dates carry times: not when most of them sit at exactly midnight (an
    export of dates only, like Minneapolis's)."""
    if occurred_at.empty:
        return False
    midnight = (occurred_at.dt.hour == 0) & (occurred_at.dt.minute == 0)
    return bool(midnight.mean() < 0.5)


def hourly_risk(
    points: np.ndarray,
    incidents: gpd.GeoDataFrame,
    *,
    week_start: pd.Timestamp,
    radius_m: float = HOURLY_RADIUS_M,
    prior: float = HOURLY_PRIOR,
) -> np.ndarray:
    """Risk by hour of the day at each point, relative to its daily mean (1.0 = an average hour).

    The city's profile is the hour histogram of every shooting before ``week_start``, smoothed
    over the neighbouring hours (circularly: 23:00 neighbours 00:00). A point's profile adds the
    shootings within ``radius_m`` of it to ``prior`` pseudo-shootings spread as the city's: a
    place with a rich history keeps its own shape, a thin one falls back to the city's.

    Returns
    -------
    ndarray
        ``(len(points), 24)``, each row with mean 1.
    """
    before = incidents[incidents["occurred_at"] < week_start]
    hours = before["occurred_at"].dt.hour.to_numpy()
    city = _smooth_hours(np.bincount(hours, minlength=24).astype(float))
    city = city / city.sum() if city.sum() else np.full(24, 1 / 24)
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    if not len(points):
        return np.zeros((0, 24))
    xy = shapely.get_coordinates(before.geometry.to_numpy())
    near = cKDTree(xy).query_ball_point(points, radius_m) if len(xy) else [[]] * len(points)
    counts = np.zeros((len(points), 24))
    for i, members in enumerate(near):
        counts[i] = _smooth_hours(np.bincount(hours[members], minlength=24).astype(float))
    shares = (counts + prior * city) / (counts.sum(axis=1, keepdims=True) + prior)
    return shares * 24


def _smooth_hours(counts: np.ndarray) -> np.ndarray:
    """Counts per hour, each spread half to itself and a quarter to each neighbouring hour."""
    return 0.5 * counts + 0.25 * np.roll(counts, 1) + 0.25 * np.roll(counts, -1)
