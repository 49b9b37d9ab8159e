"""Does the risk surface forecast next week's shootings? A rolling-origin backtest.

Protocol (fixed, so figures compare across runs): square cells of ``cell_m`` metres in the
city's projected CRS, a cell kept when its centre lies inside the city limits. Weekly forecasts,
Monday 00:00 to the next Monday, local time, for every week whose Monday lies between
``test_from`` and ``test_to``. Each model is fitted on everything before the week, ranks the
cells, and flags the riskiest cells covering 1, 2, 5 and 10 % of the city (ties at the cut-off
count fractionally). A hit is a week's incident in a flagged cell.

Returns a tidy DataFrame: one row per week, model and area share with ``incidents``, ``hits``
and ``hit_rate``; :func:`summarise` turns it into mean weekly hit rate and aggregate PAI
(all hits over all test incidents, divided by the area share; Chainey, Tompson & Uhlig 2008).

Models are plain functions ``(history, week_start) -> risk per cell``; the baselines are counts
of the last 52 weeks, counts of all history, and a kernel density of the last 365 days. The
project's model is the recency-weighted density of :mod:`outreach_routes.hotspots`.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.ndimage import gaussian_filter

from ._errors import InputDataError
from ._io import read_city_limits
from .config import HotspotConfig, PlanConfig
from .hotspots import Grid, make_grid, risk_raster

__all__ = [
    "backtest",
    "backtest_city",
    "flagged_cells",
    "baseline_models",
    "make_grid",
    "model_risk",
    "paired_difference",
    "plot_scores",
    "recent_skill",
    "rolling_origin",
    "summarise",
    "yearly_gain",
]

AREA_SHARES = (0.01, 0.02, 0.05, 0.10)


Model = Callable[[gpd.GeoDataFrame, pd.Timestamp, Grid], np.ndarray]


def baseline_models(*, bandwidth_m: float = 150.0) -> dict[str, Model]:
    """The simple forecasts a model must beat."""

    def count_52w(history, week_start, grid):
        recent = history[history["occurred_at"] >= week_start - pd.Timedelta(weeks=52)]
        return grid.counts(_xy(recent))

    def count_all(history, week_start, grid):
        return grid.counts(_xy(history))

    def kde_365d(history, week_start, grid):
        recent = history[history["occurred_at"] >= week_start - pd.Timedelta(days=365)]
        return gaussian_filter(grid.counts(_xy(recent)), bandwidth_m / grid.size, mode="constant")

    return {"count_52w": count_52w, "count_all": count_all, "kde_365d": kde_365d}


def model_risk(config: HotspotConfig) -> Model:
    """The project's model, as the weekly plan uses it (:func:`hotspots.risk_raster`)."""

    def risk(history, week_start, grid):
        return risk_raster(history, week_start=week_start, config=config, grid=grid)

    return risk


def backtest(
    incidents: gpd.GeoDataFrame,
    *,
    grid: Grid,
    models: dict[str, Model],
    test_from: pd.Timestamp,
    test_to: pd.Timestamp,
    shares: tuple[float, ...] = AREA_SHARES,
) -> pd.DataFrame:
    """Score every model on every test week.

    Parameters
    ----------
    incidents
        From :func:`outreach_routes.load_incidents` (projected CRS, local ``occurred_at``).
    grid
        From :func:`make_grid`.
    models
        Name -> model function.
    test_from, test_to
        The test weeks are those whose Monday lies between these dates, inclusive.

    Returns
    -------
    DataFrame
        ``week``, ``model``, ``share``, ``incidents``, ``hits``, ``hit_rate``.
    """
    tz = incidents["occurred_at"].dt.tz
    first = pd.Timestamp(test_from).date()
    first += pd.Timedelta(days=(7 - first.weekday()) % 7)
    mondays = pd.date_range(first, pd.Timestamp(test_to).date(), freq="7D")
    xy_all = _xy(incidents)
    rows = []
    for monday in mondays:
        # Calendar weeks in local time: a week with a clock change is 167 or 169 hours long.
        week_start = monday.tz_localize(tz)
        week_end = (monday + pd.Timedelta(days=7)).tz_localize(tz)
        history = incidents[incidents["occurred_at"] < week_start]
        in_week = (incidents["occurred_at"] >= week_start) & (incidents["occurred_at"] < week_end)
        actual = grid.counts(xy_all[in_week.to_numpy()])[grid.inside]
        total = float(actual.sum())
        for name, model in models.items():
            risk = model(history, week_start, grid)[grid.inside]
            for share in shares:
                hits = _hits(risk, actual, share)
                rows.append(
                    {
                        "week": week_start.date(),
                        "model": name,
                        "share": share,
                        "incidents": total,
                        "hits": hits,
                        "hit_rate": hits / total if total else np.nan,
                    }
                )
    return pd.DataFrame(rows)


def backtest_city(
    config: PlanConfig,
    incidents: gpd.GeoDataFrame,
    *,
    test_from: pd.Timestamp,
    test_to: pd.Timestamp,
    limits: shapely.Geometry | None = None,
) -> pd.DataFrame:
    """:func:`backtest` of the config's hotspot model and the baselines, on the city's grid.

    ``limits`` (in the city's CRS) saves reading the city limits file again.
    """
    limits = limits if limits is not None else _city_limits(config)
    grid = make_grid(limits, config.hotspots.cell_m)
    models = {**baseline_models(), "model": model_risk(config.hotspots)}
    return backtest(incidents, grid=grid, models=models, test_from=test_from, test_to=test_to)


def summarise(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean weekly hit rate and aggregate PAI per model and area share."""
    grouped = scores.groupby(["model", "share"])
    table = grouped.agg(
        weeks=("week", "nunique"),
        hit_rate=("hit_rate", "mean"),
        hits=("hits", "sum"),
        incidents=("incidents", "sum"),
    ).reset_index()
    table["pai"] = table["hits"] / table["incidents"] / table["share"]
    return table


def paired_difference(scores: pd.DataFrame, model: str, baseline: str, share: float):
    """Mean weekly hit-rate difference (model - baseline) and its standard error."""
    part = scores[scores["share"] == share].pivot(index="week", columns="model", values="hit_rate")
    diff = (part[model] - part[baseline]).dropna()
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


def yearly_gain(
    scores: pd.DataFrame, *, baseline: str = "count_all", share: float = 0.05
) -> pd.DataFrame:
    """Each model's mean weekly hit-rate gain on ``baseline`` at ``share``, per calendar year
    of the test weeks (rows: years; columns: the models other than ``baseline``)."""
    part = scores[scores["share"] == share]
    wide = part.pivot_table(index="week", columns="model", values="hit_rate")
    gain = wide.drop(columns=baseline).sub(wide[baseline], axis=0).dropna()
    return gain.groupby(pd.to_datetime(gain.index).year).mean().rename_axis("year")


def rolling_origin(
    scores: pd.DataFrame,
    test_years: tuple[int, ...],
    *,
    baseline: str = "count_all",
    share: float = 0.05,
) -> pd.DataFrame:
    """Each test year with the model chosen on the years before it only: the one whose worst
    earlier year gained most on ``baseline`` (steady, rather than best on one window).

    ``scores`` (from :func:`backtest`) must hold weeks of the earlier years too. Returns one row
    per test year: ``chosen``, its weekly ``gain`` at ``share`` and the gain's ``error``
    (standard error), ``weeks``, and the model's and the baseline's mean weekly hit rates at
    every share (``model@0.05``, ``baseline@0.05``...).
    """
    yearly = yearly_gain(scores, baseline=baseline, share=share)
    years = pd.to_datetime(scores["week"]).dt.year
    rows = []
    for year in test_years:
        earlier = yearly[yearly.index < year]
        if earlier.empty:
            raise ValueError(f"no weeks before {year} to choose on")
        chosen = earlier.min().idxmax()
        part = scores[years == year]
        pair = part[part["share"] == share].pivot(index="week", columns="model", values="hit_rate")
        diff = (pair[chosen] - pair[baseline]).dropna()
        rates = part.groupby(["model", "share"])["hit_rate"].mean()
        row = {
            "year": year,
            "chosen": chosen,
            "gain": float(diff.mean()),
            "error": float(diff.std(ddof=1) / np.sqrt(len(diff))),
            "weeks": len(diff),
        }
        for s in sorted(part["share"].unique()):
            row[f"model@{s:g}"] = rates[(chosen, s)]
            row[f"baseline@{s:g}"] = rates[(baseline, s)]
        rows.append(row)
    return pd.DataFrame(rows)


def flagged_cells(
    config: PlanConfig,
    incidents: gpd.GeoDataFrame,
    *,
    week_start: pd.Timestamp,
    share: float = 0.05,
) -> gpd.GeoDataFrame:
    """Each model's flagged cells for one week (``model``, square polygon), for maps."""
    grid = make_grid(_city_limits(config), config.hotspots.cell_m)
    history = incidents[incidents["occurred_at"] < week_start]
    squares = grid.squares()
    models = {**baseline_models(), "model": model_risk(config.hotspots)}
    frames = []
    for name, model in models.items():
        risk = model(history, week_start, grid)[grid.inside]
        top = np.argsort(-risk, kind="stable")[: int(np.ceil(share * len(risk)))]
        frames.append(
            gpd.GeoDataFrame({"model": [name] * len(top)}, geometry=squares[top], crs=incidents.crs)
        )
    return pd.concat(frames, ignore_index=True)


def plot_scores(scores: pd.DataFrame, *, share: float = 0.05):
    """Weekly hit rate of each model at one area share, as a matplotlib figure."""
    import matplotlib.pyplot as plt

    part = scores[scores["share"] == share].pivot(index="week", columns="model", values="hit_rate")
    fig, ax = plt.subplots(figsize=(10, 4))
    for model in part.columns:
        ax.plot(part.index, part[model], label=model, lw=2.5 if model == "model" else 1, alpha=0.9)
    ax.set_ylabel(f"share of the week's shootings in the top {share:.0%} of cells")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower left", ncols=len(part.columns))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def recent_skill(
    config: PlanConfig,
    incidents: gpd.GeoDataFrame,
    *,
    week_start: pd.Timestamp,
    weeks: int = 26,
    limits: shapely.Geometry | None = None,
) -> dict[str, float] | None:
    """Backtested hit rate and PAI at 5 % of the city over the ``weeks`` before the plan week,
    for the plan's model and the all-history count, as the weekly plan reports them; None when
    those weeks hold no shooting to score."""
    first = (week_start - pd.Timedelta(weeks=weeks)).tz_localize(None)
    last = (week_start - pd.Timedelta(weeks=1)).tz_localize(None)
    scores = backtest_city(config, incidents, test_from=first, test_to=last, limits=limits)
    at5 = summarise(scores[scores["share"] == 0.05]).set_index("model")
    if at5.empty or not np.isfinite(at5[["hit_rate", "pai"]].to_numpy(dtype=float)).all():
        return None
    return {
        "weeks": int(at5.at["model", "weeks"]),
        "area_share": 0.05,
        "hit_rate": round(float(at5.at["model", "hit_rate"]), 3),
        "pai": round(float(at5.at["model", "pai"]), 2),
        "baseline_count_all_hit_rate": round(float(at5.at["count_all", "hit_rate"]), 3),
    }


def _city_limits(config: PlanConfig) -> shapely.Geometry:
    limits = read_city_limits(config.city)
    if limits is None:
        raise InputDataError("the backtest needs [city] limits: its grid covers the city")
    return limits


def _hits(risk: np.ndarray, actual: np.ndarray, share: float) -> float:
    """Incidents in the riskiest cells covering ``share`` of the cells; ties at the cut-off
    count fractionally."""
    k = share * len(risk)
    order = np.sort(risk)[::-1]
    cutoff = order[int(np.ceil(k)) - 1]
    above = risk > cutoff
    tied = risk == cutoff
    fraction = (k - above.sum()) / tied.sum()
    return float(actual[above].sum() + fraction * actual[tied].sum())


def _xy(frame: gpd.GeoDataFrame) -> np.ndarray:
    return shapely.get_coordinates(frame.geometry.to_numpy())
