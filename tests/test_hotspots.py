from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from outreach_routes import find_hotspots, incident_weights, risk_cells
from outreach_routes.config import HotspotConfig

TZ = "America/New_York"
WEEK = pd.Timestamp("2023-01-02", tz=TZ)


def incidents_at(points, ages_days) -> gpd.GeoDataFrame:
    occurred = [WEEK - pd.Timedelta(days=a) for a in ages_days]
    return gpd.GeoDataFrame(
        {"incident_id": [str(i) for i in range(len(points))], "occurred_at": occurred},
        geometry=[shapely.Point(p) for p in points],
        crs="EPSG:32618",
    )


def test_weights_halve_each_half_life_and_boost_recent_shootings():
    config = HotspotConfig(half_life_days=100, boost_days=14, boost_weight=3.0, history_days=365)
    ages = pd.Series([WEEK - pd.Timedelta(days=d) for d in (100, 200, 7, 400, -1)])
    weights = incident_weights(ages, week_start=WEEK, config=config)
    assert weights[0] == pytest.approx(0.5)
    assert weights[1] == pytest.approx(0.25)
    assert weights[2] == pytest.approx(4 * 0.5 ** (7 / 100))
    assert weights[3] == 0  # older than the history window
    assert weights[4] == 0  # after the week started: never used to plan it


def test_risk_peaks_at_the_cluster_and_hotspots_are_ranked():
    rng = np.random.default_rng(0)
    big = rng.normal([1000, 1000], 40, size=(30, 2))
    small = rng.normal([3000, 1000], 40, size=(8, 2))
    incidents = incidents_at(np.vstack([big, small]), ages_days=np.full(38, 30))
    config = HotspotConfig(area_share=0.06)
    limits = shapely.box(0, 0, 4000, 2000)
    cells = risk_cells(incidents, week_start=WEEK, config=config, limits=limits)
    peak = cells.loc[cells["risk"].idxmax()].geometry
    assert peak.distance(shapely.Point(1000, 1000)) < 150
    # The risk surface accounts for (nearly) all weight inside the limits.
    weight = incident_weights(incidents["occurred_at"], week_start=WEEK, config=config).sum()
    assert cells["risk"].sum() == pytest.approx(weight, rel=0.02)
    cells, hotspots = find_hotspots(cells, incidents, week_start=WEEK, config=config)
    assert list(hotspots["hotspot_id"][:2]) == ["H01", "H02"]
    assert hotspots["risk"].is_monotonic_decreasing
    assert hotspots.geometry.iloc[0].contains(shapely.Point(1000, 1000))
    assert hotspots.geometry.iloc[1].contains(shapely.Point(3000, 1000))
    assert hotspots["incidents"].iloc[0] >= 25
    flagged = cells["hotspot_id"].notna().sum()
    assert flagged == int(np.ceil(0.06 * len(cells)))


def test_a_week_before_any_data_is_a_clear_error():
    incidents = incidents_at([(0, 0)], ages_days=[-30])
    with pytest.raises(ValueError, match="no incidents in the 36500 days before 2023-01-02"):
        risk_cells(incidents, week_start=WEEK, config=HotspotConfig())


def test_count_blend_mixes_in_the_plain_count_and_keeps_the_total():
    from outreach_routes.hotspots import make_grid, risk_raster

    # Old shootings in one place, recent ones in another: the recency-weighted kernel favours
    # the recent place; the plain count, the place with more shootings over all time.
    old = incidents_at([(500, 500)] * 6, ages_days=[3000] * 6)
    new = incidents_at([(2500, 500)] * 2, ages_days=[20] * 2)
    incidents = pd.concat([old, new], ignore_index=True)
    grid = make_grid(shapely.box(0, 0, 3000, 1000), 150)
    plain = HotspotConfig(half_life_days=365, boost_days=0)
    kernel = risk_raster(incidents, week_start=WEEK, config=plain, grid=grid)
    blended = risk_raster(
        incidents,
        week_start=WEEK,
        config=HotspotConfig(half_life_days=365, boost_days=0, count_blend=0.5),
        grid=grid,
    )
    counts = grid.counts(shapely.get_coordinates(incidents.geometry.to_numpy()))
    expected = kernel.sum() * (0.5 * kernel / kernel.sum() + 0.5 * counts / counts.sum())
    assert blended == pytest.approx(expected)
    assert blended.sum() == pytest.approx(kernel.sum())
    old_cell, new_cell = (
        np.unravel_index(counts.argmax(), counts.shape),
        np.unravel_index(grid.counts(np.array([[2500.0, 500.0]])).argmax(), counts.shape),
    )
    assert kernel[new_cell] > kernel[old_cell] and blended[old_cell] > blended[new_cell]
