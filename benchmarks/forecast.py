"""Backtest the hotspot model against the baselines on raw Philadelphia shooting files.

Usage::

    .venv/bin/python benchmarks/forecast.py \\
        --incidents ../shared/data/raw/philly-shootings/shootings_20*.json \\
        --test-from 2021-01-01 --test-to 2022-12-31 [--weekly-csv weekly.csv]

Files in the format of ``philly-shootings`` (victim rows, ``dc_key``, ``date``); more years may
be passed. The protocol is :mod:`outreach_routes.backtest`'s: 150 m cells inside the city
limits, weekly forecasts fitted on everything before each test week. The model's parameters
are those of the bundled Philadelphia config (tuned on 2017-2020, never on the test weeks);
``--bandwidth-m 110`` or ``--bandwidth-m 60 85 110 150`` tries other kernels, for tuning on
earlier weeks.
Prints the table, the paired weekly difference to the all-history count and its standard
error, the run time, and as its last line
``hit@5% model X.XXX PAI X.XX | best baseline NAME X.XXX PAI X.XX``.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=Path, nargs="+", required=True)
    parser.add_argument("--test-from", required=True)
    parser.add_argument("--test-to", required=True)
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


if __name__ == "__main__":
    main()
