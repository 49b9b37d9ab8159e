"""Wall time and peak memory of each stage of the weekly plan.

Usage::

    .venv/bin/python benchmarks/plan_city.py [--config FILE] [--out DIR]
    .venv/bin/python benchmarks/plan_city.py --night [--config FILE]

Prints one row per stage (seconds, peak MiB traced by tracemalloc while that stage ran), the
weekly coverage and the total prize of each team's week (issue 20: at least as high as before
the solver was compiled), how often two teams walk the same corner within 12 hours and within
``revisit_gap_min`` of each other (teams sharing a district are planned in turn: none within
the gap), the map sizes (issue 6: overview under 3 MB, each team map under
1 MB; for ``--offline`` maps, not counting the JavaScript, CSS and fonts inlined into every
map, a fixed amount printed too), then the whole run (plan and writing every output, in this
process) on the last line but one, and ``outreach-routes plan --out`` run as a command on the
last: its wall time and its peak memory counted over the process tree, the command and its
routing workers together (PSS and RSS summed, sampled every 10 ms: see ``_as_command``).
Targets: under 60 s on a 2-core, 24 GB machine (issue 2); the bundled plan with its outputs in
7.5 s, the command's peak PSS no higher than before issue 20 (539 MiB), and the city-wide
example (``--config data/philadelphia/citywide.toml``, 42 teams) in 20 s (issue 20).

With ``--night`` (issue 15): the bundled Philadelphia week planned and written as the weekly job
does, then one shooting added on Tuesday night in district 22 and the Wednesday re-planned as
``plan --night`` does, and once more with the week's saved state deleted (computed again); the
last line gives the weekly and nightly times and their ratio (target: under 0.5).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

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
    # The command first, while this process has loaded none of the libraries it maps: PSS
    # splits a page among every process mapping it, this one too.
    command = _as_command(args.config, out.parent / f"{out.name}-command")

    import folium
    import numpy as np

    from outreach_routes import InputDataError, plan_week, write_plan
    from outreach_routes._assets import assets_dir, inline_assets
    from outreach_routes.pipeline import weekly_coverage
    from outreach_routes.render import lean

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
    prizes: dict[str, float] = {}
    for route in plan.routes:
        prizes[route.team] = prizes.get(route.team, 0.0) + route.prize
    for team, cover in weekly_coverage(plan).items():
        print(
            f"weekly coverage {team}: {cover['stops_visited']}/{cover['stops']} stops "
            f"({cover['stop_share']:.0%}), {cover['risk_share']:.0%} of the risk; "
            f"prize {prizes[team]:.3f}"
        )
    print(f"prize of the week, all teams: {sum(prizes.values()):.3f}")
    stops = [int((r.stops["kind"] != "base").sum()) for r in plan.routes]
    print(
        f"a night: {np.mean(stops):.1f} stops (fewest {min(stops)}, most {max(stops)}), "
        f"{np.mean([r.walk_m for r in plan.routes]) / 1000:.1f} km walked"
    )
    print(_shared_corners(plan))
    print(f"map sizes, online: {_sizes(out, 0)}")
    try:
        modules = assets_dir()
    except InputDataError as exc:
        print(f"offline map sizes: not measured ({exc})")
    else:
        empty = lean(folium.Map()).get_root().render()
        fixed = len(inline_assets(empty, modules).encode()) - len(empty.encode())
        offline = out.parent / f"{out.name}-offline"
        write_plan(plan, offline, offline=True, assets=modules)
        print(
            f"map sizes, --offline, less the {fixed / MB:.2f} MB of inlined assets every "
            f"map carries: {_sizes(offline, fixed)}"
        )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total plan + outputs: {total:.1f} s, peak RSS {peak_rss:.0f} MiB ({out})")
    seconds, rss, pss = command
    print(
        f"outreach-routes plan as a command: {seconds:.1f} s, peak of the process tree "
        f"{pss:.0f} MiB PSS ({rss:.0f} MiB RSS summed)"
    )


def _shared_corners(plan) -> str:
    """How often teams walk the same corner on the same night, and within ``revisit_gap_min``
    of each other: the waste of teams sharing a district planned apart (the city-wide example's
    two shifts a district)."""
    import pandas as pd

    visits = pd.concat(
        [
            r.stops.loc[r.stops["kind"] != "base", ["x", "y", "arrive"]].assign(team=r.team)
            for r in plan.routes
        ],
        ignore_index=True,
    )
    pairs = visits.reset_index().merge(visits, on=["x", "y"], suffixes=("", "_other"))
    apart = (pairs["arrive"] - pairs["arrive_other"]).abs()
    pairs = pairs[(pairs["team"] != pairs["team_other"]) & (apart < pd.Timedelta(hours=12))]
    gap = pd.Timedelta(minutes=plan.config.routing.revisit_gap_min)
    close = pairs[(pairs["arrive"] - pairs["arrive_other"]).abs() < gap]
    return (
        f"corners shared by teams: of {len(visits)} stop visits, {pairs['index'].nunique()} at "
        f"a corner another team walks within 12 h, {close['index'].nunique()} within "
        f"{gap.total_seconds() / 60:g} min of its visit"
    )


def _as_command(config: Path | None, out: Path) -> tuple[float, float, float]:
    """Wall seconds of ``outreach-routes plan`` and the peaks of its process tree's summed
    resident memory, RSS and PSS (MiB), sampled every 10 ms.

    RSS counts a page the command shares with its routing worker (the interpreter, numpy, the
    C libraries) once in each process; PSS splits each shared page among the processes sharing
    it, so the tree's PSS is the memory the command takes from the machine. Both are printed,
    and PSS is the one compared with the one-process plan of before issue 20 (539 MiB there).
    """
    import subprocess
    import sys

    import psutil

    command = [sys.executable, "-m", "outreach_routes", "plan", "--out", str(out)]
    if config is not None:
        command += ["--config", str(config)]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root, rss, pss = psutil.Process(proc.pid), 0, 0
    while proc.poll() is None:
        try:
            tree = [root.memory_full_info()]
            tree += [p.memory_full_info() for p in root.children(recursive=True)]
            rss = max(rss, sum(m.rss for m in tree))
            pss = max(pss, sum(m.pss for m in tree))
        except psutil.Error:  # a worker ended between listing and reading it
            pass
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"outreach-routes plan failed with exit code {proc.returncode}")
    return seconds, rss / 2**20, pss / 2**20


def nightly(config: Path | None) -> None:
    """Time the weekly run, then the Wednesday re-plan after one new shooting."""
    import json

    import geopandas as gpd
    import pandas as pd

    from outreach_routes import load_config, plan_week, write_plan

    cfg = load_config(config)
    folder = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    write_plan(plan_week(cfg), folder / "out")
    weekly = time.perf_counter() - started
    document = json.loads((folder / "out" / "plan.json").read_text("utf-8"))
    import shutil

    shutil.copytree(folder / "out", folder / "stateless")
    shutil.rmtree(folder / "stateless" / "state")

    incidents = gpd.read_parquet(cfg.incidents.path)
    shot = incidents.iloc[[-1]].copy()
    shot[cfg.incidents.id_column] = "BENCH-1"
    shot[cfg.incidents.date_column] = "2023-01-03 22:30:00"
    shot = shot.set_geometry(gpd.points_from_xy([-75.165], [39.987], crs=4326).to_crs(shot.crs))
    path = folder / "incidents.parquet"
    pd.concat([incidents, shot]).to_parquet(path)
    revised = replace(cfg, incidents=replace(cfg.incidents, path=path))
    started = time.perf_counter()
    night = pd.Timestamp("2023-01-04").date()
    plan = plan_week(revised, night=night, previous=document, reuse=folder / "out")
    write_plan(plan, folder / "out")
    seconds = time.perf_counter() - started
    print("nightly stages: " + ", ".join(f"{t.stage} {t.seconds:.1f} s" for t in plan.timings))
    started = time.perf_counter()  # the same night with the week's saved state deleted
    again = plan_week(revised, night=night, previous=document, reuse=folder / "stateless")
    write_plan(again, folder / "stateless")
    stateless = time.perf_counter() - started
    print(f"the same night without the week's saved state (state/): {stateless:.1f} s")
    added = sum(len(r["response_stops"]) for r in plan.revisions)
    print(
        f"weekly {weekly:.1f} s; nightly (Wednesday, {added} response stop) {seconds:.1f} s; "
        f"ratio {seconds / weekly:.2f}"
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
