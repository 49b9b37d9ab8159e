"""Wall time and peak memory of each stage of the weekly plan.

Usage::

    .venv/bin/python benchmarks/plan_city.py [--config FILE] [--out DIR]
    .venv/bin/python benchmarks/plan_city.py --night [--config FILE]

Prints one row per stage (seconds, peak MiB traced by tracemalloc while that stage ran), the
weekly coverage per team, the map sizes (issue 6: overview under 3 MB, each team map under
1 MB; for ``--offline`` maps, not counting the JavaScript, CSS and fonts inlined into every
map, a fixed amount printed too), then the whole run (plan and writing every output) with the
process's peak resident memory on the last line. The target (issue 2): under 60 s on a 2-core,
24 GB machine, after install.

With ``--night`` (issue 15): the bundled Philadelphia week planned and written as the weekly job
does, then one shooting added on Tuesday night in district 22 and the Wednesday re-planned as
``plan --night`` does; the last line gives both times and their ratio (target: under 0.5).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import folium

from outreach_routes import InputDataError, plan_week, write_plan
from outreach_routes._assets import assets_dir, inline_assets
from outreach_routes.pipeline import weekly_coverage

MB = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--night", action="store_true", help="time plan --night against weekly")
    args = parser.parse_args()
    if args.night:
        nightly(args.config)
        return
    out = args.out or Path(tempfile.mkdtemp()) / "out"

    started = time.perf_counter()
    plan = plan_week(args.config)  # untraced: the total is timed as a user runs it
    planned = time.perf_counter()
    write_plan(plan, out)
    total = time.perf_counter() - started
    write_seconds = total - (planned - started)

    traced = plan_week(args.config, measure_memory=True)  # a second run, for memory per stage
    print(f"{'stage':<12}{'seconds':>10}{'peak MiB':>10}")
    for timing, measured in zip(plan.timings, traced.timings, strict=True):
        print(f"{timing.stage:<12}{timing.seconds:>10.2f}{measured.peak_mb:>10.1f}")
    print(f"{'write':<12}{write_seconds:>10.2f}{'':>10}")
    for team, cover in weekly_coverage(plan).items():
        print(
            f"weekly coverage {team}: {cover['stops_visited']}/{cover['stops']} stops "
            f"({cover['stop_share']:.0%}), {cover['risk_share']:.0%} of the risk"
        )
    print(f"map sizes, online: {_sizes(out, 0)}")
    try:
        modules = assets_dir()
    except InputDataError as exc:
        print(f"offline map sizes: not measured ({exc})")
    else:
        empty = folium.Map().get_root().render()
        fixed = len(inline_assets(empty, modules).encode()) - len(empty.encode())
        offline = out.parent / f"{out.name}-offline"
        write_plan(plan, offline, offline=True, assets=modules)
        print(
            f"map sizes, --offline, less the {fixed / MB:.2f} MB of inlined assets every "
            f"map carries: {_sizes(offline, fixed)}"
        )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total plan + outputs: {total:.1f} s, peak RSS {peak_rss:.0f} MiB ({out})")


def nightly(config: Path | None) -> None:
    """Time the weekly run, then the Wednesday re-plan after one new shooting."""
    import json

    import geopandas as gpd
    import pandas as pd

    from outreach_routes import load_config

    cfg = load_config(config)
    folder = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    write_plan(plan_week(cfg), folder / "out")
    weekly = time.perf_counter() - started
    document = json.loads((folder / "out" / "plan.json").read_text("utf-8"))

    incidents = gpd.read_parquet(cfg.incidents.path)
    shot = incidents.iloc[[-1]].copy()
    shot[cfg.incidents.id_column] = "BENCH-1"
    shot[cfg.incidents.date_column] = "2023-01-03 22:30:00"
    shot = shot.set_geometry(gpd.points_from_xy([-75.165], [39.987], crs=4326).to_crs(shot.crs))
    path = folder / "incidents.parquet"
    pd.concat([incidents, shot]).to_parquet(path)
    revised = replace(cfg, incidents=replace(cfg.incidents, path=path))
    started = time.perf_counter()
    plan = plan_week(revised, night=pd.Timestamp("2023-01-04").date(), previous=document)
    write_plan(plan, folder / "out")
    night = time.perf_counter() - started
    print("nightly stages: " + ", ".join(f"{t.stage} {t.seconds:.1f} s" for t in plan.timings))
    added = sum(len(r["response_stops"]) for r in plan.revisions)
    print(
        f"weekly {weekly:.1f} s; nightly (Wednesday, {added} response stop) {night:.1f} s; "
        f"ratio {night / weekly:.2f}"
    )


def _sizes(folder: Path, fixed: int) -> str:
    teams = {p.name: p.stat().st_size - fixed for p in (folder / "teams").glob("*.html")}
    teams = {k: v for k, v in teams.items() if not k.endswith("-sheet.html")}
    largest = max(teams, key=teams.get)
    overview = (folder / "index.html").stat().st_size - fixed
    return (
        f"overview {overview / MB:.2f} MB, largest team map {teams[largest] / MB:.2f} MB "
        f"({largest})"
    )


if __name__ == "__main__":
    main()
