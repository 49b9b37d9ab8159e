"""The colours of the maps: one per team (in the plan's order of teams) and one per kind of
stop. The run's folium maps and the service's live maps draw a team in the same colour."""

from __future__ import annotations

from typing import Any

__all__ = ["KIND_COLOURS", "TEAM_COLOURS", "team_colours"]

TEAM_COLOURS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
]
KIND_COLOURS = {"hotspot": "#b10026", "request": "#238b45", "recent": "#6a3d9a", "base": "#000"}


def team_colours(document: dict[str, Any]) -> dict[str, str]:
    """Team slug -> its colour, for a plan document (``plan.json``)."""
    slugs = list(dict.fromkeys(r["slug"] for r in document["teams"]))
    return {s: TEAM_COLOURS[i % len(TEAM_COLOURS)] for i, s in enumerate(slugs)}
