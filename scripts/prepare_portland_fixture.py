"""Make the fourth-city test fixture in ``tests/data/portland/`` from real public files.

``streets.osm.pbf``: every way of the central Portland extract (``portland-osm/`` in SOURCES.md)
(OpenStreetMap, ODbL) with a node inside a 2.3 x 2.2 km box of central Portland, Oregon (downtown's
waterfront park, the Hawthorne and Morrison bridges, I-5, and Ladd's Addition with its unnamed
alleys), with all of their nodes.

``incidents.csv``: the Gun Violence Archive rows of Minneapolis already bundled in
``data/minneapolis/`` (dates only, no times; 31 rows geocoded outside the city), moved as one
piece so that North Minneapolis (45.012, -93.300) lands on the box's centre. Real dates and a real
pattern of places, but **not Portland's shootings**: a test fixture only. Participant columns were
removed upstream; here only the id, date, counts, kind and point are kept.

Usage: python scripts/prepare_portland_fixture.py [../shared/data/raw/portland-osm/...pbf]
"""

from __future__ import annotations

import sys
from pathlib import Path

import osmium
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared/data/raw/portland-osm/portland-central-filtered.osm.pbf"
OUT = ROOT / "tests/data/portland"
BOX = (-122.675, 45.505, -122.645, 45.525)  # west, south, east, north
MOVE_FROM = (45.012, -93.300)  # North Minneapolis, the densest 2.3 km of the GVA rows
MOVE_TO = ((BOX[1] + BOX[3]) / 2, (BOX[0] + BOX[2]) / 2)


def cut_osm(source: Path, target: Path) -> int:
    """Write the ways with a node in BOX, and all their nodes; return how many ways."""
    x0, y0, x1, y1 = BOX
    nodes: dict[int, tuple[float, float]] = {}
    ways = []
    for obj in osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if not obj.is_way():
            continue
        refs = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
        if not any(x0 <= lon <= x1 and y0 <= lat <= y1 for _, lon, lat in refs):
            continue
        ways.append((obj.id, dict(obj.tags), [r for r, _, _ in refs]))
        nodes.update({r: (lon, lat) for r, lon, lat in refs})
    target.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(target)) as writer:
        for ref in sorted(nodes):
            writer.add_node(osmium.osm.mutable.Node(id=ref, location=nodes[ref]))
        for way_id, tags, refs in sorted(ways, key=lambda w: w[0]):
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags))
    return len(ways)


def move_incidents(target: Path) -> int:
    rows = pd.read_csv(ROOT / "data/minneapolis/gva_minneapolis_2013-2018.csv")
    rows = rows[
        [
            "incident_id",
            "date",
            "n_killed",
            "n_injured",
            "incident_characteristics",
            "latitude",
            "longitude",
        ]
    ]
    rows["latitude"] = (rows["latitude"] + MOVE_TO[0] - MOVE_FROM[0]).round(5)
    rows["longitude"] = (rows["longitude"] + MOVE_TO[1] - MOVE_FROM[1]).round(5)
    rows.to_csv(target, index=False)
    return len(rows)


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"{cut_osm(source, OUT / 'streets.osm.pbf'):,} ways -> {OUT / 'streets.osm.pbf'}")
    print(f"{move_incidents(OUT / 'incidents.csv'):,} rows -> {OUT / 'incidents.csv'}")
