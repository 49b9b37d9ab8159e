"""Write notebooks/01_weekly_plan.ipynb (kept as code so its cells are reviewed like code)."""

from pathlib import Path

import nbformat as nbf

CELLS = [
    (
        "md",
        """# A weekly plan, step by step

This notebook runs the outreach-routes pipeline on the bundled Philadelphia data (shooting
victims 2015-2022, the city's street centerlines, police districts as team territories, and an
*illustrative* file of community requests), one stage at a time, then plans the whole week and
shows the maps. Every function used here is exported by `outreach_routes`.""",
    ),
    (
        "code",
        """import outreach_routes as orr

config = orr.load_config()  # data/philadelphia/plan.toml
[t.name for t in config.teams]""",
    ),
    (
        "md",
        """## 1. Incidents
Victim rows are grouped into incidents by `dc_key`; rows without a location and exact
duplicates go to the rejects table with the reason. Victim attributes are never loaded.""",
    ),
    (
        "code",
        """table = orr.load_incidents(config.incidents, crs=config.city.crs,
                           timezone=config.city.timezone)
print(f"rows read {table.rows_read}, used {table.rows_used}, rejected {table.rows_rejected}")
table.rejects["reason"].value_counts()""",
    ),
    ("code", """table.incidents.tail()"""),
    (
        "md",
        """## 2. Hotspots
A recency-weighted kernel density on 150 m cells; the riskiest 3 % of the city, grouped into
hotspots with DBSCAN. The plan week is the week after the last incident.""",
    ),
    (
        "code",
        """import geopandas as gpd
import pandas as pd

last = table.incidents["occurred_at"].max()
week_start = orr.week_start_for((last + pd.Timedelta(days=7)).date(), config.city.timezone)
limits = gpd.read_file(config.city.limits).to_crs(config.city.crs).union_all()
cells = orr.risk_cells(table.incidents, week_start=week_start, config=config.hotspots,
                       limits=limits)
cells, hotspots = orr.find_hotspots(cells, table.incidents, week_start=week_start,
                                    config=config.hotspots)
print(week_start, len(hotspots), "hotspots")
hotspots.drop(columns="geometry").head(10)""",
    ),
    (
        "md",
        """## 3. The solver on its own
`solve_orienteering` takes any travel-time matrix. Here: ten random points, one walker, a
100-minute budget, 5 minutes at each stop.""",
    ),
    (
        "code",
        """import numpy as np

rng = np.random.default_rng(0)
xy = rng.uniform(0, 30, size=(10, 2))
travel = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
prize = np.r_[0, rng.integers(1, 10, 9)]
service = np.r_[0, np.full(9, 5.0)]
orr.solve_orienteering(travel, prize, service, budget=100, iterations=100, seed=1)""",
    ),
    (
        "md",
        """## 4. The whole week
`plan_week` runs every stage: requests, the walking graph, each team's part of it (no-go zones
removed), stops at street corners, and a route for every team and night.""",
    ),
    (
        "code",
        """plan = orr.plan_week(config)
doc = orr.plan_document(plan)
summary = pd.DataFrame(
    [{"team": r["team"], "night": r["night"], "stops": len(r["stops"]) - 2,
      "km": r["walk_km"], "minutes": r["duration_min"], "prize": r["prize"]}
     for r in doc["teams"]]
)
summary.groupby("team")[["stops", "km", "prize"]].sum()""",
    ),
    ("code", """doc["unserved_requests"]"""),
    (
        "md",
        """## 5. Maps
The coordinators' overview, then one team's map (each night is a layer).""",
    ),
    ("code", """orr.overview_map(plan, doc)"""),
    ("code", """orr.team_map(doc, doc["teams"][0]["slug"])"""),
    (
        "md",
        """## 6. Write every output
`write_plan` writes the maps, sheets, GPX, `plan.json`, `rejects.csv` and `manifest.json`
into a folder, replacing it only when everything succeeded.""",
    ),
    (
        "code",
        """import tempfile
from pathlib import Path

folder = orr.write_plan(plan, Path(tempfile.mkdtemp()) / "out")
sorted(p.name for p in folder.iterdir())""",
    ),
]


def main() -> None:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
        for kind, src in CELLS
    ]
    path = Path(__file__).resolve().parents[1] / "notebooks" / "01_weekly_plan.ipynb"
    nbf.write(nb, path)
    print(path)


if __name__ == "__main__":
    main()
