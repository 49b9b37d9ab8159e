"""Read a plan config (TOML) into typed, frozen settings.

Every option, its meaning and its default are listed in ``docs/config.md``; the defaults below
are the single source of truth for them. Relative paths are resolved against the folder that
holds the config file. All problems in a file are collected and reported at once.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import MISSING, dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pyproj import CRS

from ._errors import ConfigError

__all__ = [
    "CityConfig",
    "HotspotConfig",
    "IncidentConfig",
    "NetworkConfig",
    "NoGoZoneConfig",
    "PlanConfig",
    "RequestConfig",
    "ResponseConfig",
    "RoutingConfig",
    "ServiceConfig",
    "TeamConfig",
    "TerritoryConfig",
    "default_config_path",
    "load_config",
    "load_service_config",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class CityConfig:
    """The city: its name, time zone, metric CRS for distances and optional city limits; and
    what every route sheet carries: the coordinators' line and a short safety card."""

    name: str
    timezone: str = "UTC"
    crs: str = "EPSG:3857"
    limits: Path | None = None
    coordinators_contact: str = ""
    safety_card: tuple[str, ...] = ()


@dataclass(frozen=True)
class IncidentConfig:
    """Where the shooting incidents are and which columns hold what."""

    path: Path
    id_column: str | None = None
    rows: str = "victims"
    date_column: str | None = None
    date_format: str | None = None
    dayfirst: bool = False
    fatal_column: str | None = None
    lat_column: str | None = None
    lon_column: str | None = None
    x_column: str | None = None
    y_column: str | None = None
    source_crs: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    filter_column: str | None = None
    filter_contains: tuple[str, ...] = ()
    max_outside_m: float = 2000.0


@dataclass(frozen=True)
class HotspotConfig:
    """How risk is estimated over space and cut into hotspots."""

    cell_m: float = 150.0
    # One bandwidth, or several: the kernel is then the mean of Gaussians of those widths.
    bandwidth_m: float | tuple[float, ...] = (60.0, 85.0, 110.0, 150.0)
    half_life_days: float = 2920.0
    count_blend: float = 0.0  # share of the plain all-history count blended into the surface
    history_days: int = 36500
    area_share: float = 0.03
    boost_days: int = 14
    boost_weight: float = 1.0
    cells_per_stop: int = 6
    min_stops_per_team: int = 16


@dataclass(frozen=True)
class RequestConfig:
    """Community requests and how much a request of each priority is worth."""

    path: Path | None = None
    prize_per_priority: float = 20.0


# Ways a program may leave out by name ([network] exclude), by what they are in OpenStreetMap.
EXCLUDABLE = {
    "alley": "service roads tagged service=alley",
    "parking_aisle": "service roads tagged service=parking_aisle",
    "driveway": "service roads tagged service=driveway",
    "service": "every highway=service way (alleys, parking aisles and driveways included)",
    "footway": "highway=footway (sidewalks drawn apart, crossings, paths through blocks)",
    "steps": "highway=steps",
    "park_paths": (
        "footways, paths, steps, tracks and cycleways inside a park, garden, playground or "
        "nature reserve (leisure=park ...) of the extract"
    ),
}


@dataclass(frozen=True)
class NetworkConfig:
    """The street centerline file and the rule that keeps what people walk on."""

    path: Path | None = None
    place: str | None = None
    cache_dir: Path | None = None
    class_column: str | None = None
    drop_classes: tuple[str, ...] = ()
    local_classes: tuple[str, ...] = ()
    limited_access_min_m: float = 1000.0
    name_column: str | None = None
    drop_name_pattern: str | None = None
    speed_column: str | None = None
    drop_speed_at_least: float | None = None
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class TerritoryConfig:
    """The polygons teams work in, and the column that names each one."""

    path: Path
    name_column: str
    edge_tolerance_m: float = 25.0


@dataclass(frozen=True)
class RoutingConfig:
    """Solver settings shared by every team."""

    seed: int = 42
    iterations: int = 150
    repeat_discount: float = 0.5
    core_risk_share: float = 0.2
    waiting_bonus: float = 0.5
    visit_value: float = 5.0
    recent_prize: float = 12.0
    hotspot_prize_max: float = 100.0
    time_aware: bool = True  # order each night's stops by their risk at the hour of the visit
    loops: int = 2  # each night walked as this many loops from the base (a stop may recur)
    revisit_share: float = 0.6  # a stop walked again in a later loop is worth this share
    revisit_gap_min: float = 120.0  # ... when the team is back there at least this much later
    presence_m: float = 150.0  # a team at a corner or on a street is present this far around
    risky_streets: float = 0.8  # between stops, the riskiest streets count this much shorter
    pass_by: float = 1.0  # a risky corner the walk passes is worth this share of a stop's prize
    pass_corners: int = 25  # at most this many such corners per team, two presence_m apart
    min_night_stops: int = 4  # ... but never in place of the stops a night needs (if it can)
    workers: int | None = None  # processes solving teams at once; None: one per core


@dataclass(frozen=True)
class ResponseConfig:
    """The nightly re-plan (``plan --night``): a walk to each new shooting's corner."""

    window_h: float = 72.0  # a shooting this recent gets a response stop
    delay_h: float = 12.0  # no team walks into an active scene: the first shift this late after
    prize: float = 200.0  # above the riskiest hotspot stop (100)
    keep_bonus: float = 10.0  # a stop already on the night's route is worth this much more


@dataclass(frozen=True)
class FollowupConfig:
    """Next week's plan from what the teams checked in (the service's database)."""

    boost: float = 0.5  # a stop planned last week and not done: its prize times (1 + boost)


@dataclass(frozen=True)
class ServiceConfig:
    """The service (``serve``): how long what the teams send is kept, and the limits that keep
    one client (or one account) from slowing the rest (docs/config.md)."""

    keep_positions_days: int = 30  # positions sent with check-ins are cleared after this
    keep_days: int = 182  # check-ins, scene requests and the audit log: at least 26 weeks
    # the server: per connection and per client address
    max_header_kb: int = 64  # a request's line and headers, at most (431 beyond)
    header_timeout_s: int = 15  # a request's headers must arrive within this (408)
    body_timeout_s: int = 30  # ... and its body within this after them (the connection closes)
    keep_alive_s: int = 15  # an idle keep-alive connection is closed after this
    connections_per_address: int = 50  # open connections of one client address (429 beyond)
    # per account
    checkins_per_minute: int = 30  # sustained rate of one account's check-in posts ...
    checkins_burst: int = 120  # ... with this many at once (a night's offline queue)
    checkins_per_day: int = 2000  # check-ins stored per account in 24 hours
    failed_logins: int = 10  # bad login codes per address, account or code in 15 minutes
    # calls (issue 35): how long an offer waits for its team, and the call for any team
    scene_answer_min: float = 2.0  # an offer unanswered this long passes to the next team
    scene_give_up_min: float = 10.0  # a call no team accepted in this long is unanswered
    # live updates (Server-Sent Events)
    streams_per_account: int = 10  # open event streams of one account (429 beyond)
    stream_keep_alive_s: int = 15  # a comment line this often keeps proxies from closing one
    call_changes_per_minute: int = 30  # calls made or answered by one account a minute


# The contact line `init` writes for each team: `validate` and `plan` warn while it is there.
PLACEHOLDER_CONTACT = "CHANGE ME: the team lead's phone"


@dataclass(frozen=True)
class TeamConfig:
    """One team: where it starts, where it works, when, how fast, how to reach it."""

    name: str
    territory: str | tuple[str, ...]
    base: tuple[float, float]
    nights: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat")
    shift_start: dt.time = dt.time(18, 0)
    shift_end: dt.time = dt.time(23, 0)
    walk_speed_kmh: float = 4.5
    dwell_min: float = 15.0
    contact: str = ""

    @property
    def shift_minutes(self) -> float:
        """Length of one shift in minutes (a shift may run past midnight)."""
        start = self.shift_start.hour * 60 + self.shift_start.minute
        end = self.shift_end.hour * 60 + self.shift_end.minute
        return float((end - start) % (24 * 60) or 24 * 60)


@dataclass(frozen=True)
class NoGoZoneConfig:
    """An area a team must not walk through, optionally for some teams and until a date."""

    name: str
    polygon: tuple[tuple[float, float], ...]
    teams: tuple[str, ...] = ()
    until: dt.date | None = None
    reason: str = ""


@dataclass(frozen=True)
class PlanConfig:
    """A whole plan: the city, its inputs, the teams and the solver settings."""

    source: Path
    city: CityConfig
    incidents: IncidentConfig
    network: NetworkConfig
    territories: TerritoryConfig
    teams: tuple[TeamConfig, ...]
    hotspots: HotspotConfig = field(default_factory=HotspotConfig)
    requests: RequestConfig = field(default_factory=RequestConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    response: ResponseConfig = field(default_factory=ResponseConfig)
    followup: FollowupConfig = field(default_factory=FollowupConfig)
    no_go_zones: tuple[NoGoZoneConfig, ...] = ()
    service: ServiceConfig = field(default_factory=ServiceConfig)


_SERVICE_COUNTS = ("connections_per_address", "checkins_per_minute", "checkins_burst",
                   "checkins_per_day", "failed_logins", "streams_per_account",
                   "call_changes_per_minute")  # fmt: skip


def default_config_path() -> Path:
    """Return the bundled Philadelphia config, found beside the source checkout."""
    return Path(__file__).resolve().parents[2] / "data" / "philadelphia" / "plan.toml"


def load_config(path: str | Path | None = None) -> PlanConfig:
    """Read and validate a plan config.

    Parameters
    ----------
    path
        A TOML file; the bundled Philadelphia config when omitted.

    Returns
    -------
    PlanConfig

    Raises
    ------
    ConfigError
        Listing every problem found, each with the table and key and how to fix it.
    """
    path, raw = _read_toml(path)
    reader = _Reader(path)
    config = reader.plan(raw)
    if reader.problems:
        raise ConfigError(*(f"{path}: {problem}" for problem in reader.problems))
    assert config is not None
    return config


def load_service_config(path: str | Path | None = None) -> ServiceConfig:
    """Read and check the ``[service]`` table of a config (the bundled one when omitted): the
    service needs none of the plan's input files, so the rest is not checked here."""
    path, raw = _read_toml(path)
    reader = _Reader(path)
    service = reader.service(raw.get("service", {}))
    if reader.problems:
        raise ConfigError(*(f"{path}: {problem}" for problem in reader.problems))
    assert service is not None
    return service


def _number(value: Any) -> bool:
    """An int or a float, not a bool (TOML's ``true`` is an int to Python)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    """An int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _read_toml(path: str | Path | None) -> tuple[Path, dict[str, Any]]:
    path = Path(path) if path is not None else default_config_path()
    if not path.is_file():
        raise ConfigError(f"config file {path} not found: pass an existing file with --config")
    try:
        return path, tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax at that line") from exc


class _Reader:
    """Turns TOML tables into dataclasses, collecting problems instead of stopping at one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent
        self.problems: list[str] = []
        self.crs_unfit = 0  # 1 + the index of a [city] crs problem still to be given its hint

    def plan(self, raw: dict[str, Any]) -> PlanConfig | None:
        known = {
            "city",
            "incidents",
            "network",
            "territories",
            "teams",
            "hotspots",
            "requests",
            "routing",
            "response",
            "followup",
            "no_go_zones",
            "service",
        }
        for key in raw.keys() - known:
            self.problems.append(f"unknown table [{key}]; known tables: {', '.join(sorted(known))}")
        city = self.build(
            CityConfig, raw.get("city"), "[city]", paths={"limits"}, tuples={"safety_card"}
        )
        if city is not None:
            self.check_city(city)
        incidents = self.build(
            IncidentConfig,
            raw.get("incidents"),
            "[incidents]",
            paths={"path"},
            tuples={"filter_contains"},
        )
        if incidents is not None and incidents.decimal not in (None, ".", ","):
            self.problems.append(
                f'[incidents] `decimal` = {incidents.decimal!r}: use "." (39.97) or "," (39,97)'
            )
        if incidents is not None and incidents.rows not in ("victims", "incidents"):
            self.problems.append(
                f'[incidents] `rows` = {incidents.rows!r}: use "victims" (rows sharing an id '
                'are one incident) or "incidents" (each row is an incident)'
            )
        network = self.build(
            NetworkConfig,
            raw.get("network"),
            "[network]",
            paths={"path"},
            tuples={"drop_classes", "local_classes", "exclude"},
        )
        unknown = [n for n in network.exclude if n not in EXCLUDABLE] if network else []
        if unknown:
            self.problems.append(
                f"[network] `exclude`: {', '.join(map(repr, unknown))} unknown; use any of "
                f"{', '.join(EXCLUDABLE)} (docs/config.md says what each leaves out)"
            )
        territories = self.build(
            TerritoryConfig, raw.get("territories"), "[territories]", paths={"path"}
        )
        if city is not None and territories is not None and self.crs_unfit:
            self.problems[self.crs_unfit - 1] += _crs_hint(territories.path)
        hotspots = self.build(
            HotspotConfig, raw.get("hotspots", {}), "[hotspots]", tuples={"bandwidth_m"}
        )
        if hotspots is not None:
            widths = hotspots.bandwidth_m
            widths = widths if isinstance(widths, tuple) else (widths,)
            if not widths or not all(_number(w) and w > 0 for w in widths):
                self.problems.append(
                    f"[hotspots] `bandwidth_m` = {hotspots.bandwidth_m!r}: give metres, one "
                    "number (110) or a list ([60, 85, 110, 150])"
                )
            blend = hotspots.count_blend
            if not _number(blend) or not 0 <= blend <= 1:
                self.problems.append(
                    f"[hotspots] `count_blend` = {blend!r}: give a share from 0 to 1"
                )
        requests = self.build(RequestConfig, raw.get("requests", {}), "[requests]", paths={"path"})
        routing = self.routing(raw.get("routing", {}))
        response = self.build(ResponseConfig, raw.get("response", {}), "[response]")
        followup = self.build(FollowupConfig, raw.get("followup", {}), "[followup]")
        boost = followup.boost if followup is not None else 0
        if not _number(boost) or boost < 0:
            self.problems.append(f"[followup] `boost` = {boost!r}: give a share, 0 or more")
            followup = None
        service = self.service(raw.get("service", {}))
        if network is not None and network.cache_dir is not None:
            network = replace(network, cache_dir=(self.base / network.cache_dir).resolve())
        teams = self.teams(raw.get("teams"))
        zones = self.zones(raw.get("no_go_zones", []))
        parts = (city, incidents, network, territories, hotspots, requests, routing, response)
        parts += (teams, service, followup)
        if any(p is None for p in parts):
            return None
        return PlanConfig(
            source=self.path,
            city=city,
            incidents=incidents,
            network=network,
            territories=territories,
            teams=teams,
            hotspots=hotspots,
            requests=requests,
            routing=routing,
            response=response,
            followup=followup,
            no_go_zones=zones,
            service=service,
        )

    def routing(self, raw: Any) -> RoutingConfig | None:
        routing = self.build(RoutingConfig, raw, "[routing]")
        if routing is None:
            return None
        loops, share, gap = routing.loops, routing.revisit_share, routing.revisit_gap_min
        problems = []
        if not _whole(loops) or not 1 <= loops <= 4:
            problems.append(f"`loops` = {loops!r}: give a whole number from 1 to 4 (1: one tour)")
        if not _number(share) or not 0 <= share <= 1:
            problems.append(f"`revisit_share` = {share!r}: give a share from 0 to 1")
        if not _number(gap) or gap < 0:
            problems.append(f"`revisit_gap_min` = {gap!r}: give minutes, 0 or more")
        reach, pull = routing.presence_m, routing.risky_streets
        if not _number(reach) or not reach > 0:
            problems.append(f"`presence_m` = {reach!r}: give metres, more than 0")
        if not _number(pull) or not 0 <= pull < 1:
            problems.append(
                f"`risky_streets` = {pull!r}: give a share from 0 (shortest streets) to below 1"
            )
        passing, corners = routing.pass_by, routing.pass_corners
        if not _number(passing) or not 0 <= passing <= 1:
            problems.append(f"`pass_by` = {passing!r}: give a share from 0 (none) to 1")
        if not _whole(corners) or corners < 0:
            problems.append(f"`pass_corners` = {corners!r}: give a whole number, 0 or more")
        least = routing.min_night_stops
        if not _whole(least) or least < 0:
            problems.append(f"`min_night_stops` = {least!r}: give a whole number, 0 or more")
        workers = routing.workers
        if workers is not None and (not _whole(workers) or workers < 1):
            problems.append(
                f"`workers` = {workers!r}: give a whole number of processes, 1 or more "
                "(leave it out for one per core)"
            )
        self.problems += [f"[routing] {p}" for p in problems]
        return None if problems else routing

    def service(self, raw: Any) -> ServiceConfig | None:
        service = self.build(ServiceConfig, raw, "[service]")
        if service is None:
            return None
        good = True
        for key, least in (("keep_positions_days", 1), ("keep_days", 182)):
            value = getattr(service, key)
            if not _whole(value) or value < least:
                self.problems.append(
                    f"[service] `{key}` = {value!r}: give a whole number of days, at least "
                    f"{least}" + (" (26 weeks)" if least == 182 else "")
                )
                good = False
        limits = {"max_header_kb": (1, 64), "header_timeout_s": (1, 60),
                  "body_timeout_s": (1, 300), "keep_alive_s": (1, 30),
                  "stream_keep_alive_s": (1, 60)}  # fmt: skip
        for key in _SERVICE_COUNTS + tuple(limits):
            value = getattr(service, key)
            least, most = limits.get(key, (1, None))
            if not _whole(value) or value < least or (most is not None and value > most):
                self.problems.append(
                    f"[service] `{key}` = {value!r}: give a whole number, at least {least}"
                    + (f" and at most {most}" if most is not None else "")
                )
                good = False
        for key in ("scene_answer_min", "scene_give_up_min"):
            value = getattr(service, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                self.problems.append(
                    f"[service] `{key}` = {value!r}: give minutes above 0 (fractions allowed, "
                    "e.g. 0.1 for 6 s)"
                )
                good = False
        if good and service.scene_give_up_min < service.scene_answer_min:
            self.problems.append(
                f"[service] `scene_give_up_min` = {service.scene_give_up_min} is below "
                f"`scene_answer_min` = {service.scene_answer_min}; give at least as many"
            )
            good = False
        if good and service.checkins_burst < service.checkins_per_minute:
            self.problems.append(
                f"[service] `checkins_burst` = {service.checkins_burst} is below "
                f"`checkins_per_minute` = {service.checkins_per_minute}; give at least as many"
            )
            good = False
        return service if good else None

    def build(
        self,
        cls: type,
        values: Any,
        where: str,
        *,
        paths: set[str] = frozenset(),
        tuples: set[str] = frozenset(),
    ) -> Any:
        """Build ``cls`` from one TOML table, recording each problem with its place."""
        if values is None:
            self.problems.append(f"missing table {where}; see docs/config.md for its keys")
            return None
        if not isinstance(values, dict):
            self.problems.append(f"{where} must be a table of key = value pairs")
            return None
        fields = cls.__dataclass_fields__
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in fields:
                self.problems.append(
                    f"{where}: unknown key `{key}`; known keys: {', '.join(fields)}"
                )
                continue
            if key in paths:
                value = (self.base / value).resolve()
                if not value.exists():
                    self.problems.append(
                        f"{where} `{key}`: file {value} not found; give a path relative to "
                        f"{self.base}"
                    )
                    continue
            elif key in tuples and isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        missing = [
            name
            for name, f in fields.items()
            if name not in kwargs and f.default is MISSING and f.default_factory is MISSING
        ]
        reported = {p.split("`")[1] for p in self.problems if p.startswith(where) and "`" in p}
        for name in missing:
            if name not in reported:
                self.problems.append(f"{where}: missing key `{name}`")
        if missing:
            return None
        try:
            return cls(**kwargs)
        except TypeError as exc:  # pragma: no cover - guarded by the checks above
            self.problems.append(f"{where}: {exc}")
            return None

    def check_city(self, city: CityConfig) -> None:
        try:
            ZoneInfo(city.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.problems.append(
                f"[city] `timezone`: {city.timezone!r} is not an IANA time zone; "
                "use a name like 'America/New_York'"
            )
        try:
            crs = CRS.from_user_input(city.crs)
        except Exception:  # pyproj raises its own CRSError
            self.problems.append(f"[city] `crs`: {city.crs!r} is not a CRS pyproj knows")
            return
        unit = crs.axis_info[0].unit_name if crs.axis_info else ""
        if not crs.is_projected or unit not in ("metre", "meter"):
            self.problems.append(
                f"[city] `crs`: {city.crs} must be a projected CRS in metres, such as the "
                "city's UTM zone"
            )
            self.crs_unfit = len(self.problems)  # the hint is added once territories are read

    def teams(self, raw: Any) -> tuple[TeamConfig, ...] | None:
        if not raw:
            self.problems.append("no [[teams]] given; add at least one team (see docs/config.md)")
            return None
        teams = []
        for i, table in enumerate(raw, start=1):
            where = f"[[teams]] #{i}"
            table = dict(table)
            if "nights" in table:
                nights = tuple(str(n).lower()[:3] for n in table["nights"])
                bad = [n for n in nights if n not in WEEKDAYS]
                if bad:
                    self.problems.append(
                        f"{where} `nights`: {bad} are not weekdays; use {', '.join(WEEKDAYS)}"
                    )
                table["nights"] = nights
            for key in ("shift_start", "shift_end"):
                if key in table:
                    table[key] = self.clock(table[key], where, key)
            if "base" in table:
                table["base"] = self.latlon(table["base"], where, "base")
            if isinstance(table.get("territory"), list):
                table["territory"] = tuple(map(str, table["territory"]))
            for key in ("walk_speed_kmh", "dwell_min"):
                if key in table and not (isinstance(table[key], int | float) and table[key] > 0):
                    self.problems.append(f"{where} `{key}` must be a positive number")
            team = self.build(TeamConfig, table, where)
            if team is not None:
                teams.append(team)
                clocks_ok = isinstance(team.shift_start, dt.time) and isinstance(
                    team.shift_end, dt.time
                )
                if clocks_ok and team.shift_minutes < team.dwell_min:
                    self.problems.append(
                        f"{where} `shift_start`/`shift_end`: the shift ({team.shift_minutes:g} "
                        f"min) is shorter than one stop (`dwell_min` = {team.dwell_min:g})"
                    )
        names = [t.name for t in teams]
        for name in {n for n in names if names.count(n) > 1}:
            self.problems.append(f"[[teams]]: the name {name!r} is used twice; names must differ")
        return tuple(teams)

    def zones(self, raw: Any) -> tuple[NoGoZoneConfig, ...]:
        zones = []
        for i, table in enumerate(raw, start=1):
            where = f"[[no_go_zones]] #{i}"
            table = dict(table)
            ring = table.get("polygon")
            if not (isinstance(ring, list) and len(ring) >= 3):
                self.problems.append(
                    f"{where} `polygon`: give at least three [lon, lat] corners, "
                    "e.g. [[-75.13, 40.00], [-75.12, 40.00], [-75.12, 40.01]]"
                )
                continue
            table["polygon"] = tuple(tuple(map(float, p)) for p in ring)
            table["teams"] = tuple(table.get("teams", ()))
            if "until" in table and not isinstance(table["until"], dt.date):
                self.problems.append(f"{where} `until` must be a date like 2023-02-01")
                continue
            zone = self.build(NoGoZoneConfig, table, where)
            if zone is not None:
                zones.append(zone)
        return tuple(zones)

    def clock(self, value: Any, where: str, key: str) -> dt.time | None:
        if isinstance(value, dt.time):
            return value
        try:
            return dt.time.fromisoformat(str(value))
        except ValueError:
            self.problems.append(f'{where} `{key}`: {value!r} is not a time; write it as "18:00"')
            return None

    def latlon(self, value: Any, where: str, key: str) -> tuple[float, float] | None:
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) for v in value)
            and -90 <= value[0] <= 90
            and -180 <= value[1] <= 180
        )
        if not ok:
            hint = ""
            if _swapped_pair(value):
                hint = f": it looks swapped (longitude first); write [{value[1]}, {value[0]}]"
            self.problems.append(f"{where} `{key}`: {value!r} must be [lat, lon] in degrees{hint}")
            return None
        return (float(value[0]), float(value[1]))


def _crs_hint(territories: Path) -> str:
    """The CRS to use, from where the territories file lies: "; the UTM zone of this city
    (45.5150, -122.6600 (lat, lon)) is 'EPSG:32610'" (empty when the file cannot be read: its
    own problem is reported when the plan reads it)."""
    from ._io import read_vector
    from .projection import suggestion

    try:
        west, south, east, north = (
            read_vector(territories, what="territories").to_crs("EPSG:4326").total_bounds
        )
    except Exception:  # any unreadable file: no hint here; its own problem comes later
        return ""
    return f"; {suggestion((west + east) / 2, (south + north) / 2)}"


def _swapped_pair(value: Any) -> bool:
    """Whether ``[lat, lon]`` was written ``[lon, lat]``: the first number is no latitude, both
    read the other way round are."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) for v in value)
        and not -90 <= value[0] <= 90
        and -90 <= value[1] <= 90
        and -180 <= value[0] <= 180
    )
