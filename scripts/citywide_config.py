"""Write data/philadelphia/citywide.toml: a city-wide program, two teams in every police district.

Usage::

    .venv/bin/python scripts/citywide_config.py [--out data/philadelphia/citywide.toml]

Every district with streets (all but 77, the airport) gets an evening team (18:00-23:00) and a
late team (21:00-02:00), seven nights a week, both based at the street corner (a node where three
or more streets meet) nearest the district's representative point and inside it. The city,
incidents, network, territories, hotspot, request and routing settings are copied from the
bundled plan.toml, so the example plans the same city at 42 teams instead of six (issue 20).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from outreach_routes import load_config, load_network

HERE = Path(__file__).resolve().parents[1] / "data" / "philadelphia"
SHIFTS = (("evening", "18:00", "23:00"), ("late", "21:00", "02:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "citywide.toml")
    args = parser.parse_args()
    config = load_config(HERE / "plan.toml")
    graph, _report = load_network(config.network, crs=config.city.crs)
    ids = np.array([n for n, degree in graph.degree() if degree >= 6])  # 3+ streets, both ways
    xy = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in ids])
    districts = gpd.read_file(HERE / "police_districts.geojson").to_crs(config.city.crs)
    districts["number"] = districts["police_district"].astype(int)
    teams = []
    for row in districts.sort_values("number").itertuples():
        if row.number == 77:  # the airport: streets, but no neighbourhood to walk
            continue
        inside = shapely.contains_xy(row.geometry, xy[:, 0], xy[:, 1])
        if not inside.any():
            print(f"district {row.number}: no street corner inside, no teams")
            continue
        centre = shapely.get_coordinates(row.geometry.representative_point())[0]
        nearest = np.flatnonzero(inside)[np.argmin(np.hypot(*(xy[inside] - centre).T))]
        lon, lat = (
            gpd.GeoSeries(shapely.points([xy[nearest]]), crs=config.city.crs)
            .to_crs(4326)
            .geometry.iloc[0]
            .coords[0]
        )
        for label, start, end in SHIFTS:
            teams.append(_team(row.number, label, start, end, lat, lon))
    base = (HERE / "plan.toml").read_text("utf-8")
    shared = base[: base.index("[[teams]]")]
    shared = shared[shared.index("[city]") :]
    header = (
        "# outreach-routes: a city-wide example, two teams in each of Philadelphia's police\n"
        "# districts with streets (all but 77), written by scripts/citywide_config.py.\n"
        "# ILLUSTRATIVE: it shows how the plan scales (benchmarks/plan_city.py --config), not a\n"
        "# real program. Paths are relative to this file. Every option and its default:\n"
        "# docs/config.md.\n\n"
    )
    args.out.write_text(header + shared + "\n".join(teams), "utf-8")
    print(f"{len(teams)} teams written to {args.out}")


def _team(district: int, label: str, start: str, end: str, lat: float, lon: float) -> str:
    return (
        "[[teams]]\n"
        f'name = "District {district} {label}"\n'
        f'territory = "{district}"\n'
        f"base = [{lat:.5f}, {lon:.5f}]\n"
        'nights = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
        f'shift_start = "{start}"\n'
        f'shift_end = "{end}"\n'
        "walk_speed_kmh = 3.5\n"
        "dwell_min = 15\n"
    )


if __name__ == "__main__":
    main()
