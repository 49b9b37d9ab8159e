"""Wall time and peak memory of each stage of the weekly plan.

Usage::

    .venv/bin/python benchmarks/plan_city.py [--config FILE] [--out DIR]

Prints one row per stage (seconds, peak MiB traced by tracemalloc while that stage ran), the
weekly coverage per team, the map sizes (issue 6: overview under 3 MB, each team map under
1 MB; for ``--offline`` maps, not counting the JavaScript, CSS and fonts inlined into every
map, a fixed amount printed too), then the whole run (plan and writing every output) with the
process's peak resident memory on the last line. The target (issue 2): under 60 s on a 2-core,
24 GB machine, after install.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
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
    args = parser.parse_args()
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
