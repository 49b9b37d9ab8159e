"""Backtest the hotspot model against the baselines on raw Philadelphia shooting files.

Usage::

    .venv/bin/python benchmarks/forecast.py \\
        --incidents ../shared/data/raw/philly-shootings/shootings_20*.json \\
        --test-from 2021-01-01 --test-to 2022-12-31 [--weekly-csv weekly.csv]

Files in the format of ``philly-shootings`` (victim rows, ``dc_key``, ``date``); more years may
be passed. The protocol is :mod:`outreach_routes.backtest`'s: 150 m cells inside the city
limits, weekly forecasts fitted on everything before each test week. The model's parameters
are those of the bundled Philadelphia config (chosen by ``--by-year`` below);
``--bandwidth-m 110`` or ``--bandwidth-m 60 85 110 150`` tries other kernels, for tuning on
earlier weeks.
Prints the table, the paired weekly difference to the all-history count and its standard
error, the run time, and as its last line
``hit@5% model X.XXX PAI X.XX | best baseline NAME X.XXX PAI X.XX``.

``--by-year`` (issue 19) instead runs a rolling-origin backtest on the config's own incident
file (the bundled 2015-2022 shootings; no ``--incidents`` needed)::

    .venv/bin/python benchmarks/forecast.py --by-year

Every candidate of :data:`CANDIDATES` and the all-history count are scored on every week of
2016-2022. Each of 2018-2022 is then a test year in turn, with the candidate chosen on the
years before it only: the one whose worst year, of those, gained most on the count at 5% of
the city (steadiness, not the largest gain on one window). Per test year it prints the chosen
candidate, the model's and the count's weekly hit rates at 1, 2, 5 and 10%, and the paired
weekly difference at 5% with its standard error; the last line gives the mean difference over
the five years and the number of years the model is ahead.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd

from outreach_routes import load_config, load_incidents
from outreach_routes.backtest import backtest_city, paired_difference, summarise

CONFIG = Path(__file__).resolve().parents[1] / "data" / "philadelphia" / "plan.toml"

# The [hotspots] settings --by-year chooses among: recency half-life (days), kernel widths (m),
# and a blend of the kernel surface with the plain all-history count.
CANDIDATES = {
    f"half-life {h}d, widths {'/'.join(str(w) for w in widths)}": {
        "half_life_days": float(h),
        "bandwidth_m": tuple(float(w) for w in widths),
    }
    for h in (365, 1095, 2920, 36500)
    for widths in ((60, 85, 110, 150), (110, 150, 200), (150,))
} | {
    f"half-life {h}d, widths 60/85/110/150, count blend {b}": {
        "half_life_days": float(h),
        "bandwidth_m": (60.0, 85.0, 110.0, 150.0),
        "count_blend": b,
    }
    for h in (1095, 2920)
    for b in (0.25, 0.5)
}
TEST_YEARS = (2018, 2019, 2020, 2021, 2022)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=Path, nargs="+")
    parser.add_argument("--test-from")
    parser.add_argument("--test-to")
    parser.add_argument("--by-year", action="store_true", help="the rolling-origin years")
    parser.add_argument("--weekly-csv", type=Path, default=None)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument(
        "--bandwidth-m",
        type=float,
        nargs="+",
        default=None,
        help="kernel widths to try instead of the config's (for tuning on earlier weeks)",
    )
    args = parser.parse_args()
    started = time.perf_counter()

    config = load_config(args.config)
    if args.by_year:
        by_year(config, started)
        return
    if not (args.incidents and args.test_from and args.test_to):
        parser.error("give --incidents, --test-from and --test-to, or --by-year")
    if args.bandwidth_m:
        hotspots = replace(config.hotspots, bandwidth_m=tuple(args.bandwidth_m))
        config = replace(config, hotspots=hotspots)
    frames = [gpd.read_file(path) for path in args.incidents]
    victims = pd.concat(frames, ignore_index=True)
    keep = [c for c in ("dc_key", "date", "fatal", "geometry") if c in victims]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "victims.parquet"
        gpd.GeoDataFrame(victims[keep], geometry="geometry", crs=frames[0].crs).to_parquet(path)
        source = config.incidents.__class__(
            path=path, id_column="dc_key", date_column="date", fatal_column="fatal"
        )
        table = load_incidents(source, crs=config.city.crs, timezone=config.city.timezone)
    scores = backtest_city(
        config,
        table.incidents,
        test_from=pd.Timestamp(args.test_from),
        test_to=pd.Timestamp(args.test_to),
    )
    if args.weekly_csv:
        scores.to_csv(args.weekly_csv, index=False)
    summary = summarise(scores)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    diff, error = paired_difference(scores, "model", "count_all", 0.05)
    print(
        f"model - count_all at 5%: {diff:+.3f} (standard error {error:.3f}) over "
        f"{scores['week'].nunique()} weeks; rows read {table.rows_read}, incidents "
        f"{len(table.incidents)}; run time {time.perf_counter() - started:.1f} s"
    )
    at5 = summary[summary["share"] == 0.05].set_index("model")
    baselines = at5.drop(index="model")
    best = baselines["hit_rate"].idxmax()
    print(
        f"hit@5% model {at5.at['model', 'hit_rate']:.3f} PAI {at5.at['model', 'pai']:.2f} | "
        f"best baseline {best} {baselines.at[best, 'hit_rate']:.3f} PAI "
        f"{baselines.at[best, 'pai']:.2f}"
    )


def by_year(config, started: float) -> None:
    """The rolling-origin backtest of ``--by-year`` on the config's incident file."""
    from outreach_routes._io import read_city_limits
    from outreach_routes.backtest import (
        backtest,
        baseline_models,
        make_grid,
        model_risk,
        rolling_origin,
        yearly_gain,
    )

    limits = read_city_limits(config.city)
    incidents = load_incidents(
        config.incidents, crs=config.city.crs, timezone=config.city.timezone, area=limits
    ).incidents
    grid = make_grid(limits, config.hotspots.cell_m)
    models = {
        name: model_risk(replace(config.hotspots, **values)) for name, values in CANDIDATES.items()
    }
    models["count_all"] = baseline_models()["count_all"]
    scores = backtest(
        incidents,
        grid=grid,
        models=models,
        test_from=pd.Timestamp("2016-01-04"),
        test_to=pd.Timestamp("2022-12-31"),
    )
    print(f"scored {len(CANDIDATES)} candidates on {scores['week'].nunique()} weeks of 2016-2022")
    table = rolling_origin(scores, TEST_YEARS)
    for row in table.to_dict("records"):
        rates = " ".join(
            f"{s:.0%} {row[f'model@{s:g}']:.3f}/{row[f'baseline@{s:g}']:.3f}"
            for s in (0.01, 0.02, 0.05, 0.1)
        )
        print(
            f"{row['year']}: chosen [{row['chosen']}]; model/count {rates}; at 5% "
            f"{row['gain']:+.4f} (standard error {row['error']:.4f}, {row['weeks']} weeks)"
        )
    yearly = yearly_gain(scores)
    now = yearly.min().idxmax()
    print(
        f"chosen on all of 2016-2022 (for the weeks after): [{now}], worst year "
        f"{yearly[now].min():+.4f}; the config as it is: "
        + ", ".join(f"{n} ({v})" for n, v in CANDIDATES.items() if _is_config(config, v))
    )
    ahead = int((table["gain"] > 0).sum())
    print(
        f"by year 2018-2022: mean paired gain at 5% {table['gain'].mean():+.4f}; model ahead "
        f"in {ahead} of {len(table)} years; run time {time.perf_counter() - started:.0f} s"
    )


def _is_config(config, values: dict) -> bool:
    return all(getattr(config.hotspots, k) == v for k, v in values.items())


if __name__ == "__main__":
    main()
