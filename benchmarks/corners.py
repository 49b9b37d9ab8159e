"""How many of the Gun Violence Archive's hand-written Minneapolis corners the matcher resolves.

Usage::

    .venv/bin/python benchmarks/corners.py [--misses]

Each GVA address with " and " is matched against the street names of the bundled Minneapolis
network, with the neighbourhood holding GVA's point (plus 200 m) as the team territory. A match
counts as right within 400 m of GVA's point. Printed for all such addresses, then for those
that are street corners inside the city (no freeways, buildings, blocks, or points outside).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

from outreach_routes import load_config, load_network
from outreach_routes.corners import corner_index, corner_outcomes

CONFIG = Path(__file__).resolve().parents[1] / "data" / "minneapolis" / "plan.toml"
NOT_A_CORNER = re.compile(r"interstate|\bI-\d|\bMN \d|highway|\bhall\b|block of", re.IGNORECASE)


def main() -> None:
    config = load_config(CONFIG)
    graph, _ = load_network(config.network, crs=config.city.crs)
    index = corner_index(graph)
    areas = gpd.read_file(config.territories.path).to_crs(config.city.crs)
    city = areas.union_all()
    gva = pd.read_csv(config.incidents.path)
    gva = gva[gva["address"].str.contains(" and ", na=False) & gva["latitude"].notna()]
    points = gpd.GeoSeries(gpd.points_from_xy(gva["longitude"], gva["latitude"]), crs=4326)
    points = points.to_crs(config.city.crs).to_numpy()
    frame = corner_outcomes(gva["address"].tolist(), points, index, areas.geometry)
    frame["in_city"] = [
        city.contains(p) and not NOT_A_CORNER.search(a)
        for a, p in zip(frame["address"], points, strict=True)
    ]
    parts = (
        ("all GVA corners", frame),
        ("corners in the city", frame[frame.in_city]),
        ("... GVA point on both", frame[frame.in_city & frame.truth_on_streets]),
    )
    for label, part in parts:
        counts = part["outcome"].value_counts()
        print(
            f"{label:<22} n={len(part):>4}  right {counts.get('right', 0) / len(part):.3f}  "
            f"reported {counts.get('reported', 0) / len(part):.3f}  "
            f"wrong {counts.get('wrong', 0) / len(part):.3f}"
        )
    if "--misses" in sys.argv:
        for row in frame[frame.in_city & (frame.outcome != "right")].itertuples():
            print(f"{row.outcome:<9} on-streets={row.truth_on_streets!s:<5} {row.message}")


if __name__ == "__main__":
    main()
