"""outreach-routes: weekly walking routes for violence-interrupter teams, from shooting data.

The pipeline's stages are plain functions over GeoDataFrames and graphs, importable from here:

>>> import outreach_routes as orr
>>> config = orr.load_config()          # the bundled Philadelphia plan
>>> config.city.name
'Philadelphia'

Run a whole week with :func:`plan_week` and write its maps with :func:`write_plan`.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from ._errors import ConfigError, InputDataError, StageError

# The public names and the module each lives in. They load on first use (PEP 562), so
# `import outreach_routes` and the command line's `--help` and `where` stay quick: the stages
# bring in geopandas, scikit-learn, osmnx and folium only when one is called.
_LAZY = {
    "PlanConfig": "config",
    "load_config": "config",
    "cut_territories": "districts",
    "find_hotspots": "hotspots",
    "incident_weights": "hotspots",
    "risk_cells": "hotspots",
    "IncidentTable": "incidents",
    "load_incidents": "incidents",
    "graph_from_centerlines": "network",
    "load_network": "network",
    "walkable_centerlines": "network",
    "init_city": "newcity",
    "Plan": "pipeline",
    "plan_document": "pipeline",
    "plan_week": "pipeline",
    "validate_inputs": "pipeline",
    "week_start_for": "pipeline",
    "weekly_coverage": "pipeline",
    "write_plan": "pipeline",
    "overview_map": "render",
    "route_gpx": "render",
    "route_sheet": "render",
    "safe_text": "render",
    "team_map": "render",
    "load_requests": "requests",
    "Route": "routing",
    "TeamNetwork": "routing",
    "plan_routes": "routing",
    "solve_orienteering": "routing",
    "team_network": "routing",
    "build_stops": "stops",
    "Team": "teams",
    "load_teams": "teams",
}

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .config import PlanConfig, load_config
    from .districts import cut_territories
    from .hotspots import find_hotspots, incident_weights, risk_cells
    from .incidents import IncidentTable, load_incidents
    from .network import graph_from_centerlines, load_network, walkable_centerlines
    from .newcity import init_city
    from .pipeline import (
        Plan,
        plan_document,
        plan_week,
        validate_inputs,
        week_start_for,
        weekly_coverage,
        write_plan,
    )
    from .render import overview_map, route_gpx, route_sheet, safe_text, team_map
    from .requests import load_requests
    from .routing import Route, TeamNetwork, plan_routes, solve_orienteering, team_network
    from .stops import build_stops
    from .teams import Team, load_teams


def __getattr__(name: str) -> object:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("outreach-routes")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0"
    elif name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "__version__"})


__all__ = [
    "ConfigError",
    "IncidentTable",
    "InputDataError",
    "Plan",
    "PlanConfig",
    "Route",
    "StageError",
    "Team",
    "TeamNetwork",
    "build_stops",
    "cut_territories",
    "find_hotspots",
    "graph_from_centerlines",
    "incident_weights",
    "init_city",
    "load_config",
    "load_incidents",
    "load_network",
    "load_requests",
    "load_teams",
    "overview_map",
    "plan_document",
    "plan_routes",
    "plan_week",
    "risk_cells",
    "route_gpx",
    "route_sheet",
    "safe_text",
    "solve_orienteering",
    "team_map",
    "team_network",
    "validate_inputs",
    "walkable_centerlines",
    "weekly_coverage",
    "week_start_for",
    "write_plan",
]
