"""Write the notebooks in notebooks/ (kept as code so their cells are reviewed like code)."""

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


BACKTEST_CELLS = [
    (
        "md",
        """# Do the hotspots forecast next week's shootings?

The backtest of `outreach_routes.backtest` on the bundled Philadelphia data: for every week of
2021-2022, each model is fitted on everything before the week and flags the riskiest cells;
a hit is a shooting of that week inside a flagged cell. The baselines are counts of the last
52 weeks, counts of all history and a kernel density of the last 365 days; `model` is the
weekly plan's own risk surface (parameters tuned on 2017-2020).""",
    ),
    (
        "code",
        """import pandas as pd

import outreach_routes as orr
from outreach_routes import backtest as bt

config = orr.load_config()
table = orr.load_incidents(config.incidents, crs=config.city.crs,
                           timezone=config.city.timezone)
scores = bt.backtest_city(config, table.incidents, test_from=pd.Timestamp("2021-01-01"),
                          test_to=pd.Timestamp("2022-12-31"))
summary = bt.summarise(scores)
summary.pivot(index="model", columns="share", values="hit_rate").round(3)""",
    ),
    (
        "code",
        """diff, error = bt.paired_difference(scores, "model", "count_all", 0.05)
print(f"model - count_all at 5% of the city: {diff:+.3f} (standard error {error:.3f})")""",
    ),
    ("md", "## The weekly hit rate at 5 % of the city"),
    ("code", """bt.plot_scores(scores, share=0.05);"""),
    (
        "md",
        """## What each model flags for one week
Cells flagged at 5 % of the city for the week of 6 June 2022, one layer per model.""",
    ),
    (
        "code",
        """import folium

week = pd.Timestamp("2022-06-06").tz_localize(config.city.timezone)
cells = bt.flagged_cells(config, table.incidents, week_start=week).to_crs("EPSG:4326")
fmap = folium.Map(location=[39.99, -75.15], zoom_start=11, tiles="OpenStreetMap")
colours = {"count_52w": "#1b9e77", "count_all": "#7570b3", "kde_365d": "#e7298a",
           "model": "#d95f02"}
for name, part in cells.groupby("model"):
    folium.GeoJson(part.__geo_interface__, name=name, show=name in ("model", "count_all"),
                   style_function=lambda _f, c=colours[name]: {"color": c, "weight": 1,
                                                              "fillOpacity": 0.4}).add_to(fmap)
folium.LayerControl(collapsed=False).add_to(fmap)
fmap""",
    ),
]


ROUTE_BACKTEST_CELLS = [
    (
        "md",
        """# Did the routes go where the shootings happened?

The route backtest of `outreach_routes.route_backtest`: every week is planned as the weekly job
would, from the data before it only, and the week's shootings are scored against the planned
routes and two baselines walking the same shifts from the same bases: greedy routes to the
cells with the most shootings in all history (`top_cells`), and random walks as long as the
planned routes (`random_walk`).

This notebook runs a few weeks in this process (`serial=True`) so it finishes in a minute or
two. For years of weeks, leave `serial` out: the weeks then run as tasks on a Dask
`LocalCluster` (or pass `scheduler="tcp://host:8786"` for a running cluster), with the same
results.""",
    ),
    (
        "code",
        """import tempfile

import pandas as pd

from outreach_routes import route_backtest as rb
from outreach_routes.config import default_config_path

CONFIG = default_config_path()  # the bundled Philadelphia plan
FROM, TO = "2022-10-03", "2022-10-16"  # two weeks; e.g. "2021-01-04", "2022-12-26" on Dask
frame = rb.route_backtest(CONFIG, FROM, TO, serial=True, cache_dir=tempfile.mkdtemp())
print(f"{frame['week'].nunique()} weeks, {len(frame)} rows")""",
    ),
    ("md", "## City-wide, each method"),
    (
        "code",
        """summary = rb.summarise_routes(frame)
summary[summary["team"] == "all"].set_index("method").round(3)""",
    ),
    ("md", "## Week by week: share of the city's shootings within 150 m of a route"),
    (
        "code",
        """city = frame[frame["team"] == "all"].assign(
    share=lambda d: d["near_route"] / d["shootings"])
weekly = city.pivot(index="week", columns="method", values="share")
ax = weekly.plot(marker="o", ylabel="shootings within 150 m of a route", figsize=(8, 3.5))
weekly.round(3)""",
    ),
    ("md", "## Per team (the shootings in its territory)"),
    (
        "code",
        """per_team = summary[summary["team"] != "all"].pivot(
    index="team", columns="method", values="near_route")
per_team.round(3)""",
    ),
    (
        "md",
        """## The shootings the routes missed, in the last week
Red: more than 150 m from every planned route of that week; green: near a route. Only the
place and the day are shown, never anything about the victims.""",
    ),
    (
        "code",
        """import folium
from pyproj import Transformer

last = frame["week"].max()
plan, shootings = rb.week_detail(CONFIG, last)
points = shootings.to_crs("EPSG:4326")
fmap = folium.Map(location=[39.99, -75.15], zoom_start=12, tiles="OpenStreetMap")
to_wgs = Transformer.from_crs(plan.config.city.crs, "EPSG:4326", always_xy=True)
for route in plan.routes:
    lon, lat = to_wgs.transform(route.path[:, 0], route.path[:, 1])
    folium.PolyLine(list(zip(lat, lon)), color="#1f77b4", weight=2, opacity=0.5).add_to(fmap)
for row in points.itertuples():
    folium.CircleMarker([row.geometry.y, row.geometry.x], radius=5, fill=True, fill_opacity=0.9,
                        color="#2ca02c" if row.near_route else "#d62728",
                        tooltip=f"{row.occurred_at:%a %d %b}").add_to(fmap)
print(f"week of {last}: {int(shootings['near_route'].sum())} of {len(shootings)} shootings "
      "within 150 m of a planned route")
fmap""",
    ),
]


def write(name: str, cells: list[tuple[str, str]]) -> None:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
        for kind, src in cells
    ]
    path = Path(__file__).resolve().parents[1] / "notebooks" / name
    nbf.write(nb, path)
    print(path)


def main() -> None:
    write("01_weekly_plan.ipynb", CELLS)
    write("02_backtest.ipynb", BACKTEST_CELLS)
    write("03_route_backtest.ipynb", ROUTE_BACKTEST_CELLS)


if __name__ == "__main__":
    main()
