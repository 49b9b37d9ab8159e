"""outreach-routes: weekly walking routes for violence-interrupter teams, from shooting data.

The pipeline's stages are plain functions over GeoDataFrames and graphs, importable from here:

>>> import outreach_routes as orr
>>> config = orr.load_config()          # the bundled Philadelphia plan
>>> config.city.name
'Philadelphia'

Run a whole week with :func:`plan_week` and write its maps with :func:`write_plan`.
"""

from importlib.metadata import PackageNotFoundError, version

from ._errors import ConfigError, InputDataError, StageError
from .config import PlanConfig, load_config
from .hotspots import find_hotspots, incident_weights, risk_cells
from .incidents import IncidentTable, load_incidents
from .network import graph_from_centerlines, load_network, walkable_centerlines
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

try:
    __version__ = version("outreach-routes")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
    "find_hotspots",
    "graph_from_centerlines",
    "incident_weights",
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
