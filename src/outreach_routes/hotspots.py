"""Where shootings are likely: a recency-weighted risk surface cut into hotspot polygons.

Each past incident counts with a weight that halves every ``half_life_days``; incidents in the
``boost_days`` before the plan week count ``1 + boost_weight`` times (the short-lived rise in risk
after a shooting). A weighted kernel density (scikit-learn) is evaluated on a grid of square
cells; the riskiest cells covering ``area_share`` of the city are grouped into contiguous
hotspots by DBSCAN (scikit-learn) on the cell centres.

Returns ``cells`` (``cell_id``, ``risk``, ``hotspot_id`` or missing, square polygons) and
``hotspots`` (``hotspot_id``, ``risk``, ``incidents``, ``recent``, ``last_incident``, polygon).
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sklearn.cluster import DBSCAN
from sklearn.neighbors import KernelDensity

from ._errors import InputDataError
from .config import HotspotConfig

__all__ = ["find_hotspots", "incident_weights", "risk_cells"]


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
        ``cell_id``, ``risk`` (expected weighted incidents in the cell), square polygons.
    """
    weights = incident_weights(incidents["occurred_at"], week_start=week_start, config=config)
    used = weights > 0
    if not used.any():
        raise InputDataError(
            f"no incidents in the {config.history_days} days before {week_start:%Y-%m-%d}; "
            "pick a plan week inside the data (--week-of) or raise [hotspots] history_days"
        )
    xy = shapely.get_coordinates(incidents.geometry.to_numpy()[used])
    area = limits if limits is not None else shapely.box(*xy.min(0), *xy.max(0)).buffer(500)
    centres = _grid_centres(area, config.cell_m)
    kde = KernelDensity(bandwidth=config.bandwidth_m, kernel="gaussian", rtol=1e-4)
    kde.fit(xy, sample_weight=weights[used])
    density = np.exp(kde.score_samples(centres))  # per square metre, integrates to 1
    risk = density * weights[used].sum() * config.cell_m**2
    half = config.cell_m / 2
    squares = shapely.box(
        centres[:, 0] - half, centres[:, 1] - half, centres[:, 0] + half, centres[:, 1] + half
    )
    return gpd.GeoDataFrame(
        {"cell_id": np.arange(len(centres)), "risk": risk}, geometry=squares, crs=incidents.crs
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
    labels = DBSCAN(eps=config.cell_m * 1.5, min_samples=1).fit_predict(centres)
    risk_by_label = pd.Series(top["risk"].to_numpy()).groupby(labels).sum()
    ranked = risk_by_label.sort_values(ascending=False, kind="stable").index
    names = {label: f"H{i:02d}" for i, label in enumerate(ranked, start=1)}
    cells = cells.copy()
    cells["hotspot_id"] = pd.Series(pd.NA, index=cells.index, dtype="string")
    cells.loc[top.index, "hotspot_id"] = [names[label] for label in labels]

    past = incidents[incidents["occurred_at"] < week_start]
    recent_from = week_start - dt.timedelta(days=config.boost_days)
    rows = []
    for label in ranked:
        members = top[labels == label]
        polygon = shapely.union_all(members.geometry.to_numpy())
        inside = past[past.within(polygon)]
        rows.append(
            {
                "hotspot_id": names[label],
                "risk": float(members["risk"].sum()),
                "cells": len(members),
                "incidents": len(inside),
                "recent": int((inside["occurred_at"] >= recent_from).sum()),
                "last_incident": inside["occurred_at"].max() if len(inside) else pd.NaT,
                "geometry": polygon,
            }
        )
    hotspots = gpd.GeoDataFrame(rows, geometry="geometry", crs=cells.crs)
    return cells, hotspots


def _grid_centres(area: shapely.Geometry, size: float) -> np.ndarray:
    xmin, ymin, xmax, ymax = area.bounds
    xs = np.arange(np.floor(xmin / size) * size + size / 2, xmax, size)
    ys = np.arange(np.floor(ymin / size) * size + size / 2, ymax, size)
    gx, gy = np.meshgrid(xs, ys)
    points = shapely.points(gx.ravel(), gy.ravel())
    shapely.prepare(area)
    inside = shapely.contains(area, points)
    return np.column_stack([gx.ravel()[inside], gy.ravel()[inside]])
