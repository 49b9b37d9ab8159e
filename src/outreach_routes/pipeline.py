"""The weekly plan: run every stage in order, then write all outputs at once.

:func:`plan_week` runs load → hotspots → requests → teams → stops → routes and returns a
:class:`Plan`; :func:`write_plan` renders it into a folder atomically (a failed run leaves the
previous folder as it was). :func:`plan_document` is the ``plan.json`` content: no clock time in
it, so the same inputs, config and seed give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ._errors import InputDataError
from ._io import dumps_json, read_city_limits, sha256_file
from ._teamweek import Workers
from ._weekstate import (
    WeekState,
    load_saved_network,
    load_state,
    network_key,
    save_state,
    week_key,
)
from .backtest import recent_skill
from .config import PLACEHOLDER_CONTACT, PlanConfig, load_config
from .corners import network_corners
from .hotspots import find_hotspots, has_times_of_day, hotspot_row, hourly_risk, risk_cells
from .incidents import IncidentTable, load_incidents
from .network import NetworkReport, WalkingNetwork, crs_notes, load_walking_network
from .requests import load_requests, locate_corners
from .routing import (
    Revision,
    Route,
    TeamNetwork,
    plan_routes,
    route_from_document,
    routing_workers,
    sharing_groups,
    shooting_name,
    stop_corners,
    street_risk,
    team_network,
)
from .stops import boost_missed, build_stops, response_stops
from .teams import Team, load_teams

__all__ = ["Plan", "StageTiming", "plan_document", "plan_week", "week_start_for", "write_plan"]


@dataclass(frozen=True)
class StageTiming:
    """Wall time and peak traced memory of one stage."""

    stage: str
    seconds: float
    peak_mb: float


@dataclass(frozen=True)
class Plan:
    """Everything one weekly run computed, ready to render or inspect in a notebook."""

    config: PlanConfig
    week_start: pd.Timestamp
    incidents: IncidentTable
    cells: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame
    requests: gpd.GeoDataFrame
    teams: list[Team]
    territories: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    network: WalkingNetwork  # the walking graph: nodes, edges and report
    networks: dict[str, TeamNetwork]
    stops: gpd.GeoDataFrame
    routes: list[Route]
    unserved: pd.DataFrame
    forecast_skill: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)
    # Hotspot cells dropped because no walkable street lies within REACH_M of them.
    hotspot_cells_off_network: int = 0
    # The newest shooting the weekly plan used, and the ids of the last RECENT_DAYS of them:
    # what a nightly re-plan compares the incident file with.
    history: dict[str, Any] = field(default_factory=dict)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    timings: list[StageTiming] = field(default_factory=list)
    # This week's stops raised because last week's check-ins did not say they were done.
    followup: list[dict[str, Any]] = field(default_factory=list)
    # What a nightly re-plan of the week may read back instead of computing again (_weekstate).
    state: WeekState | None = None
    network_key: str | None = None
    # False where the incidents carry dates but no times of day (an export of dates only): their
    # midnight stamps are shown as dates, and response delays count from the end of the day.
    times_of_day: bool = True

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The walking graph as a ``MultiDiGraph``, built on first use from ``network``."""
        return self.network.graph

    def routes_of(self, slug: str) -> list[Route]:
        """The routes of one team, night by night."""
        return [r for r in self.routes if r.slug == slug]


def week_start_for(day: dt.date, timezone: str) -> pd.Timestamp:
    """Midnight, local time, of the Monday of the week holding ``day``."""
    monday = day - dt.timedelta(days=day.weekday())
    return pd.Timestamp(monday).tz_localize(timezone)


def plan_week(
    config: PlanConfig | str | Path | None = None,
    *,
    week_of: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
    measure_memory: bool = False,
    incidents: IncidentTable | None = None,
    network: WalkingNetwork | tuple[nx.MultiDiGraph, NetworkReport] | None = None,
    skill: bool = True,
    night: dt.date | None = None,
    previous: dict[str, Any] | None = None,
    followup: Callable[[pd.Timestamp], list[dict]] | None = None,
    reuse: Path | None = None,
) -> Plan:
    """Plan one week for every team of a config, or re-plan it from one night on.

    Parameters
    ----------
    config
        A loaded config or a path to one; the bundled Philadelphia config when omitted.
    week_of
        Any day of the plan week; the week after the last incident when omitted.
    progress
        Called with a short message as each stage starts and ends.
    measure_memory
        Trace peak memory per stage (slower; used by ``benchmarks/plan_city.py``).
    incidents, network
        Already loaded incidents (:func:`load_incidents`) and walking network
        (:func:`~outreach_routes.network.load_walking_network`, or the ``(graph, report)`` of
        :func:`load_network`), to plan many weeks without reading the files each time.
    skill
        Backtest the hotspots on the last 26 weeks for the overview (``forecast_skill``).
    night
        The nightly re-plan (``plan --night``): keep the nights before it as ``previous`` has
        them, and re-plan it and the rest of the week with a response stop for each shooting
        the weekly plan did not know, up to the night's first shift start (see
        :func:`outreach_routes.stops.response_stops`).
    previous
        The ``plan.json`` of the week being revised; without it (or for another week) the
        weekly plan is made first, in memory.
    followup
        Given the week's Monday, last week's stops that were planned and not done (from the
        service's check-ins: :func:`outreach_routes.report.missed_last_week`); their prizes
        are raised by ``[followup] boost`` (:func:`outreach_routes.stops.boost_missed`).
    reuse
        With ``night``: the folder of the week's run (where ``previous`` came from). What that
        run saved from the same inputs (the walking graph, the hotspots and the candidate stops)
        is read back instead of computed again; the plan is the same either way
        (:mod:`outreach_routes._weekstate`).

    Returns
    -------
    Plan

    Examples
    --------
    >>> from outreach_routes import plan_week
    >>> plan = plan_week()  # doctest: +SKIP
    >>> plan.week_start.date().isoformat()  # doctest: +SKIP
    '2023-01-02'
    """
    if not isinstance(config, PlanConfig):
        config = load_config(config)
    # The routing workers start now: their start-up overlaps the reading of the inputs. A
    # nightly re-plan solves only the teams given a response stop, here: a worker would cost
    # more to start than it saves.
    teams = len(config.teams) if night is None or previous is None else 1
    with routing_workers(config.routing, teams) as workers:
        return _planned(
            config,
            week_of=week_of,
            progress=progress,
            measure_memory=measure_memory,
            incidents=incidents,
            network=network,
            skill=skill,
            night=night,
            previous=previous,
            followup=followup,
            workers=workers,
            reuse=reuse if night is not None else None,
        )


def _planned(
    config: PlanConfig,
    *,
    week_of: dt.date | None,
    progress: Callable[[str], None] | None,
    measure_memory: bool,
    incidents: IncidentTable | None,
    network: WalkingNetwork | tuple[nx.MultiDiGraph, NetworkReport] | None,
    skill: bool,
    night: dt.date | None,
    previous: dict[str, Any] | None,
    followup: Callable[[pd.Timestamp], list[dict]] | None,
    workers: Workers,
    reuse: Path | None = None,
) -> Plan:
    """:func:`plan_week`'s work, given its config and the routing workers it started."""
    say = progress or (lambda _msg: None)
    timings: list[StageTiming] = []

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        say(f"{name} ...")
        if measure_memory:
            tracemalloc.start()
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        peak = 0.0
        if measure_memory:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        timings.append(StageTiming(name, seconds, peak))
        say(f"{name} done in {seconds:.1f} s")

    inputs = load_inputs(
        config,
        week_of=night or week_of,
        incidents=incidents,
        network=network,
        stage=stage,
        reuse=reuse,
    )
    table, teams, networks = inputs.incidents, inputs.teams, inputs.networks
    week_start, notes = inputs.week_start, list(inputs.notes)
    if previous is not None and previous.get("week_of") != week_start.date().isoformat():
        previous = None
    if night is not None and previous is None:  # the weekly plan first, on what it would know
        say("no plan of this week to revise: planning the week first")
        before = table.incidents["occurred_at"] < week_start
        weekly = plan_week(
            config,
            week_of=night,
            incidents=replace(table, incidents=table.incidents[before]),
            network=inputs.network,
            skill=skill,
            followup=followup,
        )
        previous = plan_document(weekly)
    known = _known_incidents(table.incidents, week_start, previous if night else None)
    key = week_key(config, known, week_start, inputs.network_key)
    # A nightly re-plan reads back what its week's run made from the same data (_weekstate).
    state = load_state(reuse, key) if night is not None and reuse is not None else None
    with stage("hotspots"):
        if night is not None:  # the weekly plan's figure: the same data before the week
            backtested = previous.get("forecast_skill") if previous else None
        elif inputs.limits is not None and skill:
            backtested = recent_skill(config, known, week_start=week_start, limits=inputs.limits)
        else:
            backtested = None
        if state is None:
            cells, hotspots, off_network = _hotspots(config, inputs, known)
        else:
            cells, hotspots, off_network = state.cells, state.hotspots, state.off_network
        if off_network:
            notes.append(
                f"{off_network} hotspot cell(s) lie farther than {REACH_M:.0f} m from every "
                "walkable street: not drawn as hotspots and given no stops"
            )
        if hotspots.empty:
            notes.append(
                "warning: no hotspot this week (no risk cell near a walkable street): the routes "
                "hold request, recent-shooting and base stops only"
            )
    requests = inputs.requests
    with stage("stops"):
        timed = config.routing.time_aware and has_times_of_day(known["occurred_at"])
        if state is None:
            stops, unplaced = _stops(config, inputs, known, cells, hotspots, hour_risk=timed)
            if key is not None:
                state = WeekState(key, cells, hotspots, off_network, stops, unplaced)
        else:
            stops, unplaced = state.stops, state.unplaced
        missed = followup(week_start) if followup is not None else []
        stops, raised = boost_missed(stops, missed, config.followup.boost)
        if missed:
            notes.append(
                f"{len(missed)} stop(s) of last week were not done (skipped or not reported): "
                f"{len(raised)} of this week's stops match them and are worth "
                f"{config.followup.boost:.0%} more ([followup] boost)"
            )
        if config.routing.time_aware and not timed:
            notes.append(
                "the incidents carry dates but no times of day: each night's stops are "
                "not ordered by the hour of their risk ([routing] time_aware)"
            )
    revision = None
    times_of_day = has_times_of_day(table.incidents["occurred_at"])
    if night is not None:
        with stage("response"):
            revision = _revision(config, inputs, night, previous, dates_only=not times_of_day)
            if not times_of_day:
                notes.append(_dates_only_response_note(config, night))
            if "hour_risk" in stops:  # a response walk is owed now, at any hour
                revision.stops["hour_risk"] = [np.ones(24)] * len(revision.stops)
    with stage("routing"):
        for group in sharing_groups(stop_corners(teams, networks, stops)):
            if len(group) > 1:
                notes.append(
                    "teams sharing street corners are planned in turn, in [[teams]] order, "
                    "each walking around the visits of those before it: "
                    + ", then ".join(teams[k].name for k in group)
                )
        risk = street_risk(networks, cells[cells["reachable"]], config.routing.presence_m)
        routes = plan_routes(
            teams,
            networks,
            stops,
            week_start=week_start,
            config=config.routing,
            revision=revision,
            workers=workers,
            risk=risk,
        )
    unserved = _unserved(requests, pd.concat([inputs.not_located, unplaced]), routes)
    # What the weekly plan used: the shootings before its week. A week planned after the fact
    # (`--week-of` a past Monday) must not claim the file's later rows, or `--night` finds none.
    used = known[known["occurred_at"] < week_start]
    history = {
        "data_until": _iso(used["occurred_at"].max()),
        "recent_incident_ids": _recent_ids(used),
    }
    revisions: list[dict[str, Any]] = []
    if previous is not None and revision is not None:
        history = {k: previous.get(k, v) for k, v in history.items()}
        revisions = [r for r in previous.get("revisions", []) if r["night"] < night.isoformat()]
    if revision is not None:
        record = revision_record(config, revision, routes, previous)
        revisions.append(record)
        notes += _revision_notes(record, dates_only=not times_of_day)
    return Plan(
        config=config,
        week_start=week_start,
        incidents=table,
        cells=cells,
        hotspots=hotspots,
        requests=requests,
        teams=teams,
        territories=inputs.territories,
        zones=inputs.zones,
        network=inputs.network,
        networks=networks,
        stops=stops,
        routes=routes,
        unserved=unserved,
        forecast_skill=backtested,
        notes=notes,
        hotspot_cells_off_network=off_network,
        history=history,
        revisions=revisions,
        timings=timings,
        followup=raised,
        state=state,
        network_key=inputs.network_key,
        times_of_day=times_of_day,
    )


def _dates_only_response_note(config: PlanConfig, night: dt.date) -> str:
    """Say how response stops are timed when the shootings have dates only."""
    day = night - dt.timedelta(days=1)
    since = pd.Timestamp(night) + pd.Timedelta(hours=config.response.delay_h)
    return (
        "the incidents carry dates but no times of day: a response stop's [response] delay_h "
        "and window_h count from the end of its shooting's day (a shooting of "
        f"{day:%a %d %b} is walked from {since:%a %d %b %H:%M} at the earliest)"
    )


@dataclass(frozen=True)
class Inputs:
    """Every input of a plan, read and checked: what the stages after loading start from."""

    limits: shapely.Geometry | None
    incidents: IncidentTable
    week_start: pd.Timestamp
    network: WalkingNetwork
    network_key: str | None  # _weekstate.network_key
    teams: list[Team]
    territories: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    networks: dict[str, TeamNetwork]
    requests: gpd.GeoDataFrame  # corner requests placed where their streets meet
    not_located: pd.DataFrame  # corner requests left without a place (request_id, reason)
    notes: list[str] = field(default_factory=list)


def load_inputs(
    config: PlanConfig,
    *,
    week_of: dt.date | None = None,
    incidents: IncidentTable | None = None,
    network: WalkingNetwork | tuple[nx.MultiDiGraph, NetworkReport] | None = None,
    stage: Callable[[str], AbstractContextManager[None]] | None = None,
    reuse: Path | None = None,
) -> Inputs:
    """Read every input of a plan: city limits, incidents, network, teams, requests.

    A problem in one input does not stop the others from being read, so one run names every
    problem (``validate`` and ``plan`` report the same list).

    Raises
    ------
    InputDataError
        With ``problems``: every problem found, each naming its file, row or key and the fix.
    """
    inputs, problems, _ = _gather(
        config, week_of=week_of, incidents=incidents, network=network, stage=stage, reuse=reuse
    )
    if problems:
        raise InputDataError(*problems)
    assert inputs is not None
    return inputs


def _gather(
    config: PlanConfig,
    *,
    week_of: dt.date | None = None,
    incidents: IncidentTable | None = None,
    network: WalkingNetwork | tuple[nx.MultiDiGraph, NetworkReport] | None = None,
    stage: Callable[[str], AbstractContextManager[None]] | None = None,
    reuse: Path | None = None,
) -> tuple[Inputs | None, list[str], list[str]]:
    """Read each input, collecting problems instead of stopping; (inputs or None, problems,
    notes)."""
    stage = stage or (lambda _name: nullcontext())
    problems: list[str] = []
    notes: list[str] = []
    crs, tz = config.city.crs, config.city.timezone

    def check(step: Callable[[], Any]) -> Any:
        try:
            return step()
        except InputDataError as exc:
            problems.extend(exc.problems)
            return None

    with stage("network"):
        if isinstance(network, tuple):
            network = WalkingNetwork.of(*network)
        streets_key = network_key(config)
        if network is None and reuse is not None:
            network = load_saved_network(reuse, streets_key, crs)
        loaded = network or check(lambda: load_walking_network(config.network, crs=crs))
        if loaded is not None:
            nodes, edges = loaded.nodes, loaded.edges
            notes += loaded.report.summary() + crs_notes(crs, loaded.extent)
    with stage("incidents"):
        limits = check(lambda: read_city_limits(config.city))
        area_name = "the city limits ([city] limits)"
        if limits is None and config.city.limits is None and loaded is not None:
            # Without limits the city is where its streets are: a row geocoded 20 km away must
            # not stretch the risk grid over the countryside.
            limits, area_name = loaded.extent, "the street network's extent (no [city] limits)"
            notes.append(
                f"no [city] limits: the city is the walking network's extent "
                f"({_km2(limits.area)} km²); shootings more than "
                f"{config.incidents.max_outside_m:g} m outside it are rejected"
            )
        table = incidents or check(
            lambda: load_incidents(
                config.incidents, crs=crs, timezone=tz, area=limits, area_name=area_name
            )
        )
    if table is not None:
        notes += table.notes
        if week_of is None:
            week_of = (table.incidents["occurred_at"].max() + pd.Timedelta(days=7)).date()
    week_start = week_start_for(week_of or dt.date.today(), tz)
    week_end = (week_start + pd.Timedelta(days=6)).date()
    with stage("teams"):
        notes += [
            f"warning: team {team.name!r}: `contact` is still the placeholder init wrote; write "
            "the team lead's phone there (it is printed on the route sheets)"
            for team in config.teams
            if PLACEHOLDER_CONTACT in team.contact
        ]
        placed = check(lambda: load_teams(config, week_start=week_start))
        networks: dict[str, TeamNetwork] = {}
        if loaded is not None and placed is not None:
            for team in placed[0]:
                net = check(
                    lambda t=team: team_network(
                        edges, nodes, t, tolerance_m=config.territories.edge_tolerance_m
                    )
                )
                if net is not None:
                    networks[team.name] = net
            if table is not None:
                reached = [t for t in placed[0] if t.name in networks]
                notes += thin_network_notes(table.incidents, reached, networks)
    with stage("requests"):
        requests = check(
            lambda: load_requests(
                config.requests.path, crs=crs, week_start=week_start.date(), week_end=week_end
            )
        )
        not_located = pd.DataFrame(columns=["request_id", "reason"])
        if requests is not None:
            notes += _expiry_notes(config, requests, week_start)
            if loaded is not None and placed is not None and requests["intersection"].notna().any():
                located = check(
                    lambda: locate_corners(requests, network_corners(loaded), placed[1])
                )
                if located is not None:
                    requests, not_located = located
    if problems:
        return None, problems, notes
    inputs = Inputs(
        limits=limits,
        incidents=table,
        week_start=week_start,
        network=loaded,
        network_key=streets_key,
        teams=placed[0],
        territories=placed[1],
        zones=placed[2],
        networks=networks,
        requests=requests,
        not_located=not_located,
        notes=notes,
    )
    return inputs, problems, notes


def write_plan(
    plan: Plan,
    out_dir: str | Path,
    *,
    offline: bool = False,
    assets: Path | None = None,
    previous: Path | None = None,
) -> Path:
    """Write every output of a plan into ``out_dir``, replacing it only when all succeeded.

    Writes ``index.html``, ``teams/<slug>.html``, ``teams/<slug>-sheet.html``,
    ``teams/<slug>.gpx``, ``plan.json``, ``rejects.csv``, ``network_nodes.parquet`` and
    ``network_edges.parquet`` (the walking graph), ``changes.json`` and ``changes.html`` (what
    changed since the plan in ``previous``, a plan folder of an earlier week; by default the
    plan already in ``out_dir`` when it is of an earlier week) and ``manifest.json``. With
    ``offline``, the maps carry their JavaScript and CSS inline (from ``assets``, a
    ``node_modules`` folder; see :func:`outreach_routes._assets.assets_dir`) and the street
    network as their base layer.

    Returns
    -------
    Path
        The output folder.
    """
    # The pages need folium: imported here, so that planning and `validate` do without it.
    from . import render
    from .changes import changes_page, compare_plans

    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        document = plan_document(plan)
        (staging / "plan.json").write_text(dumps_json(document), encoding="utf-8")
        earlier, earlier_changes = _earlier_plan(previous or out_dir, document["week_of"])
        report = compare_plans(
            document, earlier, plan.incidents.incidents, previous_changes=earlier_changes
        )
        (staging / "changes.json").write_text(dumps_json(report), encoding="utf-8")
        (staging / "changes.html").write_text(
            changes_page(report, plan.config.city.name, render.new_tonight(document)),
            encoding="utf-8",
        )
        plan.incidents.rejects.to_csv(staging / "rejects.csv", index=False)
        save_state(staging, plan.network, plan.network_key, plan.state, before=out_dir)
        # A team's files made before (a nightly re-plan of the same week) are kept when its
        # part of the plan is unchanged: render.team_view.
        team_files = render.write_maps(
            plan, document, staging, offline=offline, assets=assets, reuse=out_dir
        )
        render_seconds = time.perf_counter() - started
        manifest = {**_manifest(plan, document, render_seconds), "team_files": team_files}
        (staging / "manifest.json").write_text(dumps_json(manifest), encoding="utf-8")
        _swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _earlier_plan(folder: Path, week_of: str) -> tuple[dict | None, dict | None]:
    """The plan (and its change report) in ``folder`` when it is of a week before ``week_of``."""
    try:
        earlier = json.loads((folder / "plan.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None, None
    if earlier.get("week_of", "") >= week_of:
        return None, None
    try:
        report = json.loads((folder / "changes.json").read_text("utf-8"))
    except (OSError, ValueError):
        report = None
    return earlier, report


def plan_document(plan: Plan) -> dict[str, Any]:
    """The ``plan.json`` content (WGS84 ``[lon, lat]``, ISO times with the city's offset)."""
    to_wgs = Transformer.from_crs(plan.config.city.crs, "EPSG:4326", always_xy=True)
    teams = []
    for route in plan.routes:
        team = next(t for t in plan.teams if t.name == route.team)
        lon, lat = to_wgs.transform(route.path[:, 0], route.path[:, 1])
        stop_lon, stop_lat = to_wgs.transform(
            route.stops["x"].to_numpy(), route.stops["y"].to_numpy()
        )
        stops = [
            {
                "stop_id": s.stop_id,
                "kind": s.kind,
                "label": s.label,
                "corner": s.corner,
                "lat": round(float(la), 6),
                "lon": round(float(lo), 6),
                "arrive": _iso(s.arrive),
                "depart": _iso(s.depart),
                "prize": round(float(s.prize), 3),
                "sources": list(s.sources),
                # The streets walked from the previous stop: [name, metres] runs.
                "via": [[name, round(m)] for name, m in ([], *route.legs)[k]],
            }
            for k, (s, la, lo) in enumerate(
                zip(route.stops.itertuples(), stop_lat, stop_lon, strict=True)
            )
        ]
        teams.append(
            {
                "team": route.team,
                "slug": route.slug,
                "night": route.shift.night.isoformat(),
                "shift_start": _iso(route.shift.start),
                "shift_end": _iso(route.shift.end),
                "base": [round(float(stop_lon[0]), 6), round(float(stop_lat[0]), 6)],
                "contact": team.config.contact,
                "walk_speed_kmh": team.config.walk_speed_kmh,
                "dwell_min": team.config.dwell_min,
                "walk_km": round(route.walk_m / 1000, 3),
                "duration_min": round(route.duration_min, 2),
                "prize": round(route.prize, 3),
                "stops": stops,
                "path": [
                    [round(float(x), 6), round(float(y), 6)] for x, y in zip(lon, lat, strict=True)
                ],
            }
        )
    table = plan.incidents
    requests = plan.requests
    return {
        "city": plan.config.city.name,
        "week_of": plan.week_start.date().isoformat(),
        "timezone": plan.config.city.timezone,
        "coordinators_contact": plan.config.city.coordinators_contact,
        "safety_card": list(plan.config.city.safety_card),
        "rows_read": table.rows_read,
        "rows_used": table.rows_used,
        "rows_rejected": table.rows_rejected,
        "incidents": len(table.incidents),
        "times_of_day": plan.times_of_day,
        "territories": _feature_collection(plan.territories, ["team"]),
        "no_go_zones": _feature_collection(plan.zones, ["name", "teams", "until", "reason"]),
        "hotspots": _feature_collection(
            plan.hotspots.assign(risk=plan.hotspots["risk"].round(3)),
            ["hotspot_id", "risk", "cells", "incidents", "recent"],
        ),
        "requests": {
            "active": int(requests["active"].sum()),
            "expired_or_not_yet_valid": int((~requests["active"]).sum()),
            "served": sorted(
                set(requests.loc[requests["active"], "request_id"])
                - set(plan.unserved["request_id"])
            ),
        },
        "teams": teams,
        "coverage": weekly_coverage(plan),
        "forecast_skill": plan.forecast_skill,
        "hotspot_presence_min": _hotspot_presence(plan),
        "unserved_requests": plan.unserved.to_dict(orient="records"),
        **plan.history,
        "revisions": plan.revisions,
        "followup": plan.followup,
    }


def _hotspots(
    config: PlanConfig, inputs: Inputs, known: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, int]:
    """The risk cells and hotspots of the week, less the cells no walker can reach."""
    week_start = inputs.week_start
    cells = risk_cells(known, week_start=week_start, config=config.hotspots, limits=inputs.limits)
    cells, hotspots = find_hotspots(cells, known, week_start=week_start, config=config.hotspots)
    return drop_cells_off_network(
        cells,
        hotspots,
        known,
        inputs.teams,
        inputs.networks,
        inputs.network.edges,
        week_start=week_start,
        recent_from=week_start - pd.Timedelta(days=config.hotspots.boost_days),
    )


def _stops(
    config: PlanConfig,
    inputs: Inputs,
    known: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame,
    *,
    hour_risk: bool,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Each team's candidate stops (with each one's risk by hour of the day, when asked) and
    the requests that could not be placed."""
    requests = inputs.requests
    stops, unplaced = build_stops(
        cells=cells[cells["reachable"]],
        hotspots=hotspots,
        requests=requests[requests.geometry.notna()],
        incidents=known,
        teams=inputs.teams,
        networks=inputs.networks,
        week_start=inputs.week_start,
        hotspot_config=config.hotspots,
        request_config=config.requests,
        routing_config=config.routing,
    )
    if hour_risk:
        xy = shapely.get_coordinates(stops.geometry.to_numpy())
        stops["hour_risk"] = list(hourly_risk(xy, known, week_start=inputs.week_start))
    return stops, unplaced


# --- the nightly re-plan ----------------------------------------------------------------------

# The weekly plan keeps the ids of its last RECENT_DAYS of shootings, so a nightly run can tell a
# row added late (a shooting reported days after it happened) from one the plan already used.
RECENT_DAYS = 14


def _known_incidents(
    incidents: gpd.GeoDataFrame, week_start: pd.Timestamp, previous: dict[str, Any] | None
) -> gpd.GeoDataFrame:
    """The incidents the weekly plan used. ``previous`` is None for a weekly run (all of them)
    unless the run is nightly, where it is the plan being revised (or ``{}`` for none)."""
    if previous is None:
        return incidents
    return incidents[~_new_incidents(incidents, week_start, previous)]


def _new_incidents(
    incidents: gpd.GeoDataFrame, week_start: pd.Timestamp, previous: dict[str, Any]
) -> pd.Series:
    """Shootings the weekly plan did not know: after its newest one, or in its last
    ``RECENT_DAYS`` with an id it did not have. Without a weekly plan: from ``week_start`` on."""
    occurred = incidents["occurred_at"]
    if not previous.get("data_until"):
        return occurred >= week_start
    until = pd.Timestamp(previous["data_until"])
    seen = set(previous.get("recent_incident_ids", []))
    late = (occurred >= until - pd.Timedelta(days=RECENT_DAYS)) & ~incidents["incident_id"].astype(
        str
    ).isin(seen)
    return (occurred > until) | late


def _recent_ids(incidents: gpd.GeoDataFrame) -> list[str]:
    if incidents.empty:
        return []
    since = incidents["occurred_at"].max() - pd.Timedelta(days=RECENT_DAYS)
    return sorted(incidents.loc[incidents["occurred_at"] >= since, "incident_id"].astype(str))


def night_cutoff(teams: list[Team], week_start: pd.Timestamp, night: dt.date) -> pd.Timestamp:
    """The first shift start of ``night`` (or of the next night any team works): the newest
    data a nightly re-plan may use, so reruns give the same bytes whatever the clock says."""
    shifts = [s for t in teams for s in t.shifts(week_start) if s.night >= night]
    if not shifts:
        raise InputDataError(
            f"--night {night}: no team works on or after that night in the week of "
            f"{week_start.date()}; pick a night of the week a team works"
        )
    first = min(s.night for s in shifts)
    return min(s.start for s in shifts if s.night == first)


def _revision(
    config: PlanConfig,
    inputs: Inputs,
    night: dt.date,
    previous: dict[str, Any] | None,
    *,
    dates_only: bool = False,
) -> Revision:
    """Response stops for the shootings since the weekly plan, and the nights kept as they were."""
    incidents = inputs.incidents.incidents
    cutoff = night_cutoff(inputs.teams, inputs.week_start, night)
    new = _new_incidents(incidents, inputs.week_start, previous or {})
    shootings = incidents[new & (incidents["occurred_at"] < cutoff)]
    stops, not_answered = response_stops(
        shootings,
        incidents,
        inputs.teams,
        inputs.networks,
        cutoff=cutoff,
        config=config.response,
        dates_only=dates_only,
    )
    stops = _stable_response_ids(stops, inputs.teams, previous)
    kept: dict[tuple[str, str], Route] = {}
    on_route: dict[tuple[str, str], set[str]] = {}
    if previous is not None:
        to_city = Transformer.from_crs("EPSG:4326", config.city.crs, always_xy=True)
        by_name = {t.name: t for t in inputs.teams}
        for entry in previous.get("teams", []):
            team = by_name.get(entry["team"])
            if team is None:
                continue
            key = (entry["team"], entry["night"])
            kept[key] = route_from_document(
                entry, team, inputs.networks[team.name], to_city, config.city.timezone
            )
        on_route = stops_before(previous, night)
    return Revision(
        night=night,
        stops=stops,
        config=config.response,
        previous=on_route,
        kept=kept,
        cutoff=cutoff,
        not_answered=not_answered,
    )


def stops_before(previous: dict[str, Any], night: dt.date) -> dict[tuple[str, str], set[str]]:
    """Per (team, night) the stop ids of the plan before any revision of ``night`` or later:
    a rerun of the same night then compares with, and keeps to, the same routes."""
    on_route = {
        (e["team"], e["night"]): {s["stop_id"] for s in e["stops"] if s["kind"] != "base"}
        for e in previous.get("teams", [])
    }
    later = [r for r in previous.get("revisions", []) if r["night"] >= night.isoformat()]
    for revision in sorted(later, key=lambda r: r["night"], reverse=True):
        for change in revision["changes"]:
            key = (change["team"], change["night"])
            on_route[key] = (on_route.get(key, set()) - set(change["added"])) | set(
                change["dropped"]
            )
    return on_route


def _stable_response_ids(
    stops: gpd.GeoDataFrame, teams: list[Team], previous: dict[str, Any] | None
) -> gpd.GeoDataFrame:
    """Give a response stop the id an earlier revision gave the same shootings; new ones the
    next free number of their team (``<slug>-r01``, ``-r02``...)."""
    earlier = {
        (r["team"], tuple(r["sources"])): r["stop_id"]
        for revision in (previous or {}).get("revisions", [])
        for r in revision["response_stops"]
    }
    if stops.empty:
        return stops
    stops = stops.copy()
    slugs = {t.name: t.slug for t in teams}
    taken = set(earlier.values())
    ids = []
    for team, sources in zip(stops["team"], stops["sources"], strict=True):
        known = earlier.get((team, tuple(sources)))
        if known is None:
            number = 1
            while f"{slugs[team]}-r{number:02d}" in taken:
                number += 1
            known = f"{slugs[team]}-r{number:02d}"
        taken.add(known)
        ids.append(known)
    stops["stop_id"] = ids
    return stops


def revision_record(
    config: PlanConfig, revision: Revision, routes: list[Route], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """What one nightly re-plan did, for ``plan.json`` ``revisions``: the night, the incidents'
    cut-off, the response stops (and the night each was walked), the shootings given none with
    the reason, those given none tonight because a team walked to them on an earlier night of
    the week (``answered_before``), and per team and re-planned night the stops kept, added and
    dropped."""
    to_wgs = Transformer.from_crs(config.city.crs, "EPSG:4326", always_xy=True)
    walked: dict[str, str] = {}
    for route in routes:
        for stop in route.stops.itertuples():
            if stop.kind == "response":
                walked.setdefault(stop.stop_id, route.shift.night.isoformat())
    earlier = _walked_before(routes, revision.night, to_wgs)
    responses = []
    for stop in revision.stops.itertuples():
        responses.append(
            {
                "stop_id": stop.stop_id,
                "team": stop.team,
                "sources": list(stop.sources),
                "occurred_at": _iso(stop.occurred_at),
                "corner": stop.corner,
                **_latlon(to_wgs, stop.geometry.x, stop.geometry.y),
                "walked_on": walked.get(stop.stop_id),
            }
        )
    before = revision.previous
    changes = []
    for route in routes:
        night = route.shift.night.isoformat()
        if night < revision.night.isoformat():
            continue
        now = list(route.stops.loc[route.stops["kind"] != "base", "stop_id"])
        was = before.get((route.team, night), set())
        changes.append(
            {
                "team": route.team,
                "night": night,
                "kept": len(set(now) & set(was)),
                "added": sorted(set(now) - set(was)),
                "dropped": sorted(set(was) - set(now)),
            }
        )
    return {
        "night": revision.night.isoformat(),
        "cutoff": _iso(revision.cutoff),
        "response_stops": responses,
        "not_answered": [
            {
                "incident_id": str(row.incident_id),
                "occurred_at": _iso(row.occurred_at),
                "corner": row.corner,
                **_latlon(to_wgs, row.x, row.y),
                "reason": row.reason,
            }
            for row in revision.not_answered.itertuples()
            if str(row.incident_id) not in earlier
        ],
        "answered_before": [
            {
                "incident_id": str(row.incident_id),
                "occurred_at": _iso(row.occurred_at),
                **earlier[str(row.incident_id)],
            }
            for row in revision.not_answered.itertuples()
            if str(row.incident_id) in earlier
        ],
        "changes": changes,
    }


def _walked_before(
    routes: list[Route], night: dt.date, to_wgs: Transformer
) -> dict[str, dict[str, Any]]:
    """Per shooting (incident id), the first response stop walked to it on a night before
    ``night``: its team, stop id, corner, place and night."""
    walked: dict[str, dict[str, Any]] = {}
    for route in sorted(routes, key=lambda r: (r.shift.start, r.team)):
        if route.shift.night >= night:
            continue
        for stop in route.stops[route.stops["kind"] == "response"].itertuples():
            for source in stop.sources:
                walked.setdefault(
                    str(source),
                    {
                        "team": route.team,
                        "stop_id": stop.stop_id,
                        "corner": stop.corner,
                        **_latlon(to_wgs, stop.x, stop.y),
                        "walked_on": route.shift.night.isoformat(),
                    },
                )
    return walked


def _latlon(to_wgs: Transformer, x: float, y: float) -> dict[str, float]:
    lon, lat = to_wgs.transform(x, y)
    return {"lat": round(float(lat), 6), "lon": round(float(lon), 6)}


def _revision_notes(record: dict[str, Any], *, dates_only: bool = False) -> list[str]:
    notes = [
        f"night of {record['night']}: {len(record['response_stops'])} response stop(s) for "
        f"shootings before {record['cutoff']}"
    ]
    for stop in record["response_stops"]:
        if stop["walked_on"] is None:
            notes.append(
                f"response stop {stop['stop_id']} ({stop['corner'] or 'no street name'}) fits no "
                "shift inside [response] window_h: not walked"
            )
        elif stop["walked_on"] < record["night"]:
            notes.append(
                f"response stop {stop['stop_id']} was walked on the night of {stop['walked_on']}"
            )
        elif stop["walked_on"] != record["night"]:
            notes.append(
                f"response stop {stop['stop_id']} moved to the night of {stop['walked_on']}"
            )
    notes += [
        f"shooting at {shooting_name(row, dates_only=dates_only)} ({row['incident_id']}): "
        f"no response stop: {row['reason']}"
        for row in record["not_answered"]
    ]
    notes += [
        f"shooting at {shooting_name(row, dates_only=dates_only)} ({row['incident_id']}): "
        f"answered by {row['team']} on the night of {row['walked_on']}"
        for row in record["answered_before"]
    ]
    for change in record["changes"]:
        if change["added"] or change["dropped"]:
            notes.append(
                f"{change['team']}, {change['night']}: {change['kept']} stop(s) kept, "
                f"{len(change['added'])} added, {len(change['dropped'])} dropped"
            )
    return notes


# Farther than this (metres) from every walkable street, a shooting or a risk cell is where the
# street data is thin: a hotspot there cannot be walked to.
REACH_M = 150.0
# A territory with more than this share of its shootings that far from its streets is warned of.
THIN_SHARE = 0.02


def _street_tree(net: TeamNetwork) -> shapely.STRtree:
    coords = list(net.geometry.values())
    index = np.repeat(np.arange(len(coords)), [len(c) for c in coords])
    return shapely.STRtree(shapely.linestrings(np.concatenate(coords), indices=index))


def _near_streets(tree: shapely.STRtree, xy: np.ndarray) -> np.ndarray:
    """Which points lie within ``REACH_M`` of a line of ``tree``."""
    near = np.zeros(len(xy), dtype=bool)
    if len(xy):
        hits = tree.query(shapely.points(xy), predicate="dwithin", distance=REACH_M)
        near[hits[0]] = True
    return near


def thin_network_notes(
    incidents: gpd.GeoDataFrame, teams: list[Team], networks: dict[str, TeamNetwork]
) -> list[str]:
    """Warn of territories whose street data looks thin: more than ``THIN_SHARE`` of the
    shootings inside lie farther than ``REACH_M`` from the team's walkable streets. (A river
    or a rail yard without streets is not missing data; shootings far from every street are.)
    """
    xy = shapely.get_coordinates(incidents.geometry.to_numpy())
    notes = []
    for team in teams:
        inside = shapely.contains_xy(team.territory, xy[:, 0], xy[:, 1])
        if not inside.any():
            continue
        far = ~_near_streets(_street_tree(networks[team.name]), xy[inside])
        share = far.mean()
        if share > THIN_SHARE:
            notes.append(
                f"warning: territory of team {team.name!r}: {far.sum()} of its {inside.sum()} "
                f"shootings ({share:.0%}) lie farther than {REACH_M:.0f} m from a street the "
                "team can walk; the street file may be missing streets there (check its extent "
                "and the walkability rules in docs/config.md)"
            )
    return notes


def drop_cells_off_network(
    cells: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    teams: list[Team],
    networks: dict[str, TeamNetwork],
    edges: gpd.GeoDataFrame,
    *,
    week_start: pd.Timestamp,
    recent_from: pd.Timestamp,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, int]:
    """Mark the risk cells no walker can reach, and take them out of the hotspots.

    A cell is reachable when its centre lies within ``REACH_M`` of a walkable street: of its
    team's network inside a territory, of the whole walking graph elsewhere. ``cells`` gains
    a ``reachable`` column; hotspots lose their unreachable cells (and vanish when none is
    left). Returns the cells, the hotspots and how many hotspot cells were dropped.
    """
    centres = shapely.get_coordinates(cells.geometry.centroid.to_numpy())
    reachable = _near_streets(shapely.STRtree(edges.geometry.to_numpy()), centres)
    for team in teams:
        inside = shapely.contains_xy(team.territory, centres[:, 0], centres[:, 1])
        reachable[inside] = _near_streets(_street_tree(networks[team.name]), centres[inside])
    cells = cells.assign(reachable=reachable)
    dropped = cells["hotspot_id"].notna().to_numpy() & ~reachable
    if not dropped.any():
        return cells, hotspots, 0
    cells.loc[dropped, "hotspot_id"] = pd.NA
    kept = cells[cells["hotspot_id"].notna()]
    past = incidents[incidents["occurred_at"] < week_start]
    tree = shapely.STRtree(past.geometry.to_numpy())
    rows = []
    for hotspot in hotspots.itertuples():
        members = kept[kept["hotspot_id"] == hotspot.hotspot_id]
        if not members.empty:
            row = hotspot_row(hotspot.hotspot_id, members, past, tree, recent_from)
            rows.append({**hotspot._asdict(), **row})
    if not rows:
        return cells, hotspots.iloc[0:0], int(dropped.sum())
    frame = pd.DataFrame(rows)[list(hotspots.columns)]
    hotspots = gpd.GeoDataFrame(frame, geometry="geometry", crs=hotspots.crs)
    return cells, hotspots, int(dropped.sum())


def weekly_coverage(plan: Plan) -> dict[str, dict[str, float]]:
    """Per team: how many of its candidate stops, and how much of their risk, the week visits."""
    coverage = {}
    for team in plan.teams:
        stops = plan.stops[plan.stops["team"] == team.name]
        visited = {s for r in plan.routes if r.team == team.name for s in r.stops["stop_id"]}
        seen = stops["stop_id"].isin(visited)
        total = float(stops["prize"].sum())
        coverage[team.name] = {
            "stops": len(stops),
            "stops_visited": int(seen.sum()),
            "stop_share": round(float(seen.mean()) if len(stops) else 0.0, 3),
            "risk_share": round(float(stops.loc[seen, "prize"].sum()) / total, 3) if total else 0.0,
        }
    return coverage


def _hotspot_presence(plan: Plan) -> dict[str, float]:
    """Minutes of team presence at each hotspot's stops over the week."""
    minutes: dict[str, float] = {}
    for route in plan.routes:
        for stop in route.stops.itertuples():
            dwell = (stop.depart - stop.arrive).total_seconds() / 60
            for source in stop.sources:
                if str(source).startswith("H"):
                    minutes[source] = minutes.get(source, 0.0) + dwell
    return dict(sorted(minutes.items()))


def _expiry_notes(config: PlanConfig, requests: gpd.GeoDataFrame, week_start: pd.Timestamp):
    """Say which requests and no-go zones are ignored this week because of their dates."""
    notes = []
    for req in requests[~requests["active"]].itertuples():
        when = "expired" if req.valid_to < week_start.date() else "not yet valid"
        notes.append(
            f"request {req.request_id} ignored: {when} (valid {req.valid_from} to {req.valid_to})"
        )
    for zone in config.no_go_zones:
        if zone.until is not None and zone.until < week_start.date():
            notes.append(f"no-go zone {zone.name!r} ignored: expired on {zone.until}")
    return notes


def _unserved(requests: gpd.GeoDataFrame, unplaced: pd.DataFrame, routes: list[Route]):
    visited = {src for r in routes for sources in r.stops["sources"] for src in sources}
    rows = unplaced.to_dict(orient="records")
    placed = set(unplaced["request_id"])
    for rid in requests.loc[requests["active"], "request_id"]:
        if rid not in visited and rid not in placed:
            rows.append({"request_id": rid, "reason": "not reached within the shift"})
    frame = pd.DataFrame(rows, columns=["request_id", "reason"])
    return frame.sort_values("request_id", ignore_index=True)


def _feature_collection(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    wgs = frame[[*columns, "geometry"]].to_crs("EPSG:4326")
    wgs["geometry"] = wgs.geometry.set_precision(1e-6)
    return json.loads(wgs.to_json(drop_id=True))


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.isoformat(timespec="seconds")


def _manifest(plan: Plan, document: dict[str, Any], render_seconds: float) -> dict[str, Any]:
    config = plan.config
    inputs = [config.source, config.incidents.path, config.network.path, config.territories.path]
    inputs += [p for p in (config.city.limits, config.requests.path) if p is not None]
    packages = [
        "outreach-routes",
        "geopandas",
        "shapely",
        "scikit-learn",
        "osmnx",
        "networkx",
        "folium",
        "scipy",
        "numpy",
        "pandas",
    ]
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "week_of": document["week_of"],
        "config": str(config.source),
        "seed": config.routing.seed,
        "iterations": config.routing.iterations,
        "inputs": [{"path": str(p), "sha256": sha256_file(p)} for p in inputs],
        "outputs": {
            "plan": "plan.json",
            "rejects": "rejects.csv",
            "overview": "index.html",
            "changes": "changes.json",
            "contacts": "contacts.html",
            "walking_graph": {
                "nodes": "network_nodes.parquet",
                "edges": "network_edges.parquet",
                "crs": config.city.crs,
            },
            "teams": sorted({r["slug"] for r in document["teams"]}),
        },
        "summary": {
            "rows_read": document["rows_read"],
            "rows_used": document["rows_used"],
            "rows_rejected": document["rows_rejected"],
            "rejects_by_reason": plan.incidents.rejects["reason"].value_counts().to_dict(),
            "incidents": document["incidents"],
            "hotspots": len(plan.hotspots),
            "stops": len(plan.stops),
            "routes": len(plan.routes),
            "unserved_requests": len(plan.unserved),
            "hotspot_cells_off_network": plan.hotspot_cells_off_network,
            "network": plan.network.report.as_dict(),
            "notes": plan.notes,
        },
        "timings": [{"stage": t.stage, "seconds": round(t.seconds, 3)} for t in plan.timings]
        + [{"stage": "render", "seconds": round(render_seconds, 3)}],
        "versions": {"python": sys.version.split()[0], "platform": platform.platform(), **versions},
    }


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Put the finished folder in place of ``out_dir`` with renames, never a half-written one."""
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        os.replace(out_dir, old / out_dir.name)
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out_dir)
    os.chmod(out_dir, 0o755)


def validate_inputs(config_path: str | Path | None = None) -> tuple[list[str], list[str]]:
    """Check every input of a plan without planning; report every problem at once.

    Returns
    -------
    problems, notes
        ``problems`` name the file, row or field and the fix; an empty list means the plan
        can run. ``notes`` say what was detected or will be ignored (rejected rows, expired
        requests and zones).
    """
    problems, notes, _ = _validated(config_path)
    return problems, notes


def validate_with_hotspots(
    config_path: str | Path,
) -> tuple[list[str], list[str], gpd.GeoDataFrame | None]:
    """:func:`validate_inputs`, and the hotspots the first plan would use (``init`` draws them
    on ``setup.html``): None when the inputs have problems."""
    problems, notes, found = _validated(config_path)
    if found is None:
        return problems, notes, None
    config, inputs = found
    try:
        _cells, hotspots, _off = _hotspots(config, inputs, inputs.incidents.incidents)
    except InputDataError as exc:
        return problems + exc.problems, notes, None
    return problems, notes, hotspots


def _validated(
    config_path: str | Path | None,
) -> tuple[list[str], list[str], tuple[PlanConfig, Inputs] | None]:
    """Every problem and note of a config's inputs, and the config and inputs when none."""
    try:
        config = load_config(config_path)
    except InputDataError as exc:
        return exc.problems, [], None
    inputs, problems, notes = _gather(config)
    if inputs is not None:
        table = inputs.incidents
        notes += [
            f"{config.incidents.path.name}: {n} row(s) rejected: {reason}"
            for reason, n in table.rejects["reason"].value_counts().items()
        ]
        notes += [
            f"{config.requests.path.name}: request {row.request_id} will not be served: "
            f"{row.reason}"
            for row in inputs.not_located.itertuples()
        ]
    return problems, notes, (config, inputs) if inputs is not None else None


def _km2(square_metres: float) -> str:
    """An area for a note: "9.8" km², "0.09" for a small one."""
    km2 = square_metres / 1e6
    return f"{km2:,.1f}" if km2 >= 1 else f"{km2:.2f}"
