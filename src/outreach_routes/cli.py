"""The ``outreach-routes`` command.

Exit codes: 0 done; 2 bad input (config or data: one line saying what, where and how to fix);
3 a stage failed on valid input (details in the traceback).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from ._errors import InputDataError
from ._io import dumps_json

# Arrow's own allocator (mimalloc) keeps about 35 MB more resident than the system's for the
# Parquet files a plan reads, with no measurable gain in speed here (benchmarks/plan_city.py).
# Set before pyarrow loads; a user's own ARROW_DEFAULT_MEMORY_POOL wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Plan weekly walking routes for violence-interrupter teams.",
)

EXIT_BAD_INPUT = 2
EXIT_STAGE_FAILED = 3
EXIT_LOCKED = 4
EXIT_TERMINATED = 143  # SIGTERM: the run stopped, nothing visible changed


@app.callback()
def _main() -> None:
    """Plan weekly walking routes for violence-interrupter teams."""


@app.command()
def plan(
    config: Annotated[
        Path | None, typer.Option(help="Plan config (TOML); default: bundled Philadelphia plan.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder, replaced when the run succeeds; default: out."),
    ] = None,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            help="For the weekly job, instead of --out: write DIR/<ISO week>/, a change report "
            "against the week before, DIR/latest and DIR/index.html."
        ),
    ] = None,
    week_of: Annotated[
        str | None,
        typer.Option(
            "--week-of",
            help="Any day of the plan week, YYYY-MM-DD; default: the week after the last incident.",
        ),
    ] = None,
    night: Annotated[
        str | None,
        typer.Option(
            "--night",
            help="Nightly re-plan, YYYY-MM-DD: keep the week's earlier nights as the plan in the "
            "folder has them; re-plan this night and the rest with a response stop for each new "
            "shooting before the night's first shift.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print only errors.")] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Maps that open with no connection: JavaScript and CSS inline, the street "
            "network drawn instead of map tiles.",
        ),
    ] = False,
    assets: Annotated[
        Path | None,
        typer.Option(
            help="With --offline: the node_modules folder to inline from; default: the "
            "project's assets/ (make test installs it) or $OUTREACH_ROUTES_ASSETS."
        ),
    ] = None,
) -> None:
    """Plan a week for every team and write the maps, sheets, GPX and plan.json."""
    from ._assets import assets_dir
    from .pipeline import plan_week, write_plan  # imported here so --help stays fast
    from .runs import RunLocked, check_out_and_runs, read_plan_json, run_week

    started = time.perf_counter()

    def say(message: str) -> None:
        if not quiet:
            typer.echo(f"[{time.perf_counter() - started:5.1f} s] {message}", err=True)

    try:
        day = dt.date.fromisoformat(week_of) if week_of else None
    except ValueError:
        _fail(f"--week-of {week_of!r} is not a date; write it as YYYY-MM-DD, e.g. 2023-01-02")
    try:
        tonight = dt.date.fromisoformat(night) if night else None
    except ValueError:
        _fail(f"--night {night!r} is not a date; write it as YYYY-MM-DD, e.g. 2023-01-04")
    if tonight and day:
        _fail("give --night or --week-of, not both: --night names its week")
    try:
        check_out_and_runs(out, runs_dir)
        modules = assets_dir(assets) if offline else None  # before the work, not after
        if runs_dir is not None:
            result, folder = run_week(
                config,
                runs_dir,
                week_of=day,
                offline=offline,
                assets=modules,
                progress=say,
                night=tonight,
            )
        else:
            folder = out or Path("out")
            revised = read_plan_json(folder) if tonight else None
            result = plan_week(
                config, week_of=day, progress=say, night=tonight, previous=revised, reuse=folder
            )
            say("writing maps ...")
            folder = write_plan(result, out or Path("out"), offline=offline, assets=modules)
    except RunLocked as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_LOCKED) from None
    except InputDataError as exc:
        _fail(exc)
    for note in result.notes:
        say(f"note: {note}")
    n_routes = len(result.routes)
    table = result.incidents
    say(
        f"week of {result.week_start.date()}: {len(result.teams)} teams, {n_routes} routes; "
        f"rows read {table.rows_read}, used {table.rows_used}, rejected {table.rows_rejected} "
        f"(see rejects.csv); {len(result.unserved)} request(s) not served"
    )
    if not quiet:
        typer.echo(str(folder / "index.html"))


@app.command()
def validate(
    config: Annotated[
        Path | None, typer.Option(help="Plan config (TOML); default: bundled Philadelphia plan.")
    ] = None,
) -> None:
    """Check every input of a plan and report every problem at once (exit 0 clean, 2 not)."""
    from .pipeline import validate_inputs

    problems, notes = validate_inputs(config)
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(EXIT_BAD_INPUT)
    typer.echo(f"ok: {config or 'bundled config'} is ready to plan")


@app.command()
def backtest(
    test_from: Annotated[str, typer.Option(help="First test week (its Monday on or after).")],
    test_to: Annotated[str, typer.Option(help="Last test Monday, YYYY-MM-DD.")],
    config: Annotated[
        Path | None, typer.Option(help="Plan config (TOML); default: bundled Philadelphia plan.")
    ] = None,
    weekly_csv: Annotated[Path | None, typer.Option(help="Write the weekly scores here.")] = None,
) -> None:
    """Backtest the hotspot model against simple baselines, week by week."""
    import pandas as pd

    from . import backtest as bt
    from .config import load_config
    from .incidents import load_incidents

    try:
        cfg = load_config(config)
        start, end = pd.Timestamp(test_from), pd.Timestamp(test_to)
        table = load_incidents(cfg.incidents, crs=cfg.city.crs, timezone=cfg.city.timezone)
        scores = bt.backtest_city(cfg, table.incidents, test_from=start, test_to=end)
    except (InputDataError, ValueError) as exc:
        _fail(exc)
    _report(scores, bt.summarise, weekly_csv, f"no test week between {test_from} and {test_to}")


@app.command()
def where(
    plan: Annotated[
        Path, typer.Option(help="A plan's plan.json, or the folder `plan` wrote.")
    ] = Path("out"),
    at: Annotated[
        str | None,
        typer.Option(help="Time, YYYY-MM-DDTHH:MM in the city's time zone; default: now."),
    ] = None,
    near: Annotated[
        str,
        typer.Option(
            help='Where help is needed: "lat,lon", or a corner like "Lake St & Chicago Ave".'
        ),
    ] = ...,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other programs.")] = False,
) -> None:
    """Which team is nearest, at a given time: ranked by walking time over the streets."""

    from .schedule import OFF_NETWORK_M, load_schedule, local_time, nearest_teams

    try:
        schedule = load_schedule(plan)
        when = at or dt.datetime.now(schedule.timezone).isoformat(timespec="minutes")
        rows = nearest_teams(schedule, when, near)
    except InputDataError as exc:
        _fail(exc)
    if as_json:
        keys = ("team", "on_shift", "position", "next_stop", "walk_min", "contact")
        keys += ("off_network_m",)
        out = [{**{k: r[k] for k in keys}, "next_shift_start": r["next_shift_start"]} for r in rows]
        typer.echo(dumps_json(out), nl=False)
        return
    local = local_time(schedule, when)
    typer.echo(f"{local:%a %d %b %Y %H:%M} ({schedule.timezone.key}), near {near}")
    gap = rows[0]["off_network_m"] if rows else 0
    if gap > OFF_NETWORK_M:
        typer.echo(
            f"warning: {near} is {gap / 1000:.1f} km from the nearest street of this plan's "
            "walking network: the walking times below start from that street; check the place",
            err=True,
        )
    on = [r for r in rows if r["on_shift"]]
    if not on:
        typer.echo("No team is on shift at this time.")
    for rank, r in enumerate(on, start=1):
        walk = f"{r['walk_min']:.0f} min on foot" if r["walk_min"] is not None else "no street path"
        stop = r["next_stop"] or {}
        stop = f" ({stop['corner'] or stop['label']})" if stop else ""
        typer.echo(f"{rank}. {r['team']}: {walk}; {r['status']}{stop}; contact {r['contact']}")
    for r in rows:
        if not r["on_shift"]:
            nxt = r["next_shift_start"]
            when_next = (
                f"next shift {dt.datetime.fromisoformat(nxt):%a %d %b %H:%M}"
                if nxt
                else "no more shifts in this plan's week"
            )
            typer.echo(f"   {r['team']}: off shift, {when_next}; contact {r['contact']}")


@app.command()
def streets(
    config: Annotated[
        Path | None, typer.Option(help="Plan config (TOML); default: bundled Philadelphia plan.")
    ] = None,
    near: Annotated[
        str | None,
        typer.Option(help='List the corners near this place, "lat,lon".'),
    ] = None,
    radius_m: Annotated[float, typer.Option(help="With --near: how far to look, metres.")] = 300.0,
    match: Annotated[
        str | None, typer.Option(help="Only streets whose name contains this (any case).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other programs.")] = False,
) -> None:
    """The street names of the plan's walking network, or its corners near a place or on a
    street: what you need to choose a base or write a corner request."""

    from .config import load_config
    from .network import list_corners, list_streets, load_network

    try:
        cfg = load_config(config)
        point = None
        if near is not None:
            try:
                lat, lon = (float(v) for v in near.split(","))
            except ValueError:
                raise InputDataError(
                    f'--near {near!r}: give "lat,lon", e.g. "44.9985,-93.2968"'
                ) from None
            point = (lat, lon)
        graph, _ = load_network(cfg.network, crs=cfg.city.crs)
    except InputDataError as exc:
        _fail(exc)
    if point is None and not match:
        table = list_streets(graph)
        what = "street names (km walkable)"
    elif point is None:
        table = list_streets(graph, match=match)
        corners = list_corners(graph, match=match)
        what = f"streets matching {match!r}"
    else:
        table = list_corners(graph, near=point, radius_m=radius_m, match=match)
        what = f"corners within {radius_m:g} m of {near}"
    if table.empty and (point is not None or match) and list_streets(graph).empty:
        _fail(f"{cfg.network.path or cfg.network.place}: the network has no street names")
    if as_json:
        payload = table.to_dict(orient="records")
        if point is None and match:
            payload = {"streets": payload, "corners": corners.to_dict(orient="records")}
        typer.echo(dumps_json(payload), nl=False)
        return
    if table.empty:
        typer.echo(f"no {what}" if match or point else "this network has no street names")
        return
    typer.echo(f"{len(table)} {what}:")
    for row in table.itertuples():
        if point is not None:
            typer.echo(f"  {row.corner}  ({row.lat:.5f}, {row.lon:.5f}), {row.metres} m")
        else:
            typer.echo(f"  {row.name}  {row.km:.2f} km")
    if point is None and match:
        typer.echo(f"{len(corners)} corners on them:")
        for row in corners.itertuples():
            typer.echo(f"  {row.corner}  ({row.lat:.5f}, {row.lon:.5f})")


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Folder for plan.toml (created when missing).")],
    incidents: Annotated[
        Path, typer.Option(help="The city's shooting export (CSV, GeoJSON, Parquet, ...).")
    ] = ...,
    streets: Annotated[
        Path,
        typer.Option(help="An OpenStreetMap extract (.osm.pbf, ...) or a centerline file."),
    ] = ...,
    territories: Annotated[
        Path | None,
        typer.Option(help="The program's own areas (polygons); default: cut from the data."),
    ] = None,
    teams: Annotated[
        int | None,
        typer.Option(
            help="How many teams: territories cut from the data (default 4), or the areas of "
            "--territories grouped into this many (default: one team per area)."
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="The city's name, for map titles.")] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="The city's IANA time zone, when the lookup from its streets fails."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing plan.toml.")] = False,
) -> None:
    """Propose a working config for a new city from its shooting export and its streets:
    FOLDER/plan.toml (every choice commented) and FOLDER/setup.html, a map to check it on."""
    from .newcity import CityFiles, init_city

    given = CityFiles(incidents, streets, territories, teams, name, timezone)
    try:
        result = init_city(folder, given, force=force, progress=lambda m: typer.echo(m, err=True))
    except InputDataError as exc:
        _fail(exc)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    for line in result.chosen:
        typer.echo(f"chose {line}", err=True)
    for problem in result.problems:
        typer.echo(f"error: {problem}", err=True)
    config = result.config
    typer.echo(f"wrote {config} and {result.setup}: open setup.html to check the proposal")
    if result.problems:
        typer.echo(
            f"fix the errors above in {config}, then: outreach-routes validate --config {config}"
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    typer.echo(f"ok: {config} is ready to plan. Next:")
    typer.echo(f"  outreach-routes plan --config {config} --out {config.parent / 'out'}")
    typer.echo(f'  outreach-routes streets --config {config} --near "LAT,LON"   # to move a base')
    typer.echo(
        f"  0 6 * * 1  outreach-routes plan --config {config.resolve()} "
        f"--runs-dir {config.parent.resolve() / 'runs'} --quiet   # cron: every Monday 06:00"
    )


@app.command("route-backtest")
def route_backtest_command(
    config: Annotated[
        Path | None, typer.Option(help="Plan config (TOML); default: bundled Philadelphia plan.")
    ] = None,
    date_from: Annotated[str, typer.Option("--from", help="First Monday, YYYY-MM-DD.")] = ...,
    date_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = ...,
    serial: Annotated[
        bool, typer.Option("--serial", help="Run the weeks here, one by one.")
    ] = False,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler; default: local.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Local Dask worker processes.")] = 2,
    cache: Annotated[
        Path, typer.Option(help="Finished weeks are kept here; a rerun resumes from them.")
    ] = Path(".route-backtest"),
    radius_m: Annotated[float, typer.Option(help="Near a route means within this.")] = 150.0,
    csv: Annotated[Path | None, typer.Option(help="Write the weekly rows here.")] = None,
    nightly: Annotated[
        bool,
        typer.Option(
            "--nightly",
            help="Also re-plan each night from the data before its shift, as `plan --night` "
            "does (method `nightly`; about six plans a week).",
        ),
    ] = False,
) -> None:
    """Did the routes go where the shootings happened? Plan each week from the data before
    it and score the week's shootings against the routes and two baselines."""
    from .config import default_config_path
    from .route_backtest import route_backtest, summarise_routes

    try:
        frame = route_backtest(
            config or default_config_path(),
            date_from,
            date_to,
            serial=serial,
            scheduler=scheduler,
            workers=workers,
            cache_dir=cache,
            radius_m=radius_m,
            progress=lambda m: typer.echo(m, err=True),
            nightly=nightly,
        )
    except (InputDataError, ValueError) as exc:
        _fail(exc)
    _report(frame, summarise_routes, csv, f"no Monday between {date_from} and {date_to}")


def _report(weekly, summarise, csv: Path | None, nothing: str) -> None:
    """Print a backtest's summary table; the weekly rows go to ``csv`` when asked."""
    if weekly.empty:
        _fail(f"{nothing}; widen the range")
    if csv:
        weekly.to_csv(csv, index=False)
    typer.echo(summarise(weekly).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


users_app = typer.Typer(
    no_args_is_help=True, help="Accounts of the service (`serve`): add, list, revoke, login links."
)
app.add_typer(users_app, name="users")

RunsDir = Annotated[
    Path | None, typer.Option(help="The runs folder the service serves (its database inside).")
]
DbFile = Annotated[
    Path | None, typer.Option("--db", help="The service's database; default DIR/service.sqlite3.")
]


def _store(runs_dir: Path | None, db: Path | None):
    from .service.store import Store

    if db is None and runs_dir is None:
        _fail("give --runs-dir DIR (the database is DIR/service.sqlite3) or --db FILE")
    try:
        return Store(db or runs_dir / "service.sqlite3")
    except InputDataError as exc:
        _fail(exc)


def _now() -> dt.datetime:
    from .service.app import now

    return now()


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="A name for the account (a person or a phone).")],
    role: Annotated[str, typer.Option(help="coordinator, dispatch or team.")],
    team: Annotated[
        str | None, typer.Option(help="For a team account: the team's name in the plan.")
    ] = None,
    runs_dir: RunsDir = None,
    db: DbFile = None,
    reuse: Annotated[
        bool, typer.Option("--reuse", help="Give a revoked account's name a new account.")
    ] = False,
) -> None:
    """Add an account; its token is printed once, alone on the last line, and never stored.
    A team account's --team must be a team of the latest plan in --runs-dir."""
    if team is not None:
        _check_team(team, runs_dir)
    store = _store(runs_dir, db)
    try:
        token = store.add_user(name, role, team, _now(), reuse=reuse)
    except InputDataError as exc:
        _fail(exc)
    typer.echo(f"added {role} account {name!r}; its token (shown only now):")
    typer.echo(token)


def _check_team(team: str, runs_dir: Path | None) -> None:
    """Fail unless ``team`` is a team of the latest plan in ``runs_dir``."""
    from .runs import latest_run

    latest = latest_run(runs_dir) if runs_dir is not None and runs_dir.is_dir() else None
    if latest is None:
        _fail("a team account is checked against the latest plan: give --runs-dir DIR of "
              "`plan --runs-dir`, after its first plan")  # fmt: skip
    teams = dict.fromkeys(
        r["team"] for r in json.loads((latest / "plan.json").read_text("utf-8"))["teams"]
    )
    if team not in teams:
        _fail(f"--team {team!r} is not a team of the latest plan ({latest.name}); its teams: "
              f"{', '.join(teams)}")  # fmt: skip


@users_app.command("list")
def users_list(runs_dir: RunsDir = None, db: DbFile = None) -> None:
    """Every account with its role, team and state (no tokens: they are not kept)."""
    for user in _store(runs_dir, db).users():
        state = f"revoked {user['revoked_at'][:16]}" if user["revoked_at"] else "active"
        team = f" ({user['team']})" if user["team"] else ""
        typer.echo(f"{user['name']}: {user['role']}{team}, {state}")


@users_app.command("revoke")
def users_revoke(name: str, runs_dir: RunsDir = None, db: DbFile = None) -> None:
    """Revoke an account: its token and sessions stop working at once."""
    try:
        _store(runs_dir, db).revoke(name, _now())
    except InputDataError as exc:
        _fail(exc)
    typer.echo(f"revoked {name!r}")


@users_app.command("link")
def users_link(
    name: str,
    base_url: Annotated[
        str, typer.Option(help="Where people reach the service, e.g. https://routes.example.org")
    ],
    runs_dir: RunsDir = None,
    db: DbFile = None,
) -> None:
    """A one-time login link for a browser (valid 15 minutes; the code is in the #fragment)."""
    try:
        code = _store(runs_dir, db).login_code(name, _now())
    except InputDataError as exc:
        _fail(exc)
    typer.echo(f"{base_url.rstrip('/')}/login#code={code}")


@app.command()
def serve(
    runs_dir: Annotated[Path, typer.Option(help="The runs folder of `plan --runs-dir`.")],
    db: DbFile = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="The reverse proxy's address(es): only then are X-Forwarded-For and "
            "X-Forwarded-Proto believed (for the client address of login rate limits)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Config whose [service] table sets how long positions and check-ins are "
            "kept; default: the bundled one."
        ),
    ] = None,
) -> None:
    """Serve the latest run to dispatch, teams and coordinators (see README: Service)."""
    from .config import load_service_config
    from .service.app import create_app
    from .service.server import run

    try:
        settings = load_service_config(config)
        application = create_app(runs_dir, db, keep=settings)
    except InputDataError as exc:  # a ConfigError too
        _fail(exc)
    run(application, settings, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips)


@app.command()
def report(
    runs_dir: Annotated[Path, typer.Option(help="The runs folder of `plan --runs-dir`.")],
    week: Annotated[
        str | None, typer.Option(help="The ISO week to report on, e.g. 2023-W01.")
    ] = None,
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="Instead: the public summary of every week at least two weeks old "
            "(DIR/reports/public/), for a council or the press.",
        ),
    ] = False,
    db: DbFile = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Config whose incident file has the week's shootings; default: bundled."),
    ] = None,
) -> None:
    """What was done against what was planned: a week's dosage from the teams' check-ins
    (DIR/reports/<week>/report.html and report.json), or with --public a summary to publish."""
    from .report import write_public, write_report
    from .runs import WEEK_FOLDER, RunLocked

    if public == (week is not None):
        _fail("give --week 2023-W01 for the coordinators' report, or --public (not both)")
    if week is not None and not WEEK_FOLDER.match(week):
        _fail(f"--week {week!r}: give an ISO week such as 2023-W01")
    try:
        if public:
            path = write_public(runs_dir, _now().date(), db)
        else:
            path = write_report(runs_dir, week, db, config)
    except InputDataError as exc:
        _fail(exc)
    except RunLocked as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_LOCKED) from None
    typer.echo(f"wrote {path}")


@app.command("backup-db")
def backup_db(
    to: Annotated[Path, typer.Option(help="The copy to write (replaced if it exists).")],
    runs_dir: RunsDir = None,
    db: DbFile = None,
) -> None:
    """Copy the service's database with SQLite's online backup: safe while it serves."""
    from .service.store import backup

    store = _store(runs_dir, db)
    partial = to.with_name(f".{to.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # never readable
    backup(store.path, partial)
    partial.replace(to)
    typer.echo(f"backed up {store.path} to {to}")


def _fail(message: str | Exception) -> None:
    """Print each problem on its own ``error:`` line and exit with code 2."""
    problems = message.problems if isinstance(message, InputDataError) else [str(message)]
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def main() -> None:
    """Entry point of the console script."""
    # A run told to stop (cron's timeout, systemd, kill) unwinds like an error: the half-written
    # folder and the lock are removed, and what was published before stays.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_TERMINATED))
    # What a command creates is its user's alone (files 0600, folders 0700): the database and
    # its WAL hold live positions, and runs, reports and backups the teams' nights (issue 34).
    os.umask(0o077)
    try:
        app()
    except Exception as exc:  # a stage failed on input that passed validation: a bug
        import tempfile
        import traceback

        details = Path(tempfile.gettempdir()) / f"outreach-routes-failure-{os.getpid()}.txt"
        details.write_text(traceback.format_exc(), encoding="utf-8")
        typer.echo(
            f"error: outreach-routes failed inside ({type(exc).__name__}: {exc}); no output was "
            f"changed. This is a bug: please report it with the details in {details}",
            err=True,
        )
        sys.exit(EXIT_STAGE_FAILED)


if __name__ == "__main__":
    main()
